import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Stage, Status, type TestResult } from "allure-js-commons";
import SplitWriter = require("./allure-split-writer");

const result = (uuid: string, fullName: string, scenario = false): TestResult => ({ uuid, fullName, name: uuid, status: Status.PASSED, statusDetails: {}, stage: Stage.FINISHED, steps: [], attachments: [], parameters: [], labels: scenario ? [{ name: "vpnlab.scenario", value: "asa-ips/base" }] : [], links: [] });

describe("report/allure-split-writer", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "vpnlab-split-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("tells a published scenario (its vpnlab.scenario label) from every other test, lab suites' own included", () => {
    expect(SplitWriter.isScenario({ labels: [{ name: "epic", value: "asa-ips" }, { name: "vpnlab.scenario", value: "asa-ips/base" }] })).to.equal(true);
    expect(SplitWriter.isScenario({ labels: [{ name: "suite", value: "vpnlab command line" }] })).to.equal(false);
    expect(SplitWriter.isScenario({ labels: [] })).to.equal(false);
  });

  it("scenarios to the lab directory, unit tests (and their suites' groups) to the other; environment and categories to both", () => {
    const labDir = path.join(dir, "lab");
    const unitDir = path.join(dir, "unit");
    const w = new SplitWriter({ labDir, unitDir });
    w.writeResult(result("aaaa", "dist/suites/asa-ips.spec.js: asa-ips base", true));
    w.writeResult(result("cccc", "dist/suites/cli.spec.js: vpnlab command line gc"));
    w.writeResult(result("bbbb", "dist/harness/report/table.test.js: report/table one"));
    w.writeGroup({ uuid: "g1", children: ["bbbb"], befores: [], afters: [] });
    w.writeGroup({ uuid: "g2", children: ["aaaa"], befores: [], afters: [] });
    w.writeEnvironmentInfo({ kernel: "6.1" });
    w.writeCategoriesDefinitions([{ name: "Lab errors", matchedStatuses: [Status.BROKEN] }]);
    expect(fs.readdirSync(labDir).sort()).to.deep.equal(["aaaa-result.json", "categories.json", "environment.properties", "g2-container.json"]);
    expect(fs.readdirSync(unitDir).sort()).to.deep.equal(["bbbb-result.json", "categories.json", "cccc-result.json", "environment.properties", "g1-container.json"]);
  });
});
