import { expect } from "chai";
import * as path from "node:path";
import type { TestRuntime } from "allure-js-commons/dist/types/sdk/runtime/types";
import type { MessageHolderTestRuntime as Holder } from "allure-js-commons/dist/types/sdk/runtime/MessageHolderTestRuntime";
import type { RuntimeMessage } from "allure-js-commons/dist/types/sdk/types";
import { publishResult } from "./allure";
import { phase, scenarioResult } from "./testkit";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const rt = require("allure-js-commons/sdk/runtime") as { MessageHolderTestRuntime: new () => Holder; getGlobalTestRuntime: () => TestRuntime; setGlobalTestRuntime: (r: TestRuntime) => void };

const T0 = Date.parse("2026-11-27T07:00:00.000Z");
const ASA = path.join(__dirname, "../../../topologies/asa-ips.yaml");

describe("report/allure (into the running test)", () => {
  let before: TestRuntime;
  let holder: Holder;
  beforeEach(() => {
    before = rt.getGlobalTestRuntime();
    holder = new rt.MessageHolderTestRuntime();
    rt.setGlobalTestRuntime(holder);
  });
  afterEach(() => rt.setGlobalTestRuntime(before));

  it("sends the labels, the steps with their measured times (nested chaos steps inside their phase) and the attachments, the resolved topology among them", async () => {
    const r = scenarioResult({
      file: ASA,
      variant: "base",
      phases: [
        { ...phase("baseline", 30, 30), startMs: 0, durationMs: 3000 },
        { ...phase("chaos", 30, 0), startMs: 3000, durationMs: 3000 },
        { ...phase("recovery", 30, 0), startMs: 6000, durationMs: 3000 },
      ],
      timing: { setupMs: 900, tunnelUpMs: 300, scenarioMs: 9000, totalMs: 11000, baselineAt: T0 + 1300, teardownAt: T0 + 10500 },
    });
    await publishResult(r);
    const msgs: RuntimeMessage[] = holder.messages();
    const labels = msgs.flatMap((m) => (m.type === "metadata" ? (m.data.labels ?? []) : []));
    expect(labels).to.deep.include({ name: "epic", value: "asa-ips" });
    const steps = msgs.filter((m) => m.type === "step_start" || m.type === "step_stop");
    // every start has its stop, nested: a chaos step opens inside the phase it was applied in (the testkit's at 2 s: the baseline)
    let depth = 0;
    const opened: string[] = [];
    for (const m of steps) {
      if (m.type === "step_start") {
        depth++;
        opened.push(`${depth}:${m.data.name.split(/[:(]/)[0].trim()}`);
      } else depth--;
      expect(depth).to.be.at.least(0);
    }
    expect(depth).to.equal(0);
    expect(opened).to.deep.equal(["1:lab up", "1:tunnel up", "1:baseline", "2:loss 5% on wan.edge at 2.00 s [nftables]", "1:chaos", "1:recovery", "1:verdict", "1:teardown"]);
    const first = steps[0];
    expect(first.type === "step_start" && first.data.start).to.equal(T0);
    const names = msgs.flatMap((m) => (m.type === "attachment_content" ? [m.data.name] : []));
    expect(names).to.include.members(["timeline.svg", "topology (resolved).txt", "events.txt", "result.json"]);
  });
});
