import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PACKAGE_ROOT } from "../host/paths";
import { findJava, generateArgv, generateReport } from "./generate";

/** Minimal Allure results: `statuses` one scenario each, as a writer leaves them (<uuid>-result.json). */
function writeResults(dir: string, statuses: readonly string[], run = 1): void {
  fs.mkdirSync(dir, { recursive: true });
  const start = Date.UTC(2026, 10, 27, 12, 0, run);
  statuses.forEach((status, i) => {
    const uuid = `00000000-0000-4000-8000-${String(run * 100 + i).padStart(12, "0")}`;
    fs.writeFileSync(
      path.join(dir, `${uuid}-result.json`),
      JSON.stringify({
        uuid,
        historyId: `asa-ips/variant-${i}`,
        name: `asa-ips/variant-${i}`,
        fullName: `asa-ips/variant-${i}`,
        status,
        stage: "finished",
        start: start + i * 1000,
        stop: start + i * 1000 + 800,
        labels: [{ name: "epic", value: "asa-ips" }, { name: "feature", value: "transport ctcp" }],
        parameters: [{ name: "variant", value: `variant-${i}` }],
        steps: [{ name: "lab up", status: "passed", stage: "finished", start, stop: start + 100, steps: [], attachments: [], parameters: [] }],
        attachments: [],
      }),
    );
  });
}

const listing = (dir: string): string[] => fs.readdirSync(dir, { recursive: true }).map(String).sort();

describe("report/generate", function () {
  this.timeout(300_000);
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "vpnlab-report-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("asks allure for a clean generation, and a single file only when told", () => {
    expect(generateArgv({ results: "r", out: "o" }).slice(1)).to.deep.equal(["generate", "r", "-o", "o", "--clean"]);
    expect(generateArgv({ results: "r", out: "o", singleFile: true }).slice(-1)).to.deep.equal(["--single-file"]);
  });

  it("finds java through JAVA_HOME before PATH, and none when neither has it", () => {
    const home = path.join(dir, "jdk");
    fs.mkdirSync(path.join(home, "bin"), { recursive: true });
    fs.writeFileSync(path.join(home, "bin", "java"), "#!/bin/sh\n", { mode: 0o755 });
    expect(findJava({ JAVA_HOME: home, PATH: "/usr/bin" })).to.equal(path.join(home, "bin", "java"));
    expect(findJava({ PATH: path.join(home, "bin") })).to.equal(path.join(home, "bin", "java"));
    expect(findJava({ PATH: dir, JAVA_HOME: dir })).to.equal(undefined);
  });

  it("vpnlab report without Java: exit 2, one clear line, the results left as they were", () => {
    const results = path.join(dir, "allure-results");
    const out = path.join(dir, "allure-report");
    writeResults(results, ["passed", "failed"]);
    const before = listing(results);
    // node by its absolute path; PATH holds no java and JAVA_HOME is unset
    const env = { PATH: path.join(dir, "nowhere"), HOME: dir };
    const r = spawnSync(process.execPath, [path.join(PACKAGE_ROOT, "bin", "vpnlab"), "report", "--results", results, "--out", out], { env, encoding: "utf8", timeout: 60_000 });
    const lines = r.stderr.trim().split("\n");
    expect(r.status, `exit ${r.status}; stderr:\n${r.stderr}`).to.equal(2);
    expect(lines, r.stderr).to.have.length(1);
    expect(lines[0]).to.match(/^vpnlab: Java is missing: .*default-jre-headless.*JAVA_HOME/);
    expect(listing(results)).to.deep.equal(before);
    expect(fs.existsSync(out)).to.equal(false);
  });

  it("generates index.html and data/ from results, and the second report's trend holds both runs", async () => {
    expect(findJava(), "generating a report needs Java (apt-get install default-jre-headless)").to.be.a("string");
    const results = path.join(dir, "allure-results");
    const out = path.join(dir, "allure-report");
    writeResults(results, ["passed", "passed", "failed"]);
    const first = await generateReport({ results, out });
    expect(fs.existsSync(path.join(out, "index.html"))).to.equal(true);
    expect(fs.statSync(path.join(out, "data")).isDirectory()).to.equal(true);
    const summary = JSON.parse(fs.readFileSync(path.join(out, "widgets", "summary.json"), "utf8")) as { statistic: Record<string, number> };
    expect(summary.statistic, JSON.stringify(summary.statistic)).to.include({ passed: 2, failed: 1, total: 3 });
    expect(first.trend).to.equal(1);
    console.log(`      first report generated in ${first.ms} ms`);
    // the next night: fresh results, the old report's history carried in
    const results2 = path.join(dir, "allure-results-2");
    writeResults(results2, ["passed", "failed", "failed"], 2);
    const second = await generateReport({ results: results2, out });
    expect(second.carried, second.carried.join(",")).to.include("history-trend.json");
    expect(second.trend, `trend runs in ${out}/history`).to.equal(2);
  });

  it("--single-file: one self-contained index.html", async () => {
    expect(findJava(), "generating a report needs Java (apt-get install default-jre-headless)").to.be.a("string");
    const results = path.join(dir, "allure-results");
    const out = path.join(dir, "single");
    writeResults(results, ["passed", "broken"]);
    const g = await generateReport({ results, out, singleFile: true });
    expect(fs.readdirSync(out)).to.include("index.html");
    expect(fs.existsSync(path.join(out, "data")), "single-file keeps no data/ folder").to.equal(false);
    expect(fs.statSync(g.index).size).to.be.greaterThan(100_000);
  });
});
