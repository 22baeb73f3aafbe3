// mocha configuration: unit tests beside the code, lab suites under suites/,
// results for Allure in reports/allure-results — the lab's scenarios only, the
// unit tests' in reports/allure-unit-results (a published report shows what the
// lab tested) — with the host facts a reader of a nightly report needs and the
// failure categories, and the spec reporter on the console.
//   VPNLAB_TESTS=unit|lab   run one half only (mocha merges a --spec given on
//                           the command line with this file's, so the npm
//                           scripts select by this variable instead)
//   VPNLAB_MOCHA_JSON=FILE  also write mocha's JSON report there (.ci/run reads
//                           which tests were skipped, with their files)
"use strict";
const os = require("node:os");
const fs = require("node:fs");
const path = require("node:path");

// compiled by `npm test`'s pretest, like the specs themselves
const REPORT = path.join(__dirname, "dist/harness/report");
const { CATEGORIES, impairBackends, vpnlabVersion } = require(path.join(REPORT, "allure-env.js"));

const SPECS = {
  unit: ["dist/harness/**/*.test.js"],
  lab: ["dist/suites/**/*.spec.js"],
};
const which = process.env.VPNLAB_TESTS || "all";
if (which !== "all" && !SPECS[which]) throw new Error(`VPNLAB_TESTS=${which}: expected unit, lab or all`);

const extraReporters = ["spec"];
if (process.env.VPNLAB_MOCHA_JSON) extraReporters.push(["json", { output: process.env.VPNLAB_MOCHA_JSON }]);

module.exports = {
  spec: which === "all" ? [...SPECS.unit, ...SPECS.lab] : SPECS[which],
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
