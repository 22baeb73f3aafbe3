// `vpnlab nightly` twice on a two-scenario topology, as cron would run it (stderr
// not a terminal): the first night as expected (exit 0), the second with one
// expectation deliberately wrong (exit 1, named in the summary, under its
// category in the report), and the report's trend holding both nights — in its
// files and on the page, opened in headless Chromium. A third night whose report
// cannot be generated exits 2 and still names its mismatch.
import { expect } from "chai";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ScenarioResult } from "../harness/scenario";
import { findJava } from "../harness/report/generate";
import { SCREENSHOTS, closeServer, expandTree, missingCapability, openBrowser, serve, treeNode } from "./browser";
import { suiteTmp } from "./host";
import { requireRuntime } from "./runtimes";

const ROOT = path.join(__dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "vpnlab");

/** asa-ips' base and lab, with one variant of our own: no loss, expected `noLoss`. */
function topology(dir: string, noLoss: "survives" | "fails"): string {
  const text = fs.readFileSync(path.join(ROOT, "topologies", "asa-ips.yaml"), "utf8");
  const head = text.slice(0, text.indexOf("\nvariants:"));
  expect(head, "asa-ips.yaml has a variants: section to cut").to.not.equal(text.slice(0, -1));
  const f = path.join(dir, "nightly.yaml");
  fs.writeFileSync(f, `${head.replace("$schema=../schema", `$schema=${ROOT}/schema`)}\nvariants:\n  no-loss: { chaos: [], expect: ${noLoss} }\n`);
  return f;
}

type Night = { code: number | null; stdout: string; stderr: string };

function night(file: string, out: string): Promise<Night> {
  return new Promise((resolve) => {
    // netns only: CI also offers docker (DOCKER_HOST), which would double every count below
    const c = spawn(BIN, ["nightly", file, "--out", out, "-j", "2", "--runtime", "netns"], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    c.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    c.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("vpnlab nightly", function () {
  this.timeout(600_000);

  before(async function () {
    await requireRuntime(this, "netns");
    if (findJava()) return;
    // the report needs Java: CI installs it, so there a missing Java fails; elsewhere the suite is skipped naming it
    if (process.env.CI === "true") throw new Error("CI needs Java for allure-commandline (openjdk-17-jre-headless)");
    for (const t of this.test?.parent?.tests ?? []) t.title += " (skipped: no Java for allure-commandline)";
    this.skip();
  });

  const CATEGORY = "An expected failure that no longer reproduces";
  const dir = suiteTmp();
  const out = path.join(dir, "nightly");
  const report = path.join(out, "allure-report");
  let first: Night;
  let second: Night;
  const timing: Record<string, number> = {};

  before(async function () {
    let t = Date.now();
    first = await night(topology(dir, "survives"), out);
    timing.firstNightMs = Date.now() - t;
    t = Date.now();
    second = await night(topology(dir, "fails"), out);
    timing.secondNightMs = Date.now() - t;
  });

  after(() => console.log(`      nightly timing (ms): ${JSON.stringify(timing)}`));

  it("two nights: exit 0 then 1 on a wrong expectation, summary by name, report with a trend of two runs and the mismatch under its category", async () => {
    expect(first.code, `exit ${first.code}\n${first.stdout}\n${first.stderr}`).to.equal(0);
    expect(first.stdout).to.contain("asa-ips on netns  2 as expected, 0 not, 0 lab error(s)");
    // not a terminal: plain lines, nothing rewritten
    expect(first.stderr).to.not.contain("\r");
    expect(first.stderr).to.match(/^\[2\/2\] asa-ips\/no-loss \(netns\): survives \(expected survives\)$/m);

    expect(second.code, `exit ${second.code}\n${second.stdout}\n${second.stderr}`).to.equal(1);
    expect(second.stdout).to.match(/^ {2}MISMATCH {3}asa-ips\/no-loss on netns: expected fails, got survives/m);
    expect(second.stdout).to.contain(`report: ${path.join(out, "allure-report", "index.html")} (trend of 2 run(s)`);

    const trend = JSON.parse(fs.readFileSync(path.join(report, "history", "history-trend.json"), "utf8")) as { data: Record<string, number> }[];
    expect(trend.map((t) => t.data.total), JSON.stringify(trend)).to.deep.equal([2, 2]);
    expect(trend.map((t) => t.data.passed), JSON.stringify(trend)).to.deep.equal([1, 2]); // newest first
    const categories = JSON.parse(fs.readFileSync(path.join(report, "widgets", "categories.json"), "utf8")) as { items: { name: string; statistic: { total: number } }[] };
    expect(categories.items.map((c) => `${c.name}: ${c.statistic.total}`), JSON.stringify(categories)).to.deep.equal(["An expected failure that no longer reproduces: 1"]);
    const results = JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8")) as { results: ScenarioResult[] };
    expect(results.results.map((r) => `${r.variant}:${r.verdict}`)).to.deep.equal(["base:fails", "no-loss:survives"]);
    // tonight's results only: two scenarios, last night's gone from allure-results
    expect(fs.readdirSync(path.join(out, "allure-results")).filter((f) => f.endsWith("-result.json"))).to.have.length(2);
  });

  it("the second night's report in headless Chromium: the trend widget draws two runs, the mismatch listed under its category", async function () {
    const why = missingCapability();
    if (why) {
      if (process.env.CI === "true") throw new Error(`CI needs chromium and Java for the report test: ${why}`);
      if (this.test) this.test.title += ` (skipped: ${why})`;
      this.skip();
    }
    expect(second.code, `the second night ran (exit ${second.code})\n${second.stdout}\n${second.stderr}`).to.equal(1);
    const t0 = Date.now();
    const { url, server } = await serve(report);
    const { browser, page } = await openBrowser();
    try {
      await page.goto(url);
      // the overview's Trend widget (history-trend): one slice and one x-axis tick per run, the y axis up to the tests of a run
      const widget = page.locator(".widget[data-id='history-trend']");
      await widget.locator(".chart__plot").waitFor({ timeout: 30000 });
      const drawn = {
        slices: await widget.locator(".chart__plot g.slice").count(),
        xTicks: await widget.locator(".chart__axis_x .tick").count(),
        yMax: Math.max(...(await widget.locator(".chart__axis_y .tick text").allTextContents()).map(Number)),
      };
      console.log(`      trend widget: ${JSON.stringify(drawn)}`);
      await widget.screenshot({ path: path.join(SCREENSHOTS, "trend.png") });
      expect(drawn, "the trend widget as drawn: runs (slices, x ticks) and tests per run (y axis)").to.deep.equal({ slices: 2, xTicks: 2, yMax: 2 });

      // Categories: the category, then the message group under it, down to the test
      await page.goto(`${url}#categories`);
      await expandTree(page, [CATEGORY]);
      const category = treeNode(page, CATEGORY).locator("xpath=..");
      for (const group of await category.locator(".node__children .node__title").all()) await group.click();
      const names = (await category.locator(".node__name").allInnerTexts()).map((n) => n.trim());
      const top = (await page.locator(".tree__content > .node > .node__title .node__name").allInnerTexts()).map((n) => n.trim());
      console.log(`      categories: ${JSON.stringify(top)}; under "${CATEGORY}": ${JSON.stringify(names.slice(1))}`);
      await page.screenshot({ path: path.join(SCREENSHOTS, "categories.png"), fullPage: true });
      expect(top, "the categories listed").to.deep.equal([CATEGORY]);
      expect(names, `under "${CATEGORY}"`).to.include("asa-ips/no-loss (netns)");
      expect(names.filter((n) => /^asa-ips\//.test(n)), `tests under "${CATEGORY}"`).to.deep.equal(["asa-ips/no-loss (netns)"]);
    } finally {
      await browser.close();
      await closeServer(server);
      timing.browserMs = Date.now() - t0;
    }
  });

  it("a night whose report cannot be generated exits 2, and its summary still names the mismatch", async () => {
    // the report's place taken by a file: allure has nowhere to write, as on a full or read-only disk
    const broken = path.join(dir, "nightly-no-report");
    fs.mkdirSync(broken, { recursive: true });
    fs.writeFileSync(path.join(broken, "allure-report"), "not a directory");
    const t = Date.now();
    const third = await night(topology(dir, "fails"), broken);
    timing.reportFailedNightMs = Date.now() - t;
    const all = `exit ${third.code}\n${third.stdout}\n${third.stderr}`;
    expect(third.code, all).to.equal(2);
    expect(third.stderr, all).to.match(/^vpnlab: the report could not be generated: /m);
    expect(third.stdout, all).to.match(/^ {2}MISMATCH {3}asa-ips\/no-loss on netns: expected fails, got survives/m);
    expect(third.stdout, all).to.contain("exit 2: no report — and 1 verdict(s) differ from their expect (MISMATCH above)");
    expect(third.stdout, all).to.contain(`report: no report (results in ${path.join(broken, "allure-results")})`);
    expect(fs.readdirSync(path.join(broken, "allure-results")).filter((f) => f.endsWith("-result.json")), "the results are written all the same").to.have.length(2);
  });
});
