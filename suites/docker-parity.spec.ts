// Parity of the docker runtime with network namespaces: every variant of
// topologies/asa-ips.yaml runs on docker, spread over the engines of
// VPNLAB_ENGINES (else DOCKER_HOST alone), and must give, variant by variant,
// the netns runtime's verdict with the same mechanism behind it — and each
// runtime's run must show that mechanism on its own (suites/mechanism.ts,
// chosen from what the variant is, the design's verdict stated apart from the
// file's expect):
//  - failing cTCP: the whole stall — the proxy holds bytes it never took in
//    order, took not one more in order during recovery while the client kept
//    sending;
//  - every remedy and control: its own transport's packets dropped, forwarded
//    and never proxied (or, TLS through the proxy, recovered), no conntrack
//    entry where bypassed, the TCP stream inside the tunnel lasted, DTLS
//    carried ocserv-dtls's data.
// The netns results are the asa-ips suite's when it ran in this mocha process
// (suites/host.ts memoises them); alone, both runtimes run in one pool.
// With two engines or more, the docker labs must have run on every one.
import { expect } from "chai";
import { publishResult } from "../harness/report/allure";
import { PARITY } from "../harness/report/allure-env";
import * as path from "node:path";
import { formatTable } from "../harness/report/table";
import { chooseEngines } from "../harness/runtime/docker/engines";
import { Spread } from "../harness/runtime/spread";
import type { ScenarioResult } from "../harness/scenario";
import { loadTopology, selectScenarios } from "../harness/topology/load";
import { runTogether, ScenarioResults } from "./host";
import { cellOf, designVerdict, expectMechanism, formatChecks } from "./mechanism";
import { requireRuntime } from "./runtimes";

const FILE = path.join(__dirname, "..", "..", "topologies", "asa-ips.yaml");
/** Labs side by side, netns and docker in one pool; VPNLAB_JOBS overrides. */
const JOBS = Number(process.env.VPNLAB_JOBS ?? 4);
/** What a verdict rests on, in the terms asa-ips asserts (the same on both runtimes, or the docker lab differs). */
function mechanism(r: ScenarioResult) {
  const p = r.evidence.proxy;
  return {
    verdict: r.outcome === "lab-error" ? "LAB ERROR" : r.verdict,
    lossDropped: (r.evidence.faults?.droppedPackets ?? 0) > 0,
    proxied: p?.atEnd.proxied ?? false,
    // only where it was proxied: did the proxy take bytes in order after the loss stopped?
    inOrderInRecovery: p?.atEnd.proxied ? p.atEnd.proxyBytesReceived - p.atRecoveryStart.proxyBytesReceived > 0 : undefined,
    tcpLasted: r.tcp?.survived ?? false,
  };
}

const brief = (r: ScenarioResult | undefined) => {
  if (!r) return "did not run";
  const m = mechanism(r);
  return `dropped ${r.evidence.faults?.droppedPackets ?? 0}, ${m.proxied ? `proxied (stalled ${r.evidence.proxy?.atEnd.stalledBytes}, in order in recovery ${m.inOrderInRecovery ? "yes" : "no"})` : "not proxied"}, tcp ${m.tcpLasted ? "lasted" : "stalled"}`;
};

describe("docker parity: asa-ips on docker gives the netns verdicts, with the same mechanism", function () {
  this.timeout(120000);
  const scenarios = selectScenarios(loadTopology(FILE), []);
  const engines = chooseEngines(undefined, undefined, process.env);
  const netns = new ScenarioResults("variant (netns)", { runtime: "netns" });
  const docker = new ScenarioResults("variant (docker)", { runtime: "docker", places: new Spread(engines.map((e) => ({ name: e.url, options: { engine: e.url } }))) });

  before(async function () {
    this.timeout(900000);
    await requireRuntime(this, "netns");
    for (const e of engines) await requireRuntime(this, "docker", { engine: e.url });
    await runTogether([{ results: netns, scenarios }, { results: docker, scenarios }], JOBS);
  });

  /** Both runtimes' verdicts, variant by variant: every failure message carries it. */
  const table = () =>
    formatTable(
      scenarios.map((s) => {
        const [n, d] = [netns.get(s.variant), docker.get(s.variant)];
        return [s.variant, s.expect, String(n ? mechanism(n).verdict : "-"), String(d ? mechanism(d).verdict : "-"), d?.engine ?? "-", brief(n), brief(d)];
      }),
      ["variant", "expect", "netns", "docker", "engine", "netns mechanism", "docker mechanism"],
    );

  for (const s of scenarios) {
    it(`${s.variant}: the netns verdict on docker, with the same mechanism evidence`, async function () {
      const ran = docker.get(s.variant);
      if (ran) await publishResult(ran); // the docker lab's result, with its engine, in the run's Allure results
      // a lab error on either side is no verdict to compare: say which, with the whole table
      const settled = (results: ScenarioResults) => {
        try {
          return results.verdictOf(s.variant);
        } catch (e) {
          throw new Error(`${(e as Error).message}\n\n${table()}`);
        }
      };
      const { r: n, msg: nMsg } = settled(netns);
      const { r: d, msg: dMsg } = settled(docker);
      const msg = `${table()}\n\nnetns: ${nMsg}\ndocker (${d.engine}): ${dMsg}`;
      expect(d.verdict, `${PARITY.verdict(s.variant)}\n${msg}`).to.equal(n.verdict);
      expect(mechanism(d), `${PARITY.mechanism(JSON.stringify(mechanism(n)))}\n${msg}`).to.deep.equal(mechanism(n));
      // each runtime's own run, checked on its own numbers: the design's verdict and its mechanism
      const cell = cellOf(s);
      expect(n.verdict, `the design's verdict (netns)\n${msg}`).to.equal(designVerdict(cell));
      expectMechanism(cell, n, `netns\n${msg}`);
      const checks = expectMechanism(cell, d, `docker (${d.engine})\n${msg}`);
      console.log(`      docker: ${formatChecks(checks).replace(/\n/g, "\n        ")}`);
    });
  }

  it(`the docker labs ran on every engine given (${engines.length}: ${engines.map((e) => e.url).join(", ")})`, function () {
    const used = [...new Set(docker.all().map((r) => r.engine ?? "(none)"))].sort();
    const perEngine = engines.map((e) => `${e.url}: ${docker.all().filter((r) => r.engine === e.url).map((r) => r.variant).join(", ")}`).join("\n");
    expect(used, `engines named by the docker results\n${perEngine}\n${table()}`).to.deep.equal(engines.map((e) => e.url).sort());
  });
});
