// mocha configuration: unit tests beside the code, lab suites under suites/,
// results for Allure in reports/allure-results (with the host facts a reader
// of a nightly report needs), and the spec reporter on the console.
"use strict";
const os = require("node:os");
const fs = require("node:fs");

module.exports = {
  spec: ["dist/harness/**/*.test.js", "dist/suites/**/*.spec.js"],
  timeout: 120000,
  reporter: "allure-mocha",
  reporterOptions: {
    resultsDir: "reports/allure-results",
    extraReporters: "spec",
    environmentInfo: {
      "vpnlab.runtime": "netns",
      kernel: os.release(),
      node: process.version,
      host: os.hostname(),
      cpus: String(os.cpus().length),
      netem: fs.existsSync("/sys/module/sch_netem") ? "loaded" : "not loaded (loss via nftables)",
    },
  },
};
