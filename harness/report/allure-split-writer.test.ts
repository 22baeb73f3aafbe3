import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Stage, Status, type TestResult } from "allure-js-commons";
import SplitWriter = require("./allure-split-writer");

const result = (uuid: string, fullName: string): TestResult => ({ uuid, fullName, name: uuid, status: Status.PASSED, statusDetails: {}, stage: Stage.FINISHED, steps: [], attachments: [], parameters: [], labels: [], links: [] });

describe("report/allure-split-writer", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "vpnlab-split-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("tells the lab's suites from the unit tests by the spec file in allure-mocha's full name", () => {
    expect(SplitWriter.isLabTest("dist/suites/asa-ips.spec.js: asa-ips: cTCP behind a full TCP proxy base: ctcp")).to.equal(true);
    expect(SplitWriter.isLabTest("dist/harness/vpn/ctcp/stream.test.js: ctcp stream suites/x.spec.js: y")).to.equal(false);
    expect(SplitWriter.isLabTest("dist/harness/report/table.test.js: report/table")).to.equal(false);
    expect(SplitWriter.isLabTest("vpnlab:dist/suites/matrix.spec.js: matrix cell")).to.equal(true);
    expect(SplitWriter.isLabTest("vpnlab:suites/matrix.spec.ts: matrix cell")).to.equal(true);
    expect(SplitWriter.isLabTest(undefined)).to.equal(false);
  });

  it("scenarios to the lab directory, unit tests (and their suites' groups) to the other; environment and categories to both", () => {
    const labDir = path.join(dir, "lab");
    const unitDir = path.join(dir, "unit");
    const w = new SplitWriter({ labDir, unitDir });
    w.writeResult(result("aaaa", "dist/suites/asa-ips.spec.js: asa-ips base"));
    w.writeResult(result("bbbb", "dist/harness/report/table.test.js: report/table one"));
    w.writeGroup({ uuid: "g1", children: ["bbbb"], befores: [], afters: [] });
    w.writeGroup({ uuid: "g2", children: ["aaaa"], befores: [], afters: [] });
    w.writeEnvironmentInfo({ kernel: "6.1" });
    w.writeCategoriesDefinitions([{ name: "Lab errors", matchedStatuses: [Status.BROKEN] }]);
    expect(fs.readdirSync(labDir).sort()).to.deep.equal(["aaaa-result.json", "categories.json", "environment.properties", "g2-container.json"]);
    expect(fs.readdirSync(unitDir).sort()).to.deep.equal(["bbbb-result.json", "categories.json", "environment.properties", "g1-container.json"]);
  });
});
