// Acceptance: after a run the host's /etc/resolv.conf, /etc/hosts, routes,
// rules and nftables ruleset are byte for byte what they were before. One
// scenario of every implementation and transport asa-ips has, three labs side
// by side, between two snapshots of the host.
import { expect } from "chai";
import * as path from "node:path";
import { mapPool } from "../harness/pool";
import { summarize } from "../harness/report/summary";
import { runScenario, type ScenarioResult } from "../harness/scenario";
import { loadTopology, selectScenarios } from "../harness/topology/load";
import { diffHostBytes, diffHostNetState, hostBytes, hostNetState, type HostBytes, type HostNetState } from "./host-snapshot";

const FILE = path.join(__dirname, "..", "..", "topologies", "asa-ips.yaml");
// reference ctcp / natt / esp / anyconnect, strongswan natt, ocserv with and without dtls
const VARIANTS = ["base", "natt", "esp", "natt-strongswan", "anyconnect-tls", "ocserv-tls", "ocserv-dtls"];

describe("host unchanged: a run leaves the host's network state byte for byte as it was", function () {
  this.timeout(120000);
  let snapBefore: { bytes: HostBytes; net: HostNetState };
  let snapAfter: { bytes: HostBytes; net: HostNetState };
  let results: ScenarioResult[] = [];
  let kinds: string[] = [];

  before(async function () {
    this.timeout(600000);
    const scenarios = selectScenarios(loadTopology(FILE), VARIANTS);
    kinds = scenarios.map((s) => `${s.vpn.impl}/${s.vpn.transport}${s.vpn.dtls ? "+dtls" : ""}`);
    snapBefore = { bytes: hostBytes(), net: hostNetState() };
    const t0 = Date.now();
    results = await mapPool(scenarios, 3, (s) => runScenario(s));
    snapAfter = { bytes: hostBytes(), net: hostNetState() };
    console.log(`      ${results.length} scenarios in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${results.map((r) => `${r.variant}=${r.verdict ?? r.outcome}`).join(", ")}`);
  });

  it("ran one scenario of every implementation and transport to a verdict", function () {
    const seen = results.map((r) => `${r.variant}:${r.impl}/${r.transport}`);
    expect(results.map((r) => r.variant), seen.join(", ")).to.deep.equal(VARIANTS);
    // seven different implementation/transport pairs, none twice
    expect(new Set(kinds).size, kinds.join(", ")).to.equal(VARIANTS.length);
    for (const r of results) expect(r.outcome, summarize(r)).to.equal("verdict");
  });

  it("/etc/resolv.conf, /etc/hosts, routes, rules and the nftables ruleset are byte for byte the same", function () {
    const diff = diffHostBytes(snapBefore.bytes, snapAfter.bytes);
    expect(diff, `the host changed:\n${diff.join("\n")}`).to.deep.equal([]);
    // the test can see a change: the snapshot is not empty
    expect(snapBefore.bytes["ip route show table all"].length, "no host routes read").to.be.greaterThan(0);
  });

  it("interfaces, addresses and nftables tables too", function () {
    const diff = diffHostNetState(snapBefore.net, snapAfter.net);
    expect(diff, `the host changed:\n${diff.join("\n")}`).to.deep.equal([]);
  });
});
