import { expect } from "chai";
import * as path from "node:path";
import { loadTopology } from "../topology/load";
import { ROOT } from "../topology/testdata";
import { UsageError } from "./command";
import { mixSeed } from "../impair/fault";
import { axisImpairment, axisLabel, parseAxisValues, runSeed, sweepCells, sweptScenario } from "./sweep";

const asa = loadTopology(path.join(ROOT, "topologies", "asa-ips.yaml"));
const variant = (v: string) => (v === "base" ? asa.base : asa.variants.get(v)!);

describe("cli/sweep: the points of a sweep", () => {
  it("values in the axis' unit, mildest first, once; a bare number takes the list's unit", () => {
    expect(parseAxisValues("loss", "0,1,2,5,10,20")).to.deep.equal([0, 1, 2, 5, 10, 20]);
    expect(parseAxisValues("loss", "5%,1%,5,0")).to.deep.equal([0, 1, 5]);
    expect(parseAxisValues("delay", "0,50,200ms")).to.deep.equal([0, 50, 200]);
    expect(parseAxisValues("delay", "0,1s")).to.deep.equal([0, 1000]);
    // a lower rate is harsher: the mildest (fastest) first
    expect(parseAxisValues("rate", "500kbit,1mbit,2")).to.deep.equal([2000, 1000, 500]);
    expect(parseAxisValues("rate", "100,500,2000kbit")).to.deep.equal([2000, 500, 100]);
    // every N: 0 is none (mildest), then the larger N (fewer drops) first
    expect(parseAxisValues("every", "0,10,5")).to.deep.equal([0, 10, 5]);
    expect(parseAxisValues("every", "2,0,50,5")).to.deep.equal([0, 50, 5, 2]);
    expect([axisLabel("every", 0), axisLabel("every", 5), axisLabel("rate", 500)]).to.deep.equal(["none", "every 5", "500kbit"]);
    expect(() => parseAxisValues("loss", "0,,5")).to.throw(UsageError, "an empty value in the list");
    expect(() => parseAxisValues("loss", "0,120")).to.throw(UsageError, "--loss 120: must be a percent in 0..100");
    expect(() => parseAxisValues("rate", "0,1mbit")).to.throw(UsageError, /bandwidth "0mbit" is 0/);
  });

  it("each axis sets its model field; 0 sets nothing", () => {
    expect(axisImpairment("loss", 5)).to.deep.equal({ loss: { kind: "random", percent: 5 } });
    expect(axisImpairment("loss", 0)).to.deep.equal({});
    expect(axisImpairment("delay", 50)).to.deep.equal({ delayMs: 50 });
    expect(axisImpairment("duplicate", 20)).to.deep.equal({ duplicate: 20 });
    expect(axisImpairment("rate", 1000)).to.deep.equal({ rateKbit: 1000 });
    expect(axisImpairment("every", 3)).to.deep.equal({ everyNth: 3 });
  });

  it("the impairing steps do the swept impairment, at their own target and time; clears stay", () => {
    const s = sweptScenario(variant("natt"), asa.base, { loss: { kind: "random", percent: 10 } });
    const faults = s.chaos.filter((st) => st.fault);
    expect(faults.length).to.be.greaterThan(0);
    for (const st of faults) expect(st.fault!.impairment).to.deep.equal({ loss: { kind: "random", percent: 10 } });
    expect(s.chaos.map((st) => [st.atMs, st.on, !!st.clear])).to.deep.equal(variant("natt").chaos.map((st) => [st.atMs, st.on, !!st.clear]));
  });

  it("a variant without an impairing step borrows the base's; value 0 alone drops the faults", () => {
    const control = variant("ctcp-no-loss");
    expect(control.chaos.filter((st) => st.fault)).to.deep.equal([]);
    const s = sweptScenario(control, asa.base, { delayMs: 50 });
    expect(s.chaos.map((st) => [st.atMs, st.on, st.fault?.impairment])).to.deep.equal(asa.base.chaos.map((st) => [st.atMs, st.on, st.fault ? { delayMs: 50 } : undefined]));
    expect(sweptScenario(asa.base, asa.base, {}).chaos.filter((st) => st.fault)).to.deep.equal([]);
    expect(() => sweptScenario(control, control, { delayMs: 5 })).to.throw(UsageError, "variant ctcp-no-loss has no chaos step that impairs, nor has the base");
  });

  it("a seeded sweep gives each run its own seed: run 1 the seed itself, run r+1 mixSeed(seed, r); unseeded runs stay unseeded", () => {
    const { cells, runSeeds } = sweepCells([variant("natt")], asa.base, "loss", [0, 5], {}, 3, 7);
    expect(runSeeds).to.deep.equal([7, mixSeed(7, 1), mixSeed(7, 2)]);
    expect(new Set(runSeeds).size, `run seeds ${runSeeds}`).to.equal(3);
    const at5 = cells.filter((c) => c.value === 5);
    expect(at5.map((c) => c.scenario.seed)).to.deep.equal(runSeeds);
    expect(runSeed(7, 0)).to.equal(7);
    // the faults' seeds (per step) differ from run to run too: the runs are not one run replayed
    const faultSeeds = at5.map((c) => c.scenario.chaos.filter((st) => st.fault).map((st) => st.fault!.seed).join(","));
    expect(new Set(faultSeeds).size, `fault seeds per run: ${faultSeeds.join(" | ")}`).to.equal(3);
    const unseeded = sweepCells([variant("natt")], asa.base, "loss", [5], {}, 2, undefined);
    expect(unseeded.cells.map((c) => c.scenario.seed)).to.deep.equal([undefined, undefined]);
    expect(unseeded.runSeeds).to.equal(undefined);
    // the file's seed: governs like --seed when none is given
    const fileSeeded = { ...variant("natt"), seed: 9 };
    expect(sweepCells([fileSeeded], asa.base, "loss", [5], {}, 2, undefined).cells.map((c) => c.scenario.seed)).to.deep.equal([9, mixSeed(9, 1)]);
  });
});
