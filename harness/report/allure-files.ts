// Allure results without a test runner: <uuid>-result.json and its attachments, written by
// allure-js-commons' own FileSystemWriter into a results directory (Allure 2's format), plus
// environment.properties, categories.json and executor.json. `vpnlab run --allure DIR` uses it.
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import { Stage, type Attachment, type StepResult, type TestResult } from "allure-js-commons";
// moduleResolution "node" does not read package exports: the subpath's types come by their file,
// the class through the exported subpath
import type { FileSystemWriter as FileSystemWriterClass } from "allure-js-commons/dist/types/sdk/reporter/writer/FileSystemWriter";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { FileSystemWriter } = require("allure-js-commons/sdk/reporter") as { FileSystemWriter: typeof FileSystemWriterClass };
type FileSystemWriter = FileSystemWriterClass;
import type { ScenarioResult } from "../scenario";
import type { Scenario } from "../topology/model";
import { loadTopology } from "../topology/load";
import { buildScenarioTest, type AttachmentSpec, type ScenarioTest, type StepSpec } from "./allure-build";
import { CATEGORIES, environmentInfo, executorFromEnv, type Executor } from "./allure-env";

/** Attachments written under their uuid names; a missing source file (a pcap gone) is left out, not a dangling link. */
function writeAttachments(writer: FileSystemWriter, specs: readonly AttachmentSpec[]): Attachment[] {
  const out: Attachment[] = [];
  for (const a of specs) {
    const source = `${randomUUID()}-attachment.${a.fileExtension}`;
    if (a.path !== undefined) {
      if (!fs.existsSync(a.path)) continue;
      writer.writeAttachmentFromPath(source, a.path);
    } else {
      writer.writeAttachment(source, Buffer.from(a.content ?? "", "utf8"));
    }
    out.push({ name: a.name, type: a.contentType, source });
  }
  return out;
}

function toStep(s: StepSpec): StepResult {
  return {
    name: s.name,
    status: s.status,
    statusDetails: s.statusDetails ?? {},
    stage: Stage.FINISHED,
    start: s.start,
    stop: s.stop,
    steps: s.steps.map(toStep),
    attachments: [],
    parameters: [],
  };
}

/** The Allure 2 result of one built scenario test, its attachments already written. */
export function toTestResult(t: ScenarioTest, attachments: Attachment[], uuid = randomUUID()): TestResult {
  return {
    uuid,
    name: t.name,
    fullName: t.fullName,
    historyId: t.historyId,
    testCaseId: t.testCaseId,
    status: t.status,
    statusDetails: t.statusDetails,
    stage: Stage.FINISHED,
    description: t.description,
    labels: t.labels,
    links: [],
    parameters: t.parameters,
    start: t.start,
    stop: t.stop,
    steps: t.steps.map(toStep),
    attachments,
  };
}

/**
 * The scenario a result ran, read again from its topology file (the suites publish a result
 * without it); a file that no longer loads or lacks the variant gives undefined and the reason.
 */
export function scenarioOf(r: Pick<ScenarioResult, "file" | "variant">): { scenario?: Scenario; why?: string } {
  try {
    const t = loadTopology(r.file);
    const s = r.variant === "base" ? t.base : t.variants.get(r.variant);
    return s ? { scenario: s } : { why: `${r.file} has no variant ${r.variant} any more` };
  } catch (e) {
    return { why: (e as Error).message };
  }
}

/** Writes one scenario's result and attachments into `dir`; returns the result's file name. */
export function writeScenarioResult(dir: string, r: ScenarioResult, scenario?: Scenario): string {
  fs.mkdirSync(dir, { recursive: true });
  const writer = new FileSystemWriter({ resultsDir: dir });
  const t = buildScenarioTest(r, scenario);
  const result = toTestResult(t, writeAttachments(writer, t.attachments));
  writer.writeResult(result);
  return `${result.uuid}-result.json`;
}

/** environment.properties, categories.json and executor.json (when a CI job runs us) for a results directory. */
export async function writeRunFiles(dir: string, runtimes: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ executor?: Executor }> {
  fs.mkdirSync(dir, { recursive: true });
  const writer = new FileSystemWriter({ resultsDir: dir });
  writer.writeEnvironmentInfo(await environmentInfo(runtimes));
  writer.writeCategoriesDefinitions(CATEGORIES);
  const executor = executorFromEnv(env);
  // FileSystemWriter has no executor.json: Allure 2 reads it as plain JSON beside the results
  if (executor) fs.writeFileSync(`${dir}/executor.json`, JSON.stringify(executor, null, 2));
  return executor ? { executor } : {};
}

/** The run files an Allure writer leaves beside the results (writeRunFiles). */
const RUN_FILES = new Set(["environment.properties", "categories.json", "executor.json"]);

/** Allure's own files by name: <uuid>-result.json, -container.json, -attachment.<ext>, and the run files. Nothing else. */
export function isAllureFile(name: string): boolean {
  return RUN_FILES.has(name) || /-(result|container)\.json$/.test(name) || /-attachment\.[^/]+$/.test(name);
}

/** How many results of earlier runs a results directory holds (0 when it does not exist). */
export function earlierResults(dir: string): number {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter((f) => f.isFile() && f.name.endsWith("-result.json")).length;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw e;
  }
}

/**
 * Remove Allure's own files from a results directory (regular files only, by isAllureFile): anything else there —
 * a carried history/, a user's notes — is left alone. Returns the names removed.
 */
export function cleanResults(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  const removed: string[] = [];
  for (const name of names.filter(isAllureFile).sort()) {
    const f = `${dir}/${name}`;
    if (!fs.lstatSync(f).isFile()) continue;
    fs.unlinkSync(f);
    removed.push(name);
  }
  return removed;
}
