// The Allure report a lab engineer publishes, checked the way its reader sees
// it: `vpnlab run --allure` runs two real scenarios of asa-ips (base, and natt
// with a deliberately wrong expectation so the report holds a failure),
// `vpnlab report` turns the results into the HTML report, a local HTTP server
// serves it (the report's scripts fetch their data: file:// does not work) and
// Debian's headless Chromium opens it. The overview must show as many passed
// and failed tests as the result files hold, a scenario page its steps and its
// timeline chart; screenshots of both go to reports/screenshots/ (kept by CI).
import { expect } from "chai";
import * as fs from "node:fs";
import type * as http from "node:http";
import * as path from "node:path";
import type { TestResult } from "allure-js-commons";
import type { Browser, Page } from "playwright-core";
import { run } from "../harness/exec";
import { suiteTmp } from "./host";
import { SCREENSHOTS, closeServer, expandTree, missingCapability, openBrowser, serve, skipWithout, treeNode } from "./browser";
import { requireRuntime } from "./runtimes";

const ROOT = path.join(__dirname, "..", "..");
const FILE = path.join(ROOT, "topologies", "asa-ips.yaml");
const VPNLAB = path.join(ROOT, "bin", "vpnlab");

/** What one Allure result file in the results directory says: the test, its status, its top-level steps and attachments. */
type Written = { name: string; status: string; steps: string[]; attachments: string[]; suites: string[] };

function readResults(dir: string): Written[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith("-result.json"))
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as TestResult)
    .map((t) => ({
      name: t.name ?? "",
      status: t.status ?? "unknown",
      steps: t.steps.map((x) => x.name ?? ""),
      attachments: t.attachments.map((x) => x.name),
      // where the Suites tree files it: parentSuite > suite > subSuite
      suites: ["parentSuite", "suite", "subSuite"].flatMap((k) => t.labels.filter((l) => l.name === k).map((l) => l.value)),
    }));
}

/** The counts the overview's widgets show per status, as the page renders them. */
async function overviewCounts(page: Page): Promise<Record<string, number>> {
  // the Suites widget: a row per suite, its bar one fill per status present, each fill's text its count
  const row = page.locator(".table__row", { hasText: "asa-ips" }).first();
  await row.waitFor({ timeout: 30000 });
  const counts: Record<string, number> = {};
  for (const fill of await row.locator("[class*='bar__fill_status_']").all()) {
    const status = /bar__fill_status_(\w+)/.exec((await fill.getAttribute("class")) ?? "")?.[1];
    if (status) counts[status] = Number((await fill.innerText()).trim());
  }
  return counts;
}

describe("report in a browser: the Allure report of real scenarios, opened in headless Chromium", function () {
  this.timeout(120000);
  let written: Written[] = [];
  let server: http.Server | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let url = "";
  const timing: Record<string, number> = {};

  before(async function () {
    this.timeout(300000);
    await requireRuntime(this, "netns");
    const why = missingCapability();
    if (why) skipWithout(this, why);

    // asa-ips with natt expected to fail (it survives): the deliberately wrong expectation that puts a failure in the report
    const tmp = fs.mkdtempSync(path.join(suiteTmp(), "report-"));
    const topology = path.join(tmp, "asa-ips.yaml");
    const yaml = fs.readFileSync(FILE, "utf8");
    const wrong = yaml.replace(/^(  natt: .*expect: )survives( }\s*)$/m, "$1fails$2");
    if (wrong === yaml) throw new Error(`${FILE}: no natt variant expecting survives to turn into a wrong expectation`);
    fs.writeFileSync(topology, wrong);
    const resultsDir = path.join(tmp, "allure-results");
    const reportDir = path.join(tmp, "allure-report");

    let t = Date.now();
    const ran = await run([process.execPath, VPNLAB, "run", topology, "-v", "base,natt", "-j", "2", "--runtime", "netns", "--allure", resultsDir], { allowFailure: true, timeoutMs: 240000 });
    timing.runMs = Date.now() - t;
    // exit 1: a verdict differs from its expect — natt's, on purpose
    if (ran.code !== 1) throw new Error(`vpnlab run exited ${ran.code}, expected 1 (natt's wrong expectation)\n${ran.stdout}${ran.stderr}`);
    written = readResults(resultsDir);

    t = Date.now();
    const gen = await run([process.execPath, VPNLAB, "report", "--results", resultsDir, "--out", reportDir], { allowFailure: true, timeoutMs: 120000 });
    timing.reportMs = Date.now() - t;
    if (gen.code !== 0) throw new Error(`vpnlab report exited ${gen.code}\n${gen.stdout}${gen.stderr}`);
    ({ url, server } = await serve(reportDir));

    t = Date.now();
    ({ browser, page } = await openBrowser());
    timing.launchMs = Date.now() - t;
  });

  after(async function () {
    await browser?.close();
    await closeServer(server);
    if (Object.keys(timing).length) console.log(`      report-browser timing (ms): ${JSON.stringify(timing)}`);
  });

  it("the overview shows as many passed and failed tests as were written", async function () {
    const want = (st: string) => written.filter((w) => w.status === st).length;
    // what vpnlab run wrote: base failing as expected (passed), natt surviving against its wrong expect (failed)
    const statuses = Object.fromEntries(written.map((w) => [w.name, w.status]));
    expect(statuses, "the results vpnlab run wrote").to.deep.equal({ "asa-ips/base (netns)": "passed", "asa-ips/natt (netns)": "failed" });
    await page.goto(url);
    const counts = await overviewCounts(page);
    const total = Number((await page.locator(".splash__title").first().innerText()).trim());
    console.log(`      overview: ${total} test cases, by status ${JSON.stringify(counts)}`);
    await page.screenshot({ path: path.join(SCREENSHOTS, "overview.png"), fullPage: true });
    expect(total, "test cases on the overview").to.equal(written.length);
    expect(counts.passed ?? 0, `passed on the overview (${JSON.stringify(counts)})`).to.equal(want("passed"));
    expect(counts.failed ?? 0, `failed on the overview (${JSON.stringify(counts)})`).to.equal(want("failed"));
    expect(counts.broken ?? 0, `broken on the overview (${JSON.stringify(counts)})`).to.equal(want("broken"));
  });

  it("a scenario page shows its steps and its chart", async function () {
    const w = written.find((x) => x.status === "failed") ?? written[0];
    await page.goto(`${url}#suites`);
    // open the groups down to the test, as a reader would
    await expandTree(page, w.suites);
    await treeNode(page, w.name).click();
    const steps = page.locator(".step__name");
    await steps.first().waitFor({ timeout: 30000 });
    const shown = (await steps.allInnerTexts()).map((s) => s.trim());
    console.log(`      ${w.name}: steps ${JSON.stringify(shown)}`);
    for (const s of w.steps) expect(shown, `steps on the page of ${w.name}`).to.include(s);
    // the chart: the timeline vpnlab run attached, drawn by the browser (an image with a size, or inline SVG)
    const chart = "timeline.svg";
    expect(w.attachments, `attachments written for ${w.name}`).to.include(chart);
    await page.locator(".attachment-row", { hasText: chart }).first().click();
    const preview = page.locator(".attachment-row_selected + .attachment-row__preview").first();
    await preview.waitFor({ timeout: 30000 });
    const drawn = await page.waitForFunction(
      (el) => {
        const img = el?.querySelector("img");
        if (img?.complete && img.naturalWidth > 0) return `img ${img.naturalWidth}x${img.naturalHeight}`;
        const svg = el?.querySelector("svg");
        const box = svg?.getBoundingClientRect();
        return box && box.width > 0 && box.height > 0 ? `svg ${Math.round(box.width)}x${Math.round(box.height)}` : false;
      },
      await preview.elementHandle(),
      { timeout: 30000 },
    ).catch(() => undefined);
    const size = drawn ? await drawn.jsonValue() : "not drawn within 30 s";
    console.log(`      ${chart} on the page of ${w.name}: ${size}`);
    await page.screenshot({ path: path.join(SCREENSHOTS, "scenario.png"), fullPage: true });
    expect(size, `${chart} drawn on the page of ${w.name}`).to.match(/^(img|svg) [1-9]\d*x[1-9]\d*$/);
  });
});
