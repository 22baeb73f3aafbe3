import { expect } from "chai";
import { phaseAt, worstStall } from "./scenario";
import type { Scenario } from "./topology/model";

describe("scenario: phaseAt (when a harness fault happened)", () => {
  const s = { phases: { baselineMs: 2000, chaosMs: 4000, recoveryMs: 4000 } } as Scenario;
  it("reads the phase from the scenario's windows, not from how far the code got", () => {
    expect([0, 1999, 2000, 5999, 6000, 9999, 10000, 12000].map((t) => phaseAt(s, t))).to.deep.equal([
      "baseline", "baseline", "chaos", "chaos", "recovery", "recovery", "verdict", "verdict",
    ]);
  });
});

describe("scenario: worstStall (the host holding the harness up)", () => {
  const chaos = (atMs: number, appliedAtMs: number) => ({ atMs, appliedAtMs, on: "wan.edge", action: "loss 5%" });
  it("names the worst of the agents, vpnlab's own loop and a late chaos step", () => {
    const evidence = { loopLag: { client: { maxMs: 40, p99Ms: 12 }, server: { maxMs: 90, p99Ms: 20 } } };
    expect(worstStall({ evidence, chaos: [chaos(2000, 2004)] }, { maxMs: 30, p99Ms: 10 })).to.deep.equal({ what: "the agent on server", ms: 90 });
    expect(worstStall({ evidence, chaos: [chaos(2000, 2004)] }, { maxMs: 700, p99Ms: 10 })).to.deep.equal({ what: "vpnlab's own process", ms: 700 });
    expect(worstStall({ evidence, chaos: [chaos(2000, 2004), chaos(6000, 6810)] }, { maxMs: 30, p99Ms: 10 })).to.deep.equal({ what: "the chaos step planned at 6.00 s (applied late)", ms: 810 });
  });
  it("nothing measured: none", () => {
    expect(worstStall({ evidence: {}, chaos: [] }, undefined)).to.equal(undefined);
  });
});
