import { expect } from "chai";
import { phaseAt } from "./scenario";
import type { Scenario } from "./topology/model";

describe("scenario: phaseAt (when a harness fault happened)", () => {
  const s = { phases: { baselineMs: 2000, chaosMs: 4000, recoveryMs: 4000 } } as Scenario;
  it("reads the phase from the scenario's windows, not from how far the code got", () => {
    expect([0, 1999, 2000, 5999, 6000, 9999, 10000, 12000].map((t) => phaseAt(s, t))).to.deep.equal([
      "baseline", "baseline", "chaos", "chaos", "recovery", "recovery", "verdict", "verdict",
    ]);
  });
});
