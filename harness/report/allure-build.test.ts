import { expect } from "chai";
import { Status } from "allure-js-commons";
import type { ScenarioResult } from "../scenario";
import { buildScenarioTest, scenarioStatus, type StepSpec } from "./allure-build";
import { phase, scenarioResult } from "./testkit";

const T0 = Date.parse("2026-11-27T07:00:00.000Z");
const PHASES = [
  { ...phase("baseline", 30, 30), startMs: 0, durationMs: 3000 },
  { ...phase("chaos", 30, 3), startMs: 3000, durationMs: 3000 },
  { ...phase("recovery", 30, 0), startMs: 6000, durationMs: 3000 },
];
const CHAOS: ScenarioResult["chaos"] = [
  { atMs: 3000, appliedAtMs: 3004, on: "wan.edge", action: "loss 30%", backend: "nftables", dropped: 0 },
  { atMs: 6000, appliedAtMs: 6002, on: "wan.edge", action: "clear (end of chaos phase)", dropped: 41 },
];
/** A complete run: lab 900 ms, tunnel 300 ms, the baseline 100 ms later, 9 s of timeline, teardown at 10.5 s. */
const full = (r: Partial<ScenarioResult> = {}): ScenarioResult =>
  scenarioResult({
    phases: PHASES,
    chaos: CHAOS,
    timing: { setupMs: 900, tunnelUpMs: 300, scenarioMs: 9000, totalMs: 11000, baselineAt: T0 + 1300, teardownAt: T0 + 10500 },
    evidence: { logs: { client: "client log line" } },
    ...r,
  });

const stages = (steps: StepSpec[]): string[] => steps.map((s) => /^(lab up|tunnel up|baseline|chaos|recovery|verdict|teardown)/.exec(s.name)?.[1] ?? s.name);
const flat = (steps: StepSpec[]): StepSpec[] => steps.flatMap((s) => [s, ...flat(s.steps)]);

describe("report/allure-build", () => {
  it("labels: topology as epic, transport as feature, firewall mode as story, runtime, impl and tags", () => {
    const t = buildScenarioTest(full());
    const label = (n: string) => t.labels.filter((l) => l.name === n).map((l) => l.value);
    expect(label("epic")).to.deep.equal(["asa-ips"]);
    expect(label("feature")).to.deep.equal(["transport ctcp"]);
    expect(label("story")).to.deep.equal(["firewall full-proxy/builtin"]);
    expect(label("runtime")).to.deep.equal(["netns"]);
    expect(label("impl")).to.deep.equal(["reference"]);
    expect(label("tag")).to.include.members(["ctcp", "reference", "full-proxy/builtin", "expect-fails"]);
  });

  it("parameters: variant, loss, runtime and backend (the lab id excluded from history)", () => {
    const p = Object.fromEntries(buildScenarioTest(full()).parameters.map((x) => [x.name, x]));
    expect(p.variant.value).to.equal("ctcp-builtin");
    expect(p.loss.value).to.equal("30%");
    expect(p.runtime.value).to.equal("netns");
    expect(p.backend.value).to.equal("nftables");
    expect(p.lab.excluded).to.equal(true);
    // no loss step: no loss parameter
    expect(buildScenarioTest(full({ chaos: [] })).parameters.map((x) => x.name)).not.to.include("loss");
  });

  it("a seeded run: a seed parameter, and a step per executed chaos step with its actual time, selection, seed and schedule", () => {
    const chaos: ScenarioResult["chaos"] = [
      { atMs: 0, appliedAtMs: -35, on: "wan.edge", action: "drop packet #1", description: "drop packet #1 [tcp dport 10000 seed 7]", match: { proto: "tcp", dport: 10000 }, seed: 7, backend: "nftables" },
      { atMs: 3000, appliedAtMs: 3010, on: "wan.edge", action: "partition (drop everything)", direction: "ingress", seed: 9, schedule: "flap 1/2: down", backend: "nftables" },
      { atMs: 3500, appliedAtMs: 3507, on: "wan.edge", action: "clear (ingress)", direction: "ingress", schedule: "flap 1/2: up" },
    ];
    const t = buildScenarioTest(full({ seed: 5, chaos }));
    expect(t.parameters.find((x) => x.name === "seed")?.value).to.equal("5");
    expect(buildScenarioTest(full()).parameters.map((x) => x.name), "unseeded: no seed parameter").not.to.include("seed");
    const [baseline, chaosPhase] = t.steps.slice(2, 4);
    expect(baseline.steps.map((s) => s.name)).to.deep.equal(["drop packet #1 [tcp dport 10000 seed 7] on wan.edge at -0.04 s [nftables]"]);
    expect(baseline.steps[0].start).to.equal(T0 + 1300 - 35);
    expect(chaosPhase.steps.map((s) => [s.name, s.start - (T0 + 1300)])).to.deep.equal([
      ["partition (drop everything) [ingress seed 9] on wan.edge at 3.01 s (flap 1/2: down) [nftables]", 3010],
      ["clear (ingress) on wan.edge at 3.51 s (flap 1/2: up)", 3507],
    ]);
  });

  it("status: passed when the verdict is the one expected, failed on another, broken on a lab error", () => {
    expect(scenarioStatus(full())).to.equal(Status.PASSED);
    const failed = buildScenarioTest(full({ expect: "survives", verdict: "fails", passed: false }));
    expect(failed.status).to.equal(Status.FAILED);
    expect(failed.statusDetails.message).to.match(/^expected survives, got fails/);
    const broken = buildScenarioTest(full({ outcome: "lab-error", verdict: undefined, error: "agent on fw died" }));
    expect(broken.status).to.equal(Status.BROKEN);
    expect(broken.statusDetails.message).to.equal("lab error: agent on fw died");
  });

  it("steps: lab up, tunnel up, baseline, chaos (a step per chaos record), recovery, verdict, teardown — in order and at their measured times", () => {
    const steps = buildScenarioTest(full()).steps;
    expect(stages(steps)).to.deep.equal(["lab up", "tunnel up", "baseline", "chaos", "recovery", "verdict", "teardown"]);
    const starts = steps.map((s) => s.start);
    expect([...starts].sort((a, b) => a - b), "starts in order").to.deep.equal(starts);
    for (const s of flat(steps)) expect(s.stop, s.name).to.be.at.least(s.start);
    expect(steps[0].start).to.equal(T0);
    expect(steps[1].start).to.equal(T0 + 900);
    expect(steps[2].start).to.equal(T0 + 1300);
    const chaos = steps[3];
    expect(chaos.start).to.equal(T0 + 1300 + 3000);
    expect(chaos.steps.map((s) => s.name)).to.deep.equal(["loss 30% on wan.edge at 3.00 s [nftables], 0 packets dropped"]);
    expect(chaos.steps[0].start).to.equal(T0 + 1300 + 3004);
    expect(steps[4].steps.map((s) => s.name)).to.deep.equal(["clear (end of chaos phase) on wan.edge at 6.00 s, 41 packets dropped"]);
    expect(steps[5].name).to.equal("verdict: fails (expected fails) — the tunnel went down during chaos");
    expect(steps[5].status).to.equal(Status.PASSED);
    expect(steps[6].start).to.equal(T0 + 10500);
    expect(steps[6].stop).to.equal(T0 + 11000);
  });

  it("steps of a lab error: the stage it died in is broken and the later stages are not invented", () => {
    const noTunnel = buildScenarioTest(full({ outcome: "lab-error", verdict: undefined, error: "no IKE answer", phases: [], chaos: [], timing: { setupMs: 900, tunnelUpMs: 0, scenarioMs: 0, totalMs: 5000, teardownAt: T0 + 4800 } }));
    expect(noTunnel.steps.map((s) => [s.name, s.status])).to.deep.equal([
      ["lab up (abcde, netns)", Status.PASSED],
      ["tunnel up: never", Status.BROKEN],
      ["teardown", Status.PASSED],
    ]);
    const noLab = buildScenarioTest(full({ outcome: "lab-error", verdict: undefined, error: "no namespace", phases: [], chaos: [], timing: { setupMs: 0, tunnelUpMs: 0, scenarioMs: 0, totalMs: 300 } }));
    expect(noLab.steps.map((s) => s.status)).to.deep.equal([Status.BROKEN]);
    expect(noLab.steps[0].statusDetails?.message).to.equal("no namespace");
  });

  it("a description in words and the evidence attached: timeline, summary, events, logs, result JSON", () => {
    const t = buildScenarioTest(full({ tunnel: { clientDownAtMs: 4700 } }));
    expect(t.description).to.contain("A reference VPN tunnel over **ctcp** through a full-proxy firewall (builtin)");
    expect(t.description).to.contain("Expected **fails**, measured **fails**");
    expect(t.description).to.contain("The tunnel was declared down at 4.70 s");
    const byName = new Map(t.attachments.map((a) => [a.name, a]));
    expect(byName.get("timeline.svg")?.contentType).to.equal("image/svg+xml");
    expect(byName.get("events.txt")?.content).to.equal(["-0.10 s client: tunnel up (300 ms to come up)", "3.00 s wan.edge: loss 30% [nftables] (0 dropped)", "4.70 s client: tunnel down (DPD)", "6.00 s wan.edge: clear (end of chaos phase) (41 dropped)"].join("\n"));
    expect(byName.get("log client.txt")?.content).to.equal("client log line");
    expect(JSON.parse(byName.get("result.json")?.content ?? "")).to.have.property("variant", "ctcp-builtin");
  });

  it("history: the same scenario on the same runtime keeps its id across runs; another runtime is another test", () => {
    const a = buildScenarioTest(full({ labId: "11111" }));
    const b = buildScenarioTest(full({ labId: "22222", startedAt: "2026-11-28T07:00:00.000Z" }));
    const c = buildScenarioTest(full({ runtime: "docker" }));
    expect(a.historyId).to.equal(b.historyId);
    expect(c.historyId).not.to.equal(a.historyId);
  });
});

describe("report/allure-build: history ids", () => {
  it("the same scenario keeps its history however its file's path was written", async () => {
    const { buildScenarioTest } = await import("./allure-build");
    const { scenarioResult } = await import("./testkit");
    const a = buildScenarioTest(scenarioResult({ file: "topologies/asa-ips.yaml" }));
    const b = buildScenarioTest(scenarioResult({ file: "/srv/ci/ws@2/topologies/asa-ips.yaml" }));
    const c = buildScenarioTest(scenarioResult({ file: "topologies/asa-ips.yaml", runtime: "docker" }));
    expect(a.historyId).to.equal(b.historyId);
    expect(a.testCaseId).to.equal(b.testCaseId);
    expect(c.historyId).to.not.equal(a.historyId); // each runtime its own history
  });
});
