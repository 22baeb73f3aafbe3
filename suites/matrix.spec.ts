// The matrix (topologies/matrix.yaml): every transport and implementation ×
// firewall mode × loss / no loss runs as a real lab (side by side). Each
// cell's verdict must be the design's (suites/mechanism.ts designVerdict,
// stated apart from the file's `expect`): only cTCP terminated by the full
// proxy under loss fails, every remedy and control survives. Then the
// mechanism behind each verdict (suites/mechanism.ts): where a cell survives,
// the loss dropped its own transport's packets, the firewall forwarded it and
// the proxy never took it (or, inspected TLS, recovered), a bypass left no
// conntrack entry, the TCP stream lasted, a DTLS cell carried its data on
// DTLS; where it fails, the whole stall.
import { expect } from "chai";
import * as path from "node:path";
import { publishResult } from "../harness/report/allure";
import { loadTopology, selectScenarios } from "../harness/topology/load";
import { ScenarioResults } from "./host";
import { hasLoss, matrixTable } from "../harness/report/matrix";
import { cellOf, designVerdict, expectMechanism, formatChecks } from "./mechanism";

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

  it("the design's verdicts: cTCP through the full proxy under loss fails, every other cell survives; the file's expect agrees", function () {
    const cells = scenarios.map((s) => ({ s, c: cellOf(s) }));
    const failing = cells.filter(({ c }) => designVerdict(c) === "fails").map(({ s }) => `${s.variant}: ${s.vpn.transport}/${s.firewall?.mode}/${hasLoss(s) ? "loss" : "noloss"}`);
    expect(failing, "the cells the design says fail").to.deep.equal(["base: ctcp/full-proxy/loss"]);
    const disagree = cells.filter(({ s, c }) => s.expect !== designVerdict(c)).map(({ s, c }) => `${s.variant}: expect ${s.expect}, design ${designVerdict(c)}`);
    expect(disagree, "cells whose expect in matrix.yaml is not the design's verdict").to.deep.equal([]);
  });

  for (const s of scenarios) {
    const loss = hasLoss(s);
    const cell = cellOf(s);
    const design = designVerdict(cell);
    it(`${s.variant}: ${s.vpn.transport}/${s.vpn.impl}${s.vpn.transport === "anyconnect" ? (s.vpn.dtls ? "+dtls" : "+tls") : ""} through ${s.firewall?.mode ?? "no firewall"}, ${loss ? "5% loss" : "no loss"} → ${design}`, async function () {
      const r0 = results.get(s.variant);
      if (r0) await publishResult(r0);
      const { r, msg } = verdictOf(s.variant);
      expect(r.verdict, `the design's verdict\n${msg}`).to.equal(design);
      const checks = expectMechanism(cell, r, msg);
      console.log(`      ${s.variant}: ${formatChecks(checks).replace(/\n/g, "\n        ")}`);
    });
  }
});
