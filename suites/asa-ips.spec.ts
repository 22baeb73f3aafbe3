// cTCP behind an inspecting firewall: every variant of topologies/asa-ips.yaml
// runs as a real lab on network namespaces, and its verdict must equal the
// variant's `expect`. The base scenario must also show the mechanism itself.
import { expect } from "chai";
import * as path from "node:path";
import { loadTopology, selectScenarios } from "../harness/topology/load";
import { runScenario, type ScenarioResult } from "../harness/scenario";
import { publishResult } from "../harness/report/allure";
import { summarize } from "../harness/report/summary";

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
      // a lab error is not a verdict: a plain Error (not an assertion) makes Allure report it "broken"
      if (r.outcome === "lab-error") throw new Error(`lab error: ${r.error ?? r.reasons.join("; ")}\n${summarize(r)}`);
      expect(r.verdict, summarize(r)).to.equal(s.expect);
    });
  }

  it("base: the proxy holds out-of-order bytes it never delivers, recovery is 0 %, DPD fires", function () {
    const r = results.get("base");
    expect(r, "the base scenario did not run (see its own test)").to.not.equal(undefined);
    const msg = summarize(r!);
    const { atRecoveryStart: rs, atEnd: end } = r!.evidence.proxy!;
    const recovery = r!.phases.find((x) => x.phase === "recovery")!;
    expect(end.proxied, `the cTCP flow went through the proxy\n${msg}`).to.equal(true);
    expect(end.stalledBytes, `bytes the cTCP client sent that the proxy never took in order\n${msg}`).to.be.greaterThan(0);
    expect(end.oooPackets, `proxy socket rcv_ooopack\n${msg}`).to.be.greaterThan(0);
    // after the loss stopped: still bytes in the out-of-order queue, and not one more byte taken in order
    expect(end.heldMemory, `proxy socket skmem r (out-of-order queue) at the end\n${msg}`).to.be.greaterThan(0);
    expect(end.proxyBytesReceived - rs.proxyBytesReceived, `in-order bytes the proxy took during recovery\n${msg}`).to.equal(0);
    expect(end.forwardedOut, `the proxy forwarded only what it took in order\n${msg}`).to.equal(end.proxyBytesReceived);
    expect(recovery.delivery, msg).to.equal(0);
    expect(r!.tunnel.clientDownAtMs, `client DPD\n${msg}`).to.be.a("number");
  });

  it("ctcp-no-loss: the same proxy forwards everything", function () {
    const r = results.get("ctcp-no-loss");
    expect(r, "the ctcp-no-loss scenario did not run (see its own test)").to.not.equal(undefined);
    const msg = summarize(r!);
    const { atRecoveryStart: rs, atEnd: end } = r!.evidence.proxy!;
    expect(end.proxied, msg).to.equal(true);
    expect(end.clientBytesSent, msg).to.be.greaterThan(0);
    expect(end.stalledBytes, msg).to.equal(0);
    expect(end.oooPackets, msg).to.equal(0);
    expect(end.proxyBytesReceived - rs.proxyBytesReceived, `in-order bytes the proxy took during recovery\n${msg}`).to.be.greaterThan(0);
    expect(end.forwardedOut, `the proxy forwards every byte it received\n${msg}`).to.equal(end.proxyBytesReceived);
  });
});
