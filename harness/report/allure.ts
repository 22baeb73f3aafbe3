// Publish one scenario into the running Allure test (allure-mocha): the labels, parameters,
// description, timed steps and attachments of allure-build.ts, sent as the facade's runtime
// messages so that the steps keep their measured start and stop.
import * as fs from "node:fs";
import * as allure from "allure-js-commons";
import type { StatusDetails } from "allure-js-commons";
// moduleResolution "node" does not read package exports: the subpath's types come by their file
import type { TestRuntime } from "allure-js-commons/dist/types/sdk/runtime/types";
import type { RuntimeMessage } from "allure-js-commons/dist/types/sdk/types";
import type { ScenarioResult } from "../scenario";
import type { Scenario } from "../topology/model";
import { buildScenarioTest, type StepSpec } from "./allure-build";
import { scenarioOf } from "./allure-files";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { getGlobalTestRuntime } = require("allure-js-commons/sdk/runtime") as { getGlobalTestRuntime: () => TestRuntime };

type MessageRuntime = TestRuntime & { sendMessage: (m: RuntimeMessage) => Promise<void> };

const hasMessages = (rt: TestRuntime): rt is MessageRuntime => typeof (rt as Partial<MessageRuntime>).sendMessage === "function";

async function sendStep(rt: MessageRuntime, s: StepSpec): Promise<void> {
  await rt.sendMessage({ type: "step_start", data: { name: s.name, start: s.start } });
  for (const sub of s.steps) await sendStep(rt, sub);
  const details: StatusDetails | undefined = s.statusDetails;
  await rt.sendMessage({ type: "step_stop", data: { stop: s.stop, status: s.status, ...(details ? { statusDetails: details } : {}) } });
}

/** The mocha test's own name, status and history stay mocha's; the rest comes from the scenario. */
export async function publishResult(r: ScenarioResult, scenario?: Scenario): Promise<void> {
  const resolved = scenario ? { scenario } : scenarioOf(r);
  const t = buildScenarioTest(r, resolved.scenario);
  await allure.labels(...t.labels);
  for (const p of t.parameters) await allure.parameter(p.name, p.value, p.excluded ? { excluded: true } : undefined);
  await allure.description(t.description);
  const rt = getGlobalTestRuntime();
  if (hasMessages(rt)) {
    for (const s of t.steps) await sendStep(rt, s);
  } else {
    // a runtime without messages (not allure-mocha): the steps without their times
    for (const s of t.steps) await allure.logStep(s.name, s.status);
  }
  if (resolved.why) await allure.attachment("topology (resolved).txt", `not resolved: ${resolved.why}`, "text/plain");
  for (const a of t.attachments) {
    if (a.path !== undefined) {
      if (fs.existsSync(a.path)) await allure.attachmentPath(a.name, a.path, { contentType: a.contentType, fileExtension: a.fileExtension });
    } else await allure.attachment(a.name, a.content ?? "", { contentType: a.contentType, fileExtension: a.fileExtension });
  }
}
