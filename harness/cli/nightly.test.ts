import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { dispatch } from "../cli";
import { scenarioResult } from "../report/testkit";
import { spawnSync } from "node:child_process";
import { PACKAGE_ROOT } from "../host/paths";
import { NIGHTLY_EXIT, defaultTopologyDir, nightlyExit, nightlyPaths, nightlySummary, topologyFiles, verdictLine } from "./nightly";

describe("cli/nightly", () => {
  it("one line per topology and runtime, then each mismatch and lab error by name", () => {
    const lines = nightlySummary([
      scenarioResult({ variant: "base" }),
      scenarioResult({ variant: "natt", passed: false, expect: "survives", verdict: "fails", reasons: ["no delivery after chaos"] }),
      scenarioResult({ variant: "base", runtime: "docker", outcome: "lab-error", verdict: undefined, passed: false, error: "engine gone" }),
      scenarioResult({ topology: "matrix", variant: "c1" }),
    ]);
    expect(lines).to.deep.equal([
      "asa-ips on netns   1 as expected, 1 not, 0 lab error(s)",
      "asa-ips on docker  0 as expected, 0 not, 1 lab error(s)",
      "matrix on netns    1 as expected, 0 not, 0 lab error(s)",
      "  MISMATCH   asa-ips/natt on netns: expected survives, got fails — no delivery after chaos",
      "  LAB ERROR  asa-ips/base on docker: engine gone",
    ]);
  });

  it("a verdict line says a mismatch out loud", () => {
    expect(verdictLine(scenarioResult())).to.equal("fails (expected fails)");
    expect(verdictLine(scenarioResult({ passed: false, expect: "survives" }))).to.equal("fails (expected survives) — MISMATCH");
    expect(verdictLine(scenarioResult({ outcome: "lab-error", error: "tunnel never came up" }))).to.equal("LAB ERROR: tunnel never came up");
  });

  it("the default set is every YAML file of topologies/, sorted; the repository's own are found", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vpnlab-nightly-"));
    try {
      for (const f of ["b.yaml", "a.yml", "notes.txt"]) fs.writeFileSync(path.join(dir, f), "");
      expect(topologyFiles(dir)).to.deep.equal([path.join(dir, "a.yml"), path.join(dir, "b.yaml")]);
      // no topologies/ in the working directory: the package's
      expect(topologyFiles(defaultTopologyDir(dir)).map((f) => path.basename(f))).to.include.members(["asa-ips.yaml", "matrix.yaml"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("results, report and JSON live under --out; the report is the one `vpnlab report --out` would replace", () => {
    expect(nightlyPaths("reports/nightly")).to.deep.equal({ results: "reports/nightly/allure-results", report: "reports/nightly/allure-report", json: "reports/nightly/results.json" });
  });

  it("a topology file that does not load stops the night before any lab or results directory (exit 2)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vpnlab-nightly-"));
    try {
      const out = path.join(dir, "out");
      const code = await dispatch(["nightly", path.join(PACKAGE_TOPOLOGY), path.join(dir, "missing.yaml"), "--out", out]);
      expect(code).to.equal(2);
      expect(fs.existsSync(out), "nothing written for a refused night").to.equal(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exit: a lab error 2; else a report that failed 2, a mismatch or not; else a mismatch 1; else 0", () => {
    const table: string[] = [];
    for (const labErrors of [0, 1]) for (const reportFailed of [false, true]) for (const mismatches of [0, 2]) table.push(`${labErrors} ${reportFailed} ${mismatches} → ${nightlyExit({ labErrors, mismatches, reportFailed })}`);
    expect(table).to.deep.equal([
      "0 false 0 → 0",
      "0 false 2 → 1",
      "0 true 0 → 2",
      "0 true 2 → 2",
      "1 false 0 → 2",
      "1 false 2 → 2",
      "1 true 0 → 2",
      "1 true 2 → 2",
    ]);
  });

  it("nightly --help states the exit rule", () => {
    const r = spawnSync(process.execPath, [path.join(PACKAGE_ROOT, "bin", "vpnlab"), "nightly", "--help"], { encoding: "utf8", timeout: 30_000 });
    expect(r.status, r.stderr).to.equal(0);
    // yargs wraps the epilog to the terminal's width: compare the words
    const words = (t: string) => t.replace(/\s+/g, " ").trim();
    expect(words(r.stdout)).to.contain(words(NIGHTLY_EXIT));
  });

  it("an unknown --runtime is refused with the known ones", async () => {
    expect(await dispatch(["nightly", "--runtime", "vmware", "--out", path.join(os.tmpdir(), "never")])).to.equal(2);
  });
});

const PACKAGE_TOPOLOGY = path.join(__dirname, "..", "..", "..", "topologies", "asa-ips.yaml");
