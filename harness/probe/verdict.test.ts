import { expect } from "chai";
import { decideVerdict, stallCutoffMs } from "./verdict";
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

describe("probe/verdict: the host is judged by the sentinel and the kernel's CPU pressure, never by the endpoint", () => {
  const host = (sentinelStallMs: number, cpuSomeShare?: number) => ({
    probeTimeoutMs: 1000,
    host: { sentinelStallMs, sentinelStallAtMs: 12_300, sentinelPid: 4242, ...(cpuSomeShare === undefined ? {} : { cpuSomeShare, cpuSomeAvg10: cpuSomeShare * 100 }) },
  });
  const reason = (o: ReturnType<typeof decideVerdict>) => (o.kind === "lab-error" ? o.reason : `verdict ${o.verdict}: ${o.reasons.join("; ")}`);
  it("a sentinel stalled for half the probe timeout or more is a lab error naming the sentinel, its pid, when, and the pressure — whatever the verdict", () => {
    for (const recovery of [0, 0.6, 1]) {
      const o = decideVerdict({ tunnelUp: true, phases: phases(1, recovery), ...host(500, 0.3) });
      expect(o.kind, reason(o)).to.equal("lab-error");
      expect(reason(o)).to.equal(
        "the host was overloaded: the overload sentinel (pid 4242), a process apart from the lab, stalled 500 ms at 12.30 s (cut-off 500 ms); CPU pressure: some task waited for a CPU 30.0% of the scenario (PSI some avg10 30.0%) — run fewer labs at once (--jobs)",
      );
    }
    expect(decideVerdict({ tunnelUp: true, phases: phases(1, 0.6), ...host(499) })).to.include({ kind: "verdict", verdict: "degraded" });
  });
  it("a sentinel that ended during the scenario (killed from outside) is a lab error: the host could not be judged", () => {
    const o = decideVerdict({ tunnelUp: true, phases: phases(1, 1), probeTimeoutMs: 1000, host: { sentinelStallMs: 0, sentinelPid: 7, sentinelExited: "exited (SIGKILL)" } });
    expect(o).to.deep.equal({ kind: "lab-error", reason: "the overload sentinel (pid 7) exited (SIGKILL) during the scenario: the host's load could not be judged" });
  });
  it("the cut-off has a floor of 250 ms whatever the probe timeout", () => {
    const t200 = { probeTimeoutMs: 200, host: { sentinelStallMs: 249 } };
    expect(decideVerdict({ tunnelUp: true, phases: phases(1, 0.6), ...t200 })).to.include({ verdict: "degraded" });
    expect(decideVerdict({ tunnelUp: true, phases: phases(1, 0.6), ...t200, host: { sentinelStallMs: 250 } })).to.include({ kind: "lab-error" });
    expect(stallCutoffMs(200)).to.equal(250);
    expect(stallCutoffMs(1000)).to.equal(500);
    expect(stallCutoffMs(undefined)).to.equal(250);
  });
  it("CPU pressure at or above 95 % of the scenario, with the sentinel held up 100 ms or more, turns a failure or a degradation into a lab error; a survivor stands", () => {
    const d = decideVerdict({ tunnelUp: true, phases: phases(1, 0.6), ...host(144, 0.95) });
    expect(reason(d)).to.match(/^the host was overloaded: CPU pressure: some task waited for a CPU 95.0% .*the overload sentinel, a process apart from the lab, was held up 144 ms \(≥ 100 ms\) — so this degradation may be the host's/);
    const f = decideVerdict({ tunnelUp: true, tunnelDownAtMs: 4200, phases: phases(1, 0), ...host(144, 0.99) });
    expect(reason(f)).to.contain("this failure");
    expect(decideVerdict({ tunnelUp: true, phases: phases(1, 0.99), ...host(144, 1) })).to.include({ verdict: "survives" });
    expect(decideVerdict({ tunnelUp: true, phases: phases(1, 0.6), ...host(144, 0.87) })).to.include({ verdict: "degraded" }); // measured beside a busy neighbour, labs true
    // a baseline the starved host broke names the host, not the lab
    expect(reason(decideVerdict({ tunnelUp: true, phases: phases(0.9, 1), ...host(144, 0.97) }))).to.match(/^the host was overloaded: .*baseline delivery fell to 90.0%/);
    expect(reason(decideVerdict({ tunnelUp: true, phases: phases(0.9, 1), ...host(144, 0.1) }))).to.match(/^baseline delivery 90.0%/);
  });
  it("pressure alone never excuses a verdict: endpoints spinning in their own code fill the cores (PSI ~100 %) while the sentinel runs on time", () => {
    const spin = decideVerdict({ tunnelUp: true, tunnelDownAtMs: 4200, phases: phases(1, 0.2), ...host(12, 1) });
    expect(spin.kind, reason(spin)).to.equal("verdict");
    expect(spin).to.include({ verdict: "fails" });
    expect(decideVerdict({ tunnelUp: true, phases: phases(1, 0.6), ...host(99, 0.99) })).to.include({ verdict: "degraded" });
    expect(decideVerdict({ tunnelUp: true, phases: phases(0.9, 1), ...host(12, 1) })).to.include({ kind: "lab-error" }); // a broken baseline is the lab's either way
  });
  it("an endpoint's own stall is never an excuse: the verdict stands and its reasons name the stall", () => {
    const endpointStall = { what: "the agent on headend (the VPN headend)", ms: 3012, atMs: 14_200 };
    const d = decideVerdict({ tunnelUp: true, phases: phases(1, 0.85), ...host(13, 0.05), endpointStall });
    expect(d, reason(d)).to.deep.equal({
      kind: "verdict",
      verdict: "degraded",
      reasons: [
        "tunnel stayed up but recovery delivery 85.0% (85 of 100 due) is between 50.0% and 95.0%",
        "the agent on headend (the VPN headend) stalled 3012 ms at 14.20 s — the endpoint's own process (the overload sentinel's worst stall: 13 ms)",
      ],
    });
    // a short one is not worth a reason
    expect(decideVerdict({ tunnelUp: true, phases: phases(1, 0.85), ...host(13), endpointStall: { ...endpointStall, ms: 80 } })).to.deep.include({
      reasons: ["tunnel stayed up but recovery delivery 85.0% (85 of 100 due) is between 50.0% and 95.0%"],
    });
  });
  it("probes due but never sent are named in the recovery reason", () => {
    const p = phases(1, 0.85);
    p[2] = { ...p[2], unsent: 15 };
    expect(decideVerdict({ tunnelUp: true, phases: p })).to.deep.include({ reasons: ["tunnel stayed up but recovery delivery 85.0% (85 of 100 due, 15 never sent) is between 50.0% and 95.0%"] });
  });
  it("a chaos step begun late by the cut-off or more makes a short verdict a lab error; a survivor stands", () => {
    const lateStep = { what: "the chaos step planned at 6.00 s (loss 5% on wan.edge) began", ms: 810 };
    expect(reason(decideVerdict({ tunnelUp: true, phases: phases(1, 0.6), probeTimeoutMs: 1000, lateStep }))).to.match(/^the chaos step planned at 6.00 s \(loss 5% on wan.edge\) began 810 ms late \(cut-off 500 ms\)/);
    expect(decideVerdict({ tunnelUp: true, phases: phases(1, 0.6), probeTimeoutMs: 1000, lateStep: { ...lateStep, ms: 499 } })).to.include({ verdict: "degraded" });
    expect(decideVerdict({ tunnelUp: true, phases: phases(1, 1), probeTimeoutMs: 1000, lateStep })).to.include({ verdict: "survives" });
  });
});
