// `vpnlab merge`: the JSON of several runs (shards of one nightly) as one table,
// one summary and the exit code the whole run would have had.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { scenarioResult } from "../harness/report/testkit";
import type { ScenarioResult } from "../harness/scenario";
import { suiteTmp } from "./host";

const BIN = path.join(__dirname, "..", "..", "bin", "vpnlab");

describe("vpnlab merge", () => {
  let dir: string;
  before(() => {
    dir = suiteTmp();
  });

  const doc = (name: string, results: ScenarioResult[]): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, JSON.stringify({ topology: "asa-ips", file: "topologies/asa-ips.yaml", results }));
    return f;
  };
  const merge = (...args: string[]) => spawnSync(BIN, ["merge", ...args], { encoding: "utf8" });

  it("adds two shards' results into one document and exits 0 when every verdict is as expected", () => {
    const a = doc("a.json", [scenarioResult({ variant: "base" }), scenarioResult({ variant: "natt", expect: "survives", verdict: "survives" })]);
    const b = doc("b.json", [scenarioResult({ variant: "esp", expect: "survives", verdict: "survives" })]);
    const r = merge(a, b, "--json");
    expect(r.status, r.stderr).to.equal(0);
    const d = JSON.parse(r.stdout) as { results: ScenarioResult[]; summary: Record<string, number> };
    expect(d.results.map((x) => x.variant)).to.deep.equal(["base", "natt", "esp"]);
    expect(d.summary).to.deep.equal({ scenarios: 3, passed: 3, mismatches: 0, labErrors: 0 });
    const t = merge(a, b);
    expect(t.stdout).to.match(/^variant/).and.contain("3 as expected, 0 not, 0 lab error(s)");
  });

  it("exits 1 on a mismatch in any shard and 2 on a lab error in any shard", () => {
    const ok = doc("ok.json", [scenarioResult({ variant: "base" })]);
    const bad = doc("bad.json", [scenarioResult({ variant: "natt", expect: "survives", verdict: "fails", passed: false })]);
    const err = doc("err.json", [scenarioResult({ variant: "esp", outcome: "lab-error", verdict: undefined, passed: false, error: "agent died" })]);
    expect(merge(ok, bad).status).to.equal(1);
    expect(merge(ok, bad, err).status).to.equal(2);
  });

  it("refuses overlapping runs and files that are not run documents, exit 2, naming the file", () => {
    const one = doc("one.json", [scenarioResult({ variant: "base" })]);
    const two = doc("two.json", [scenarioResult({ variant: "base" })]);
    const r = merge(one, two);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.contain("asa-ips/base is in both").and.contain("two.json");
    const junk = path.join(dir, "junk.json");
    fs.writeFileSync(junk, "{ not json");
    const j = merge(junk);
    expect(j.status).to.equal(2);
    expect(j.stderr).to.contain("junk.json");
  });
});
