import { expect } from "chai";
import { endpointStall, lateStep, phaseAt } from "./scenario";
import type { Scenario } from "./topology/model";

describe("scenario: phaseAt (when a harness fault happened)", () => {
  const s = { phases: { baselineMs: 2000, chaosMs: 4000, recoveryMs: 4000 } } as Scenario;
  it("reads the phase from the scenario's windows, not from how far the code got", () => {
    expect([0, 1999, 2000, 5999, 6000, 9999, 10000, 12000].map((t) => phaseAt(s, t))).to.deep.equal([
      "baseline", "baseline", "chaos", "chaos", "recovery", "recovery", "verdict", "verdict",
    ]);
  });
});

describe("scenario: endpointStall and lateStep (evidence about the endpoint; vpnlab's own clock)", () => {
  const chaos = (atMs: number, appliedAtMs: number) => ({ atMs, appliedAtMs, on: "wan.edge", action: "loss 5%" });
  const scenario = { vpn: { client: "client", headend: "headend" } } as Scenario;
  it("names the agent with the longest stall, what it carries, and when the stall began", () => {
    const evidence = {
      loopLag: {
        client: { maxMs: 40, p99Ms: 12 },
        headend: { maxMs: 3012, p99Ms: 20, stalls: [{ at: 15_000, ms: 3012 }] },
        server: { maxMs: 90, p99Ms: 20 },
      },
    };
    expect(endpointStall({ evidence, transport: "natt" }, 1_000, scenario)).to.deep.equal({ what: "the agent on headend (the VPN headend)", node: "headend", ms: 3012, atMs: 14_000 });
    expect(endpointStall({ evidence: { loopLag: { client: { maxMs: 40, p99Ms: 1 } } }, transport: "natt" }, 0, scenario)).to.deep.equal({
      what: "the agent on client (the VPN client: its tunnel and the probe's sender)",
      node: "client",
      ms: 40,
    });
    expect(endpointStall({ evidence: {}, transport: "natt" }, 0, scenario)).to.equal(undefined);
  });
  it("the latest chaos step by when it began", () => {
    expect(lateStep({ chaos: [chaos(2000, 2004), chaos(6000, 6810)] })).to.deep.equal({ what: "the chaos step planned at 6.00 s (loss 5% on wan.edge) began", ms: 810 });
    expect(lateStep({ chaos: [chaos(2000, 1990)] })).to.equal(undefined);
  });
});
