// An allure-js-commons Writer for .mocharc.js: the lab's scenarios (tests from suites/) go to the
// results directory a lab engineer publishes, the project's own unit tests to another, so that a
// report shows the scenarios and not hundreds of unit tests. Both get environment and categories;
// the lab directory also gets executor.json when a CI job runs us.
// Loaded by allure-mocha as reporterOptions.writer = [require.resolve(this file), { labDir, unitDir }].
import * as fs from "node:fs";
import * as path from "node:path";
import type { Globals, TestResult, TestResultContainer } from "allure-js-commons";
// moduleResolution "node" does not read package exports: the subpath's types come by their file
import type { FileSystemWriter as FileSystemWriterClass } from "allure-js-commons/dist/types/sdk/reporter/writer/FileSystemWriter";
import type { Writer } from "allure-js-commons/dist/types/sdk/reporter/types";
import type { Category, EnvironmentInfo } from "allure-js-commons/dist/types/sdk/types";
import { SCENARIO_LABEL, executorFromEnv } from "./allure-env";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { FileSystemWriter } = require("allure-js-commons/sdk/reporter") as { FileSystemWriter: typeof FileSystemWriterClass };

class SplitWriter implements Writer {
  private readonly lab: FileSystemWriterClass;
  private readonly unit: FileSystemWriterClass;
  private readonly unitTests = new Set<string>();

  /**
   * A scenario of the lab: the test published a ScenarioResult (publishResult labels it). The lab suites'
   * other tests (the CLI, lifecycle, runtimes, …) test the project, not a VPN, and go with the unit tests.
   */
  static isScenario(result: Pick<TestResult, "labels">): boolean {
    return (result.labels ?? []).some((l) => l.name === SCENARIO_LABEL);
  }

  constructor(private readonly dirs: { labDir: string; unitDir: string }) {
    for (const d of [dirs.labDir, dirs.unitDir]) fs.mkdirSync(d, { recursive: true });
    this.lab = new FileSystemWriter({ resultsDir: dirs.labDir });
    this.unit = new FileSystemWriter({ resultsDir: dirs.unitDir });
    const executor = executorFromEnv();
    if (executor) fs.writeFileSync(path.join(dirs.labDir, "executor.json"), JSON.stringify(executor, null, 2));
  }

  writeResult(result: TestResult): void {
    if (SplitWriter.isScenario(result)) this.lab.writeResult(result);
    else {
      this.unitTests.add(result.uuid);
      this.unit.writeResult(result);
    }
  }

  /** A suite's fixtures go with its tests: to the unit directory when every test of it went there. */
  writeGroup(group: TestResultContainer): void {
    const unit = group.children.length > 0 && group.children.every((c) => this.unitTests.has(c));
    (unit ? this.unit : this.lab).writeGroup(group);
  }

  // written before the result that names them, so where they belong is not known yet: the lab's
  // directory, where the scenarios' evidence is (an unused file there is ignored by Allure)
  writeAttachment(name: string, content: Buffer): void {
    this.lab.writeAttachment(name, content);
  }

  writeAttachmentFromPath(name: string, from: string): void {
    this.lab.writeAttachmentFromPath(name, from);
  }

  writeEnvironmentInfo(info: EnvironmentInfo): void {
    this.lab.writeEnvironmentInfo(info);
    this.unit.writeEnvironmentInfo(info);
  }

  writeCategoriesDefinitions(categories: Category[]): void {
    this.lab.writeCategoriesDefinitions(categories);
    this.unit.writeCategoriesDefinitions(categories);
  }

  writeGlobals(name: string, globals: Globals): void {
    this.lab.writeGlobals(name, globals);
  }
}

// allure-js-commons' loader requires the module and calls it as the constructor
export = SplitWriter;
