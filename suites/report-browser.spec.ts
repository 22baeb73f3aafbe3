// The Allure report a lab engineer publishes, checked the way its reader sees
// it: `vpnlab run --allure` runs two real scenarios of asa-ips (base, and natt
// with a deliberately wrong expectation so the report holds a failure),
// `vpnlab report` turns the results into the HTML report, a local HTTP server
// serves it (the report's scripts fetch their data: file:// does not work) and
// Debian's headless Chromium opens it. The overview must show as many passed
// and failed tests as the result files hold, a scenario page its steps and its
// timeline chart; screenshots of both go to reports/screenshots/ (kept by CI).
import { expect } from "chai";
import type { Context } from "mocha";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import type { TestResult } from "allure-js-commons";
import { chromium, type Browser, type Page } from "playwright-core";
import { run } from "../harness/exec";
import { findJava } from "../harness/report/generate";
import { suiteTmp } from "./host";
import { requireRuntime } from "./runtimes";

const ROOT = path.join(__dirname, "..", "..");
const FILE = path.join(ROOT, "topologies", "asa-ips.yaml");
const VPNLAB = path.join(ROOT, "bin", "vpnlab");
const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOTS = path.join(ROOT, "reports", "screenshots");

/** What this host lacks to generate and view the report, in words; undefined when nothing. */
function missingCapability(): string | undefined {
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK);
  } catch {
    return `no chromium at ${CHROMIUM} (apt-get install chromium)`;
  }
  // the java vpnlab report (allure's launcher) would use
  if (!findJava()) return "no Java for allure-commandline (neither $JAVA_HOME/bin/java nor java on PATH)";
  return undefined;
}

/** Skip the suite naming what is missing — except in CI, whose image installs chromium and Java: there it fails. */
function skipWithout(ctx: Context, why: string): never {
  if (process.env.CI === "true") throw new Error(`CI needs chromium and Java for the report test: ${why}`);
  for (const t of ctx.test?.parent?.tests ?? []) t.title += ` (skipped: ${why})`;
  ctx.skip();
}

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

/** A static server of `root` on 127.0.0.1 (ephemeral port); files only, nothing outside root. */
async function serve(root: string): Promise<{ url: string; server: http.Server }> {
  const types: Record<string, string> = {
    ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".svg": "image/svg+xml",
    ".png": "image/png", ".ico": "image/x-icon", ".txt": "text/plain", ".csv": "text/csv", ".woff": "font/woff", ".woff2": "font/woff2",
  };
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const file = path.join(root, rel.endsWith("/") ? `${rel}index.html` : rel);
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
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
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // no sandbox: CI runs as root; no network beyond our own server
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    // playwright launches on a new temporary user-data-dir (removed on close): no profile of anyone's
    page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    timing.launchMs = Date.now() - t;
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
  });

  after(async function () {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
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
    const title = (name: string) => page.locator(".node__title").filter({ has: page.locator(".node__name", { hasText: new RegExp(`^\\s*${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*$`) }) }).first();
    for (const group of w.suites) {
      const t = title(group);
      await t.waitFor({ timeout: 30000 });
      if (!(await t.evaluate((el) => el.parentElement?.classList.contains("node__expanded") ?? false))) await t.click();
    }
    await title(w.name).click();
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
