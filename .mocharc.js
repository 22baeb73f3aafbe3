// mocha configuration: unit tests beside the code, lab suites under suites/,
// results for Allure in reports/allure-results — the lab's scenarios only, the
// unit tests' in reports/allure-unit-results (a published report shows what the
// lab tested) — with the host facts a reader of a nightly report needs and the
// failure categories, and the spec reporter on the console.
//   VPNLAB_TESTS=GROUP      run one group only (scripts/test-all.js, which the
//                           npm scripts run, sets it for each mocha it starts):
//     unit  harness/**/*.test.js without the "(root" ones: no root, nothing
//           created outside a temp dir (the lab records go to one), ≤ 60 s
//     root  harness/**/*.test.js whose describe/it title says "(root…)": they
//           need root or the kernel (namespaces, nftables, TUN, daemons)
//     lab   suites/**/*.spec.js (root, the lab's programs, Docker)
//     all   everything (the default; `npm test` runs it in parallel jobs,
//           scripts/test-all.js)
//   Files named on the command line (`npx mocha dist/x.test.js`) are run alone,
//   with the group's title filter when VPNLAB_TESTS is set too.
//   VPNLAB_MOCHA_JSON=FILE  also write mocha's JSON report there (.ci/run reads
//                           which tests were skipped, with their files)
"use strict";
const os = require("node:os");
const fs = require("node:fs");
const path = require("node:path");

const HARNESS = ["dist/harness/**/*.test.js"];
const LAB = ["dist/suites/**/*.spec.js"];
/** A test needs root or the kernel when its title or a describe around it says "(root" — "(root)", "(root, namespaces)". */
const ROOT_TITLE = "\\(root\\b";
const GROUPS = {
  unit: { spec: HARNESS, grep: ROOT_TITLE, invert: true },
  root: { spec: HARNESS, grep: ROOT_TITLE },
  lab: { spec: LAB },
  all: { spec: [...HARNESS, ...LAB] },
};
const which = process.env.VPNLAB_TESTS || "all";
const group = GROUPS[which];
if (!group) throw new Error(`VPNLAB_TESTS=${which}: expected ${Object.keys(GROUPS).join(", ")}`);
// spec files on mocha's command line: those alone (mocha would add this file's spec to them)
const named = process.argv.slice(2).filter((a) => !a.startsWith("-") && /\.[cm]?js$/.test(a) && fs.existsSync(a));
if (which === "unit") {
  // the quick loop creates nothing outside a temp dir: the lab records a unit test writes go to one, removed at exit
  if (!process.env.VPNLAB_STATE_DIR) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vpnlab-unit-"));
    process.env.VPNLAB_STATE_DIR = dir;
    process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  // 1000 mutated topologies in the quick loop (4000 in `npm test`, FUZZ_RUNS to choose)
  process.env.FUZZ_RUNS ??= "1000";
}

// compiled by `npm test`'s pretest, like the specs themselves
const REPORT = path.join(__dirname, "dist/harness/report");
const { CATEGORIES, impairBackends, vpnlabVersion } = require(path.join(REPORT, "allure-env.js"));

const extraReporters = ["spec"];
if (process.env.VPNLAB_MOCHA_JSON) extraReporters.push(["json", { output: process.env.VPNLAB_MOCHA_JSON }]);

module.exports = {
  spec: named.length > 0 ? [] : group.spec,
  ...(group.grep ? { grep: group.grep } : {}),
  ...(group.invert ? { invert: true } : {}),
  timeout: 120000,
  // a forgotten it.only/describe.only would silently run a fraction of the suite and pass
  forbidOnly: true,
  reporter: "allure-mocha",
  reporterOptions: {
    resultsDir: "reports/allure-results",
    // the scenarios (suites/) to resultsDir, every other test to unitDir; executor.json under CI
    writer: [path.join(REPORT, "allure-split-writer.js"), { labDir: "reports/allure-results", unitDir: "reports/allure-unit-results" }],
    categories: CATEGORIES,
    extraReporters,
    environmentInfo: {
      // the default runtime of Lab.up in this run (a suite may name another; each result records its own)
      "vpnlab.runtime": process.env.VPNLAB_RUNTIME || "netns",
      "vpnlab.version": vpnlabVersion(),
      kernel: os.release(),
      node: process.version,
      host: os.hostname(),
      cpus: String(os.cpus().length),
      netem: fs.existsSync("/sys/module/sch_netem") ? "loaded" : "not loaded (loss via nftables)",
      "impairment.backends": impairBackends(),
    },
  },
};
