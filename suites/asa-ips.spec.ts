// cTCP behind an inspecting firewall: every variant of topologies/asa-ips.yaml
// runs as a real lab on network namespaces, and its verdict must equal the
// variant's `expect`. The base scenario must also show the mechanism itself.
import { expect } from "chai";
import * as path from "node:path";
import { loadTopology, selectScenarios } from "../harness/topology/load";
import { runScenario, type ScenarioResult } from "../harness/scenario";
import { publishResult } from "../harness/report/allure";
import { summarize, proxyEvidence } from "../harness/report/summary";

const FILE = path.join(__dirname, "..", "..", "topologies", "asa-ips.yaml");

describe("asa-ips: cTCP behind a full TCP proxy", function () {
  this.timeout(120000);
  const scenarios = selectScenarios(loadTopology(FILE), []);
  const results = new Map<string, ScenarioResult>();

  for (const s of scenarios) {
    it(`${s.variant}: ${s.vpn.transport} through ${s.firewall?.mode ?? "no firewall"} → ${s.expect}`, async function () {
      const r = await runScenario(s);
      results.set(s.variant, r);
      await publishResult(r);
      expect(r.outcome, `lab error: ${r.error}\n${summarize(r)}`).to.equal("verdict");
      expect(r.verdict, summarize(r)).to.equal(s.expect);
    });
  }

  it("base: the proxy holds out-of-order bytes it never delivers, recovery is 0 %, DPD fires", function () {
    const r = results.get("base");
    expect(r, "the base scenario did not run (see its own test)").to.not.equal(undefined);
    const p = proxyEvidence(r!);
    const recovery = r!.phases.find((x) => x.phase === "recovery")!;
    const msg = summarize(r!);
    expect(p.proxied, `the cTCP flow went through the proxy\n${msg}`).to.equal(true);
    expect(p.oooPackets, `proxy socket rcv_ooopack\n${msg}`).to.be.greaterThan(0);
    expect(p.heldMemory, `proxy socket skmem r (out-of-order queue)\n${msg}`).to.be.greaterThan(0);
    expect(p.stalledBytes, `bytes the cTCP client sent that the proxy never passed on\n${msg}`).to.be.greaterThan(0);
    expect(recovery.delivery, msg).to.equal(0);
    expect(r!.tunnel.clientDownAtMs, msg).to.be.a("number");
  });

  it("ctcp-no-loss: the same proxy forwards everything", function () {
    const r = results.get("ctcp-no-loss");
    expect(r, "the ctcp-no-loss scenario did not run (see its own test)").to.not.equal(undefined);
    const p = proxyEvidence(r!);
    const msg = summarize(r!);
    expect(p.proxied, msg).to.equal(true);
    expect(p.clientBytesSent, msg).to.be.greaterThan(0);
    expect(p.forwardedOut, `the proxy forwards every byte it received\n${msg}`).to.equal(p.proxyBytesReceived);
    expect(p.stalledBytes, msg).to.equal(0);
    expect(p.oooPackets, msg).to.equal(0);
  });
});
