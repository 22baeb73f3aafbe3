// The matrix (topologies/matrix.yaml): every transport and implementation ×
// firewall mode × loss / no loss runs as a real lab (side by side), and each
// cell's verdict must equal its `expect` — only cTCP behind the full proxy
// under loss fails. Then the measurement behind each verdict: where a cell
// survives loss, the loss rule really dropped packets and the TCP stream inside
// the tunnel carried on; where it fails, the proxy took no byte in order after
// the loss stopped and the TCP stream stalled with it.
import { expect } from "chai";
import * as path from "node:path";
import { publishResult } from "../harness/report/allure";
import { loadTopology, selectScenarios } from "../harness/topology/load";
import { ScenarioResults } from "./host";
import { hasLoss, matrixTable, recoveryBytes } from "../harness/report/matrix";

const FILE = path.join(__dirname, "..", "..", "topologies", "matrix.yaml");
/** Labs side by side (each is its own set of namespaces); VPNLAB_JOBS overrides. */
const JOBS = Number(process.env.VPNLAB_JOBS ?? 4);

describe("matrix: transports × firewall modes × loss", function () {
  this.timeout(120000);
  const scenarios = selectScenarios(loadTopology(FILE), []);
  const results = new ScenarioResults("cell");

  before(async function () {
    this.timeout(900000);
    const started = Date.now();
    await results.runAll(scenarios, JOBS);
    console.log(`\n${matrixTable(scenarios.map((s) => ({ s, r: results.get(s.variant) })))}\n${scenarios.length} cells in ${((Date.now() - started) / 1000).toFixed(1)} s at ${JOBS} jobs\n`);
  });

  const verdictOf = (variant: string) => results.verdictOf(variant);

  it("has the one failing cell: ctcp through the full proxy under loss", function () {
    const failing = scenarios.filter((s) => s.expect !== "survives").map((s) => `${s.vpn.transport}/${s.firewall?.mode}/${hasLoss(s) ? "loss" : "noloss"}`);
    expect(failing).to.deep.equal(["ctcp/full-proxy/loss"]);
  });

  for (const s of scenarios) {
    const loss = hasLoss(s);
    const stalls = s.expect === "fails";
    it(`${s.variant}: ${s.vpn.transport}/${s.vpn.impl}${s.vpn.transport === "anyconnect" ? (s.vpn.dtls ? "+dtls" : "+tls") : ""} through ${s.firewall?.mode ?? "no firewall"}, ${loss ? "5% loss" : "no loss"} → ${s.expect}`, async function () {
      const r0 = results.get(s.variant);
      if (r0) await publishResult(r0);
      const { r, msg } = verdictOf(s.variant);
      expect(r.verdict, msg).to.equal(s.expect);
      if (stalls) {
        const { atRecoveryStart: rs, atEnd: end } = r.evidence.proxy!;
        expect(r.evidence.faults?.droppedPackets ?? 0, `packets the loss rule dropped\n${msg}`).to.be.greaterThan(0);
        expect(end.proxied, `the cTCP flow went through the proxy\n${msg}`).to.equal(true);
        expect(end.proxyBytesReceived - rs.proxyBytesReceived, `in-order bytes the proxy took during recovery\n${msg}`).to.equal(0);
        expect(end.stalledBytes, `bytes the client sent that the proxy never took in order\n${msg}`).to.be.greaterThan(0);
        expect(recoveryBytes(r), `TCP stream bytes during recovery\n${msg}`).to.equal(0);
        expect(r.tcp?.survived, `the TCP stream's connection lasted\n${msg}`).to.equal(false);
      } else {
        if (loss) expect(r.evidence.faults?.droppedPackets ?? 0, `packets the loss rule dropped\n${msg}`).to.be.greaterThan(0);
        else expect(r.evidence.faults?.droppedPackets ?? 0, `packets dropped without a loss rule\n${msg}`).to.equal(0);
        expect(r.tcp?.survived, `the TCP stream's connection lasted\n${msg}`).to.equal(true);
        expect(recoveryBytes(r), `TCP stream bytes during recovery\n${msg}`).to.be.greaterThan(0);
      }
    });
  }
});
