// `vpnlab nightly` twice on a two-scenario topology, as cron would run it (stderr
// not a terminal): the first night as expected (exit 0), the second with one
// expectation deliberately wrong (exit 1, named in the summary, under its
// category in the report), and the report's trend holding both nights.
import { expect } from "chai";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ScenarioResult } from "../harness/scenario";
import { findJava } from "../harness/report/generate";
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

function night(file: string, out: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
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

  it("two nights: exit 0 then 1 on a wrong expectation, summary by name, report with a trend of two runs and the mismatch under its category", async () => {
    const dir = suiteTmp();
    const out = path.join(dir, "nightly");
    const first = await night(topology(dir, "survives"), out);
    expect(first.code, `exit ${first.code}\n${first.stdout}\n${first.stderr}`).to.equal(0);
    expect(first.stdout).to.contain("asa-ips on netns  2 as expected, 0 not, 0 lab error(s)");
    // not a terminal: plain lines, nothing rewritten
    expect(first.stderr).to.not.contain("\r");
    expect(first.stderr).to.match(/^\[2\/2\] asa-ips\/no-loss \(netns\): survives \(expected survives\)$/m);

    const second = await night(topology(dir, "fails"), out);
    expect(second.code, `exit ${second.code}\n${second.stdout}\n${second.stderr}`).to.equal(1);
    expect(second.stdout).to.match(/^ {2}MISMATCH {3}asa-ips\/no-loss on netns: expected fails, got survives/m);
    expect(second.stdout).to.contain(`report: ${path.join(out, "allure-report", "index.html")} (trend of 2 run(s)`);

    const report = path.join(out, "allure-report");
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
});
