import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { carryHistory, trendRuns } from "./history";

describe("report/history", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "vpnlab-history-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A previous report as Allure leaves it: index.html, data/, history/ with the trend of `runs` runs. */
  function previousReport(runs: number): string {
    const report = path.join(dir, "allure-report");
    fs.mkdirSync(path.join(report, "history"), { recursive: true });
    fs.mkdirSync(path.join(report, "data"), { recursive: true });
    fs.writeFileSync(path.join(report, "index.html"), "<html></html>");
    fs.writeFileSync(path.join(report, "data", "suites.json"), "{}");
    const trend = Array.from({ length: runs }, (_, i) => ({ buildOrder: i + 1, data: { passed: 3, failed: 1 } }));
    fs.writeFileSync(path.join(report, "history", "history-trend.json"), JSON.stringify(trend));
    fs.writeFileSync(path.join(report, "history", "history.json"), JSON.stringify({ abc: { statistic: { passed: 2 } } }));
    fs.writeFileSync(path.join(report, "history", "duration-trend.json"), "[]");
    return report;
  }

  it("copies every history file of the previous report into the new results, byte for byte", () => {
    const report = previousReport(2);
    const results = path.join(dir, "allure-results");
    fs.mkdirSync(results);
    fs.writeFileSync(path.join(results, "x-result.json"), "{}");
    const c = carryHistory(report, results);
    expect(c.files).to.deep.equal(["duration-trend.json", "history-trend.json", "history.json"]);
    for (const f of c.files) {
      expect(fs.readFileSync(path.join(results, "history", f), "utf8"), f).to.equal(fs.readFileSync(path.join(report, "history", f), "utf8"));
    }
    expect(trendRuns(path.join(dir, "allure-results"))).to.equal(2);
    // only history travels: the report's pages and data stay where they are, the results keep their own files
    expect(fs.readdirSync(results).sort()).to.deep.equal(["history", "x-result.json"]);
  });

  it("replaces a stale history already in the results (the previous report's is the newer)", () => {
    const report = previousReport(5);
    const results = path.join(dir, "allure-results");
    fs.mkdirSync(path.join(results, "history"), { recursive: true });
    fs.writeFileSync(path.join(results, "history", "history-trend.json"), JSON.stringify([{ buildOrder: 1 }]));
    carryHistory(report, results);
    expect(trendRuns(results)).to.equal(5);
  });

  it("a first run (no previous report, or one without history) carries nothing and creates nothing", () => {
    const results = path.join(dir, "allure-results");
    fs.mkdirSync(results);
    expect(carryHistory(path.join(dir, "never-generated"), results).files).to.deep.equal([]);
    const bare = path.join(dir, "bare-report");
    fs.mkdirSync(bare);
    expect(carryHistory(bare, results).files).to.deep.equal([]);
    expect(fs.readdirSync(results)).to.deep.equal([]);
    expect(trendRuns(results)).to.equal(0);
  });
});
