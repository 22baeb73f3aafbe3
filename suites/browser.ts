// What the browser tests of the Allure report share: the check that this host can generate and view a report
// (Debian's chromium, Java), a local static server of the report (its scripts fetch their data: file:// does
// not work), headless Chromium through playwright-core, and opening the report's tree down to a node.
import type { Context } from "mocha";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import { findJava } from "../harness/report/generate";

export const CHROMIUM = "/usr/bin/chromium";
export const SCREENSHOTS = path.join(__dirname, "..", "..", "reports", "screenshots");

/** What this host lacks to generate and view the report, in words; undefined when nothing. */
export function missingCapability(): string | undefined {
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
export function skipWithout(ctx: Context, why: string): never {
  if (process.env.CI === "true") throw new Error(`CI needs chromium and Java for the report test: ${why}`);
  for (const t of ctx.test?.parent?.tests ?? []) t.title += ` (skipped: ${why})`;
  ctx.skip();
}

/** A static server of `root` on 127.0.0.1 (ephemeral port); files only, nothing outside root. */
export async function serve(root: string): Promise<{ url: string; server: http.Server }> {
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

export function closeServer(server: http.Server | undefined): Promise<void> {
  return new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
}

/** Debian's chromium, headless, and one page in a fresh context (playwright's own temporary profile, removed on close). */
export async function openBrowser(): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    // no sandbox: CI runs as root; no network beyond our own server
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  return { browser, page };
}

/** A node of the report's tree (Suites, Categories, ...) by its whole name. */
export function treeNode(page: Page, name: string): Locator {
  const exact = new RegExp(`^\\s*${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*$`);
  return page.locator(".node__title").filter({ has: page.locator(".node__name", { hasText: exact }) }).first();
}

/** Open the tree's groups named, in order (one already open stays open), as a reader would. */
export async function expandTree(page: Page, groups: readonly string[]): Promise<void> {
  for (const group of groups) {
    const t = treeNode(page, group);
    await t.waitFor({ timeout: 30000 });
    if (!(await t.evaluate((el) => el.parentElement?.classList.contains("node__expanded") ?? false))) await t.click();
  }
}
