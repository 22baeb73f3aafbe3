import { expect } from "chai";
import * as path from "node:path";
import { loadTopology } from "../topology/load";
import { ROOT } from "../topology/testdata";
import { UsageError } from "./command";
import { axisImpairment, parseAxisValues, sweptScenario } from "./sweep";

const asa = loadTopology(path.join(ROOT, "topologies", "asa-ips.yaml"));
const variant = (v: string) => (v === "base" ? asa.base : asa.variants.get(v)!);

describe("cli/sweep: the points of a sweep", () => {
  it("values in the axis' unit, ascending, once; a bare number takes the list's unit", () => {
    expect(parseAxisValues("loss", "0,1,2,5,10,20")).to.deep.equal([0, 1, 2, 5, 10, 20]);
    expect(parseAxisValues("loss", "5%,1%,5,0")).to.deep.equal([0, 1, 5]);
    expect(parseAxisValues("delay", "0,50,200ms")).to.deep.equal([0, 50, 200]);
    expect(parseAxisValues("delay", "0,1s")).to.deep.equal([0, 1000]);
    expect(parseAxisValues("rate", "500kbit,1mbit,2")).to.deep.equal([500, 1000, 2000]);
    expect(parseAxisValues("every", "0,10,5")).to.deep.equal([0, 5, 10]);
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
});
