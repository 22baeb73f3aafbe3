// Per-direction evidence at the firewall, on a real lab: the named nftables
// counters of harness/firewall/ruleset.ts move the way the traffic goes. Two
// asa-ips variants side by side: natt (UDP 4500 forwarded, the proxy never
// touched) and ctcp-no-loss (cTCP redirected to the proxy, so it shows at the
// proxy's input/output, not in forward).
import { expect } from "chai";
import * as path from "node:path";
import { sumCounters, type DirectionCount } from "../harness/firewall/counters";
import { mapPool } from "../harness/pool";
import { summarize } from "../harness/report/summary";
import { runScenario, type ScenarioResult } from "../harness/scenario";
import { loadTopology, selectScenarios } from "../harness/topology/load";

const FILE = path.join(__dirname, "..", "..", "topologies", "asa-ips.yaml");

describe("firewall: packets and bytes per direction (nftables counters)", function () {
  this.timeout(120000);
  const results = new Map<string, ScenarioResult>();

  before(async function () {
    this.timeout(300000);
    const scenarios = selectScenarios(loadTopology(FILE), ["natt", "ctcp-no-loss"]);
    expect(scenarios.map((s) => s.variant).sort()).to.deep.equal(["ctcp-no-loss", "natt"]);
    for (const r of await mapPool(scenarios, 2, (s) => runScenario(s))) {
      results.set(r.variant, r);
      const moved = (r.evidence.firewall?.directions ?? []).filter((d) => d.packets > 0);
      console.log(`      ${r.variant}: ${moved.map((d) => `${d.name} ${d.packets} pkt/${d.bytes} B`).join(", ") || "no counter moved"}`);
    }
  });

  const countsOf = (variant: string): { c: DirectionCount[]; msg: string } => {
    const r = results.get(variant)!;
    const c = r.evidence.firewall?.directions ?? [];
    const msg = `${summarize(r)}\n  counters: ${JSON.stringify(c)}\n  errors: ${JSON.stringify(r.evidence.firewall?.errors)}`;
    expect(r.outcome, msg).to.equal("verdict");
    expect(c.length, msg).to.equal(12); // 8 forward + 4 proxy (full-proxy)
    return { c, msg };
  };

  it("natt: UDP 4500 moves both ways through forward; the proxy's counters stay 0", function () {
    const { c, msg } = countsOf("natt");
    const c2h = sumCounters(c, /^fwd_c2h_udp$/);
    const h2c = sumCounters(c, /^fwd_h2c_udp$/);
    expect(c2h.packets, msg).to.be.greaterThan(0);
    expect(h2c.packets, msg).to.be.greaterThan(0);
    expect(c2h.bytes, msg).to.be.greaterThan(c2h.packets * 28); // more than bare IP+UDP headers
    expect(sumCounters(c, /^proxy_/).packets, msg).to.equal(0);
    expect(sumCounters(c, /^fwd_(c2h|h2c)_tcp$/).packets, msg).to.equal(0);
  });

  it("ctcp-no-loss: the redirected cTCP shows at the proxy, both sides, both directions", function () {
    const { c, msg } = countsOf("ctcp-no-loss");
    for (const name of ["proxy_c2h_in", "proxy_c2h_out", "proxy_h2c_in", "proxy_h2c_out"]) {
      expect(sumCounters(c, new RegExp(`^${name}$`)).packets, `${name}\n${msg}`).to.be.greaterThan(0);
    }
    // redirected traffic never traverses forward
    expect(sumCounters(c, /^fwd_(c2h|h2c)_tcp$/).packets, msg).to.equal(0);
    expect(sumCounters(c, /^fwd_(c2h|h2c)_udp$/).packets, msg).to.equal(0);
  });
});
