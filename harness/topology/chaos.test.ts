import { expect } from "chai";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { mixSeed } from "../impair/fault";
import { activeFields, type Impairment } from "../impair/impairment";
import { expandStep, expandedCount, fileWords, seedSteps, stepAction, stepDescription, withSeed, type StepPlan } from "./chaos";
import { TopologyError, loadTopology, parseTopology } from "./load";
import type { ChaosStep } from "./model";
import { FIXTURES } from "./testdata";

/** A small valid topology (defaults everywhere) to append phases and chaos to. */
const SMALL = readFileSync(path.join(FIXTURES, "good/small.yaml"), "utf8");
const on = { node: "wan", net: "edge" };
const brief = (s: ChaosStep[]) => s.map((x) => [x.atMs, x.fault ? Object.keys(x.fault.impairment).join("+") : "clear", x.schedule ?? ""]);

describe("chaos steps: mixSeed", () => {
  it("is a fixed 32-bit mix: the same (seed, index) always gives the same seed", () => {
    // pinned: a change here changes every seeded run recorded so far
    expect([mixSeed(42, 0), mixSeed(42, 1), mixSeed(42, 2), mixSeed(0, 0), mixSeed(0xffffffff, 7)]).to.deep.equal([3856264912, 3549116748, 1397300444, 2462723854, 719642249]);
    for (const [s, i] of [[0, 0], [1, 99], [0xffffffff, 0xffffffff]]) {
      const v = mixSeed(s, i);
      expect(Number.isInteger(v) && v >= 0 && v <= 0xffffffff, `${s},${i} → ${v}`).to.equal(true);
    }
  });
  it("gives the steps of one seed different seeds, and one step different seeds under different scenario seeds", () => {
    const steps = new Set(Array.from({ length: 1000 }, (_, i) => mixSeed(7, i)));
    expect(steps.size).to.equal(1000);
    const scenarios = new Set(Array.from({ length: 1000 }, (_, s) => mixSeed(s, 3)));
    expect(scenarios.size).to.equal(1000);
  });
});

describe("chaos steps: schedules expand into timed steps (pure)", () => {
  const sel = {};
  it("flap: partition / clear cycles, each step named after its cycle", () => {
    const plan: StepPlan = { kind: "flap", downMs: 500, upMs: 1000, cycles: 3, sel };
    const s = expandStep(2000, on, 9, plan);
    expect(brief(s)).to.deep.equal([
      [2000, "partition", "flap 1/3: down"],
      [2500, "clear", "flap 1/3: up"],
      [3500, "partition", "flap 2/3: down"],
      [4000, "clear", "flap 2/3: up"],
      [5000, "partition", "flap 3/3: down"],
      [5500, "clear", "flap 3/3: up"],
    ]);
    expect(s.every((x) => x.line === 9 && x.on === on)).to.equal(true);
    expect(expandedCount(plan)).to.equal(s.length);
  });
  it("burst: windows of the impairment, each closed by a clear in the same direction", () => {
    const plan: StepPlan = { kind: "burst", impairment: { loss: { kind: "random", percent: 50 } }, lengthMs: 200, everyMs: 1000, count: 2, sel: { direction: "ingress" } };
    const s = expandStep(2000, on, 3, plan);
    expect(brief(s)).to.deep.equal([
      [2000, "loss", "burst 1/2: on"],
      [2200, "clear", "burst 1/2: off"],
      [3000, "loss", "burst 2/2: on"],
      [3200, "clear", "burst 2/2: off"],
    ]);
    expect(s.map((x) => x.fault?.direction ?? x.direction)).to.deep.equal(["ingress", "ingress", "ingress", "ingress"]);
    expect(expandedCount(plan)).to.equal(4);
  });
  it("ramp: one value after another, the last left in place; partition for a duration: the partition and its clear", () => {
    const ramp: StepPlan = { kind: "ramp", impairments: [{ delayMs: 10 }, { delayMs: 50 }, { delayMs: 100 }], everyMs: 1000, sel };
    expect(brief(expandStep(2000, on, 1, ramp))).to.deep.equal([
      [2000, "delayMs", "ramp 1/3: delay 10ms"],
      [3000, "delayMs", "ramp 2/3: delay 50ms"],
      [4000, "delayMs", "ramp 3/3: delay 100ms"],
    ]);
    expect(brief(expandStep(3000, on, 1, { kind: "partition-for", forMs: 2000, sel }))).to.deep.equal([
      [3000, "partition", "partition for 2s: down"],
      [5000, "clear", "partition for 2s: up"],
    ]);
  });
  it("a step's own seed goes to every fault of its schedule and marks it as its own", () => {
    const s = expandStep(0, on, 1, { kind: "flap", downMs: 100, upMs: 100, cycles: 2, sel: { seed: 9 } });
    expect(s.map((x) => [x.fault?.seed, x.ownSeed])).to.deep.equal([[9, true], [undefined, undefined], [9, true], [undefined, undefined]]);
  });
});

describe("chaos steps: seeds", () => {
  const plain = (atMs: number, imp: Impairment, seed?: number): ChaosStep => ({ atMs, on, fault: { impairment: imp, ...(seed === undefined ? {} : { seed }) }, ...(seed === undefined ? {} : { ownSeed: true }), line: 1 });
  const steps: ChaosStep[] = [plain(0, { dropPackets: [1] }), { atMs: 1, on, clear: true, line: 2 }, plain(2, { everyNth: 3 }, 77), plain(3, { partition: true })];

  it("each fault without its own seed gets mixSeed(scenario seed, its index); clears get none; its own seed stays", () => {
    expect(seedSteps(steps, 11).map((s) => s.fault?.seed)).to.deep.equal([mixSeed(11, 0), undefined, 77, mixSeed(11, 3)]);
  });
  it("no scenario seed: the derived seeds go, the own ones stay (the backend's own randomness)", () => {
    expect(seedSteps(seedSteps(steps, 11), undefined).map((s) => s.fault?.seed)).to.deep.equal([undefined, undefined, 77, undefined]);
  });
  it("--seed wins over the file's seed: withSeed re-derives every step's seed", () => {
    const t = parseTopology(
      `${SMALL}phases: { baseline: 1s, chaos: 2s, recovery: 1s }\nseed: 1\nchaos: [{ at: 0s, on: headend.corp, drop: [1] }, { at: 1s, on: headend.corp, every: 2, seed: 5 }]\n`,
      "s.yaml",
    );
    expect(t.base.seed).to.equal(1);
    expect(t.base.chaos.map((c) => c.fault?.seed)).to.deep.equal([mixSeed(1, 0), 5]);
    const again = withSeed(t.base, 2);
    expect(again.seed).to.equal(2);
    expect(again.chaos.map((c) => c.fault?.seed)).to.deep.equal([mixSeed(2, 0), 5]);
    expect(t.base.chaos[0].fault?.seed, "the scenario it came from is unchanged").to.equal(mixSeed(1, 0));
  });
  it("a variant's seed replaces the base's; `seed:` with no value means none", () => {
    const t = loadTopology(path.join(FIXTURES, "good/faults.yaml"));
    expect([t.base.seed, t.variants.get("reseeded")?.seed, t.variants.get("unseeded")?.seed]).to.deep.equal([42, 43, undefined]);
    expect(t.variants.get("reseeded")?.chaos[0].fault?.seed).to.equal(mixSeed(43, 0));
    expect(t.variants.get("unseeded")?.chaos.flatMap((c) => (c.fault?.seed === undefined ? [] : [c.fault.seed]))).to.deep.equal([7]);
  });
});


describe("chaos steps: the file's syntax → the model", () => {
  const t = loadTopology(path.join(FIXTURES, "good/faults.yaml"));
  const at = (line: number) => t.base.chaos.filter((c) => c.line === line);

  it("reaches every field of the impairment model", () => {
    const seen = new Set(t.base.chaos.flatMap((c) => (c.fault ? activeFields(c.fault.impairment) : [])));
    const every: Impairment = {
      loss: { kind: "random", percent: 1 }, delayMs: 1, jitterMs: 1, delayCorrelation: 1, delayDistribution: "normal", duplicate: 1, duplicateCorrelation: 1,
      reorder: 1, reorderCorrelation: 1, reorderGap: 1, corrupt: 1, corruptCorrelation: 1, rateKbit: 1, limit: 1, dropPackets: [1], partition: true, everyNth: 1,
    };
    expect([...seen].sort()).to.deep.equal(activeFields(every).sort());
    const kinds = new Set(t.base.chaos.flatMap((c) => (c.fault?.impairment.loss ? [c.fault.impairment.loss.kind] : [])));
    expect([...kinds].sort()).to.deep.equal(["gemodel", "random", "state"]);
  });
  it("reads each key as the model has it", () => {
    expect(at(14)[0].fault).to.deep.equal({ impairment: { loss: { kind: "random", percent: 5, correlation: 25 } }, seed: 7 });
    expect(at(15)[0].fault?.impairment).to.deep.equal({ loss: { kind: "gemodel", p: 1, r: 10, h: 0, k: 100 } });
    expect(at(16)[0].fault?.impairment).to.deep.equal({ loss: { kind: "state", p13: 1, p31: 50, p32: 0, p23: 100, p14: 0 } });
    expect(at(17)[0].fault?.impairment).to.deep.equal({ delayMs: 100, jitterMs: 20, delayCorrelation: 25, delayDistribution: "normal" });
    expect(at(18)[0].fault?.impairment).to.deep.equal({ duplicate: 20, duplicateCorrelation: 0 });
    expect(at(19)[0].fault?.impairment).to.deep.equal({ delayMs: 10, reorder: 10, reorderCorrelation: 0, reorderGap: 5 });
    expect(at(20)[0].fault?.impairment).to.deep.equal({ corrupt: 1, corruptCorrelation: 0 });
    expect(at(21)[0].fault?.impairment).to.deep.equal({ rateKbit: 1000, limit: 1000 });
    expect(at(23)[0].fault?.impairment).to.deep.equal({ partition: true });
  });
  it("match: a node is its first link's address, an address or prefix stays as written; direction and clears' direction", () => {
    const first = at(13)[0];
    expect(first.atMs).to.equal(0);
    expect(first.fault).to.deep.include({ direction: "ingress", match: { proto: "tcp", sport: 40000, dport: 10000, src: "10.0.0.2", dst: "10.0.0.0/24" } });
    expect(first.fault?.impairment).to.deep.equal({ dropPackets: [1, 3] });
    expect(at(22)[0].fault?.match).to.deep.equal({ proto: "icmp", dst: "10.1.0.2" });
    expect(at(24)[0]).to.deep.include({ clear: true });
    expect(at(24)[0].direction).to.equal(undefined);
    expect(at(25)[0]).to.deep.include({ clear: true, direction: "ingress" });
  });
  it("schedules expand in the file's timeline, sorted, each step knowing its schedule", () => {
    expect(at(27).map((c) => [c.atMs, c.schedule])).to.deep.equal([
      [13000, "flap 1/2: down"],
      [13500, "flap 1/2: up"],
      [14500, "flap 2/2: down"],
      [15000, "flap 2/2: up"],
    ]);
    expect(at(29).map((c) => [c.atMs, c.fault?.impairment.rateKbit, c.fault?.direction])).to.deep.equal([
      [18000, 2000, "ingress"],
      [19000, 500, "ingress"],
    ]);
    const times = t.base.chaos.map((c) => c.atMs);
    expect(times).to.deep.equal([...times].sort((a, b) => a - b));
  });
  it("a schedule is never cut short: a step past the chaos phase is an error at the schedule's key, with when it would run", () => {
    const text = `${SMALL}phases: { baseline: 1s, chaos: 2s, recovery: 1s }\nchaos: [{ at: 2s, on: headend.corp, flap: { down: 500ms, up: 500ms, cycles: 2 } }]\n`;
    let e: unknown;
    try {
      parseTopology(text, "f.yaml");
    } catch (x) {
      e = x;
    }
    expect(e).to.be.instanceOf(TopologyError);
    const te = e as TopologyError;
    expect([te.line, te.col, te.key]).to.deep.equal([11, 37, "chaos[0].flap"]);
    expect(te.detail).to.equal(
      'flap expands to steps from 2s to 3.5s; its step "flap 2/2: up" at 3.5s falls after the chaos phase ends at 3s (baseline + chaos) — start it earlier, use fewer cycles, windows or values, or lengthen phases.chaos; a schedule is never cut short',
    );
    // ending exactly at the end of the chaos phase is fine
    expect(() => parseTopology(text.replace("at: 2s", "at: 1s"), "f.yaml")).not.to.throw();
  });
  it("schedules and other faults on one place: what overlaps is refused, what follows one another is not", () => {
    const withChaos = (steps: string[]) => `${SMALL}phases: { baseline: 1s, chaos: 6s, recovery: 1s }\nchaos:\n${steps.map((s) => `  - ${s}\n`).join("")}`;
    const refusal = (steps: string[]) => {
      try {
        parseTopology(withChaos(steps), "f.yaml");
        return "accepted";
      } catch (e) {
        if (e instanceof TopologyError) return `${e.line}:${e.key}: ${e.detail}`;
        throw e;
      }
    };
    const burst = "{ at: 2s, on: headend.corp, burst: { loss: 50%, length: 200ms, every: 1s, count: 3 } }";
    // the reviewer's case: a delay, then a burst whose clear would end the delay for good
    expect(refusal(["{ at: 1s, on: headend.corp, delay: 100ms }", burst])).to.match(/^13:chaos\[1\]\.burst: "burst 1\/3: on" at 2s on headend\.corp egress overlaps the step of line 12 \(delay 100ms\)/);
    // a plain fault inside a ramp's window (the ramp's next value would replace it)
    expect(refusal(["{ at: 1s, on: headend, ramp: { loss: [1%, 2%, 5%], every: 1s } }", "{ at: 2s, on: headend.corp, delay: 50ms }"])).to.match(/^13:chaos\[1\]\.at: delay 50ms at 2s on headend\.corp egress overlaps the ramp of line 12 \(its window runs from 1s to 3s\)/);
    // two schedules on one place
    expect(refusal([burst, "{ at: 2.1s, on: headend.corp, flap: { down: 100ms, up: 100ms, cycles: 2 } }"])).to.match(/^13:chaos\[1\]\.flap: "flap 1\/2: down" at 2\.1s on headend\.corp egress overlaps the burst of line 12 \(its window runs from 2s to 4\.2s\)/);
    for (const ok of [
      [burst, "{ at: 2s, on: headend.corp, direction: ingress, delay: 100ms }"], // another direction
      [burst, "{ at: 2s, on: headend.home, delay: 100ms }"], // another net
      ["{ at: 1s, on: headend.corp, delay: 100ms }", "{ at: 1.5s, on: headend.corp, clear: true }", burst], // cleared first
      [burst, "{ at: 5s, on: headend.corp, delay: 100ms }"], // after the burst's last window
      [burst, "{ at: 2.5s, on: headend.corp, flap: { down: 100ms, up: 100ms, cycles: 2 } }"], // between the burst's windows: nothing in place is lost
      ["{ at: 1s, on: headend.corp, ramp: { loss: [1%, 2%], every: 1s } }", "{ at: 3s, on: headend.corp, delay: 50ms }"], // after the ramp's last value
      ["{ at: 1s, on: headend.corp, loss: 1% }", "{ at: 2s, on: headend.corp, loss: 5% }"], // one plain step replacing another, as ever
    ]) {
      expect(refusal(ok), ok.join(" + ")).to.equal("accepted");
    }
  });
  it("model validation errors speak the file's keys", () => {
    expect(fileWords("invalid impairment (delayCorrelation): a delay correlation or distribution shapes the jitter: set jitterMs > 0")).to.equal(
      "a delay correlation or distribution shapes the jitter: set jitter > 0",
    );
  });
  it("describes a step: plain loss as the records always said it, the rest in the model's words", () => {
    expect(stepAction({ fault: { impairment: { loss: { kind: "random", percent: 5 } } } })).to.equal("loss 5%");
    expect(stepAction({ clear: true, direction: "ingress" })).to.equal("clear (ingress)");
    expect(stepDescription({ fault: { impairment: { dropPackets: [1] }, match: { proto: "udp", dport: 7 }, seed: 3 } })).to.equal("drop packet #1 [udp dport 7 seed 3]");
  });
});
