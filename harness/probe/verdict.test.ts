import { expect } from "chai";
import { decideVerdict } from "./verdict";
import type { PhaseDelivery } from "./phases";

function phases(baseline: number, recovery: number): PhaseDelivery[] {
  const p = (phase: PhaseDelivery["phase"], d: number): PhaseDelivery => ({
    phase, startMs: 0, durationMs: 1000, sent: 100, delivered: Math.round(d * 100), delivery: d,
  });
  return [p("baseline", baseline), p("chaos", 0.5), p("recovery", recovery)];
}

describe("verdict", () => {
  it("survives: never down and recovery at or above 95%", () => {
    const o = decideVerdict({ tunnelUp: true, phases: phases(1, 0.95) });
    expect(o).to.include({ kind: "verdict", verdict: "survives" });
  });
  it("fails when DPD declared the tunnel down, whatever the recovery delivery", () => {
    const o = decideVerdict({ tunnelUp: true, tunnelDownAtMs: 4200, phases: phases(1, 1) });
    expect(o).to.include({ kind: "verdict", verdict: "fails" });
    expect(JSON.stringify(o)).to.contain("4.20 s");
  });
  it("fails when recovery delivery is below 50%", () => {
    expect(decideVerdict({ tunnelUp: true, phases: phases(1, 0.49) })).to.include({ verdict: "fails" });
  });
  it("is degraded between 50% and 95%", () => {
    expect(decideVerdict({ tunnelUp: true, phases: phases(1, 0.5) })).to.include({ verdict: "degraded" });
    expect(decideVerdict({ tunnelUp: true, phases: phases(1, 0.94) })).to.include({ verdict: "degraded" });
  });
  it("a baseline below 99% or a tunnel that never came up is a lab error, not a verdict", () => {
    expect(decideVerdict({ tunnelUp: true, phases: phases(0.98, 1) })).to.include({ kind: "lab-error" });
    expect(decideVerdict({ tunnelUp: false, phases: phases(1, 1) })).to.include({ kind: "lab-error" });
  });
  it("with a fault in place from the start (a step at 0 s) a lossy baseline is the fault's, not a broken lab; an empty one still is", () => {
    expect(decideVerdict({ tunnelUp: true, faultFromStart: true, phases: phases(0.9, 1) })).to.include({ kind: "verdict", verdict: "survives" });
    expect(decideVerdict({ tunnelUp: true, faultFromStart: true, phases: phases(0, 1) })).to.deep.equal({
      kind: "lab-error",
      reason: "baseline delivery 0/100 under the fault in place from the start: the tunnel carried nothing",
    });
    expect(decideVerdict({ tunnelUp: true, faultFromStart: false, phases: phases(0.9, 1) })).to.include({ kind: "lab-error" });
  });
});

describe("probe/verdict: the tcp-stream flow counts too", () => {
  const ph = (b: number, r: number) => [
    { phase: "baseline" as const, startMs: 0, durationMs: 2000, sent: 100, delivered: Math.round(b * 100), delivery: b },
    { phase: "chaos" as const, startMs: 2000, durationMs: 4000, sent: 200, delivered: 190, delivery: 0.95 },
    { phase: "recovery" as const, startMs: 6000, durationMs: 4000, sent: 200, delivered: Math.round(r * 200), delivery: r },
  ];
  it("a stalled stream fails a tunnel whose datagrams get through", () => {
    const o = decideVerdict({ tunnelUp: true, phases: ph(1, 1), tcp: { recoveryBytes: 0, offeredRecoveryBytes: 200000, connected: true, lasted: true } });
    expect(o).to.deep.equal({ kind: "verdict", verdict: "fails", reasons: ["the TCP stream stalled: 0 bytes arrived during recovery"] });
  });
  it("a failed connection fails, naming the error", () => {
    expect(decideVerdict({ tunnelUp: true, phases: ph(1, 1), tcp: { recoveryBytes: 900, offeredRecoveryBytes: 200000, connected: true, lasted: false, error: "read ECONNRESET" } })).to.include({ verdict: "fails" });
  });
  it("a stream that never connected is a lab error (after the datagram baseline's own check)", () => {
    expect(decideVerdict({ tunnelUp: true, phases: ph(1, 1), tcp: { recoveryBytes: 0, offeredRecoveryBytes: 200000, connected: false, lasted: false, error: "connect ETIMEDOUT" } })).to.deep.equal({
      kind: "lab-error",
      reason: "the TCP stream never connected through the tunnel (connect ETIMEDOUT): the lab is broken before any fault",
    });
    expect(decideVerdict({ tunnelUp: true, phases: ph(0.2, 1), tcp: { recoveryBytes: 0, offeredRecoveryBytes: 200000, connected: false, lasted: false } })).to.include({ kind: "lab-error" }).and.to.have.property("reason").that.matches(/^baseline delivery 20\.0%/);
  });
  it("a flowing stream leaves the datagram rules to decide, and is named", () => {
    const o = decideVerdict({ tunnelUp: true, phases: ph(1, 1), tcp: { recoveryBytes: 200000, offeredRecoveryBytes: 200000, connected: true, lasted: true } });
    expect(o).to.include({ verdict: "survives" });
    expect((o as { reasons: string[] }).reasons[0]).to.contain("the TCP stream carried 200000 bytes during recovery (100.0% of what it offered)");
  });
  it("a trickle is not survival: under half of what it offered fails, between half and 95 % is degraded", () => {
    const t = (b: number, lasted = true) => decideVerdict({ tunnelUp: true, phases: ph(1, 1), tcp: { recoveryBytes: b, offeredRecoveryBytes: 200000, connected: true, lasted } });
    expect(t(1448)).to.deep.include({ verdict: "fails", reasons: ["the TCP stream carried 0.7% of what it offered during recovery (< 50.0%)"] });
    expect(t(150000)).to.deep.include({ verdict: "degraded", reasons: ["tunnel stayed up but the TCP stream carried only 75.0% of what it offered during recovery"] });
    expect(t(199000)).to.include({ verdict: "survives" });
    // a second connection or a close: the stream did not last, whatever it carried
    expect(t(199000, false)).to.deep.include({ verdict: "fails", reasons: ["the TCP stream's connection did not last (closed, or replaced by another)"] });
  });
});

describe("probe/verdict: a starved harness is the host's fault, not the VPN's", () => {
  const stall = (ms: number) => ({ probeTimeoutMs: 1000, harnessStall: { what: "the agent on server", ms } });
  it("a degraded or failed verdict with an agent stalled for half the probe timeout or more is a lab error naming the agent", () => {
    const d = decideVerdict({ tunnelUp: true, phases: phases(1, 0.6), ...stall(500) });
    expect(d).to.include({ kind: "lab-error" });
    expect((d as { reason: string }).reason).to.match(/^the host was overloaded: the agent on server stalled 500 ms .*this degradation.*--jobs/);
    const f = decideVerdict({ tunnelUp: true, tunnelDownAtMs: 4200, phases: phases(1, 0), ...stall(2300) });
    expect((f as { reason: string }).reason).to.contain("this failure");
  });
  it("below that the verdict stands; and a surviving tunnel survives however starved the host", () => {
    expect(decideVerdict({ tunnelUp: true, phases: phases(1, 0.6), ...stall(499) })).to.include({ kind: "verdict", verdict: "degraded" });
    expect(decideVerdict({ tunnelUp: true, tunnelDownAtMs: 4200, phases: phases(1, 0), ...stall(120) })).to.include({ verdict: "fails" });
    expect(decideVerdict({ tunnelUp: true, phases: phases(1, 0.99), ...stall(5000) })).to.include({ kind: "verdict", verdict: "survives" });
  });
});
