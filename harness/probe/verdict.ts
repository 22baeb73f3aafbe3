// The verdict rules of DESIGN.md, as one pure function.
import type { Verdict } from "../topology/model";
import type { PhaseDelivery } from "./phases";

export const SURVIVE_RECOVERY = 0.95;
export const FAIL_RECOVERY = 0.5;
export const BASELINE_MIN = 0.99;
/** An agent stall of this share of the probe timeout makes a verdict short of "survives" inconclusive. */
export const STALL_SHARE = 0.5;

export interface VerdictInput {
  tunnelUp: boolean; // the tunnel came up at all
  /** A reply later than this counted as lost. */
  probeTimeoutMs?: number;
  /** The longest the harness was held up while the probe ran (the host starving it): an agent's event loop, vpnlab's own, or a chaos step applied late. */
  harnessStall?: { what: string; ms: number };
  tunnelDownAtMs?: number; // when DPD first declared it down (either end), ms from the start of the baseline
  downBy?: string; // which end did
  phases: PhaseDelivery[];
  /**
   * A fault was in place before the probe's first packet (a step at 0 s): the baseline cannot prove a fault-free
   * lab, so it only has to show the tunnel carried the probe at all.
   */
  faultFromStart?: boolean;
  /** The tcp-stream flow, when the probe runs it: bytes the sink received during recovery, and a connection error. */
  tcp?: {
    recoveryBytes: number;
    /** What the stream offers during recovery (rate × duration): goodput is judged against it. */
    offeredRecoveryBytes: number;
    connected: boolean;
    /** The one connection lasted to the end (not closed, no second connection). */
    lasted: boolean;
    error?: string;
  };
}

export type Outcome =
  | { kind: "verdict"; verdict: Verdict; reasons: string[] }
  | { kind: "lab-error"; reason: string };

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export function decideVerdict(input: VerdictInput): Outcome {
  if (!input.tunnelUp) return { kind: "lab-error", reason: "the tunnel never came up" };
  const baseline = input.phases.find((p) => p.phase === "baseline");
  const recovery = input.phases.find((p) => p.phase === "recovery");
  if (!baseline || !recovery || baseline.sent === 0 || recovery.sent === 0) {
    return { kind: "lab-error", reason: "the probe sent nothing in the baseline or recovery phase" };
  }
  if (input.faultFromStart && baseline.delivered === 0) {
    return { kind: "lab-error", reason: `baseline delivery 0/${baseline.sent} under the fault in place from the start: the tunnel carried nothing` };
  }
  if (!input.faultFromStart && baseline.delivery < BASELINE_MIN) {
    return {
      kind: "lab-error",
      reason: `baseline delivery ${pct(baseline.delivery)} (${baseline.delivered}/${baseline.sent}) is below ${pct(BASELINE_MIN)}: the lab is broken before any fault`,
    };
  }
  if (input.tcp && !input.tcp.connected) {
    return { kind: "lab-error", reason: `the TCP stream never connected through the tunnel${input.tcp.error ? ` (${input.tcp.error})` : ""}: the lab is broken before any fault` };
  }
  const reasons: string[] = [];
  const down = input.tunnelDownAtMs !== undefined;
  if (down) reasons.push(`DPD${input.downBy ? ` on the ${input.downBy}` : ""} declared the tunnel down at ${(input.tunnelDownAtMs! / 1000).toFixed(2)} s`);
  if (recovery.delivery < FAIL_RECOVERY) reasons.push(`recovery delivery ${pct(recovery.delivery)} < ${pct(FAIL_RECOVERY)}`);
  // every flow counts: a tunnel that echoes datagrams but carries no TCP stream has failed the user as well
  const tcpShare = input.tcp && input.tcp.offeredRecoveryBytes > 0 ? input.tcp.recoveryBytes / input.tcp.offeredRecoveryBytes : 1;
  if (input.tcp?.error) reasons.push(`the TCP stream failed: ${input.tcp.error}`);
  else if (input.tcp && !input.tcp.lasted && input.tcp.recoveryBytes > 0) reasons.push("the TCP stream's connection did not last (closed, or replaced by another)");
  else if (input.tcp && tcpShare < FAIL_RECOVERY) {
    reasons.push(input.tcp.recoveryBytes === 0 ? "the TCP stream stalled: 0 bytes arrived during recovery" : `the TCP stream carried ${pct(tcpShare)} of what it offered during recovery (< ${pct(FAIL_RECOVERY)})`);
  }
  const survives = reasons.length === 0 && recovery.delivery >= SURVIVE_RECOVERY && tcpShare >= SURVIVE_RECOVERY;
  // a starved harness loses echoes and stream bytes by itself: anything short of "survives" then measures
  // the host, not the VPN (a starved harness cannot make a tunnel look better, so "survives" stands)
  const stall = input.harnessStall;
  if (!survives && stall && input.probeTimeoutMs !== undefined && stall.ms >= input.probeTimeoutMs * STALL_SHARE) {
    return {
      kind: "lab-error",
      reason: `the host was overloaded: ${stall.what} stalled ${stall.ms} ms (probe replies count as lost after ${input.probeTimeoutMs} ms), so ${reasons.length ? "this failure" : "this degradation"} may be the host's, not the VPN's — run fewer labs at once (--jobs)`,
    };
  }
  if (reasons.length) return { kind: "verdict", verdict: "fails", reasons };
  if (survives) {
    const tcp = input.tcp ? `; the TCP stream carried ${input.tcp.recoveryBytes} bytes during recovery (${pct(tcpShare)} of what it offered)` : "";
    return { kind: "verdict", verdict: "survives", reasons: [`tunnel stayed up; recovery delivery ${pct(recovery.delivery)} ≥ ${pct(SURVIVE_RECOVERY)}${tcp}`] };
  }
  return {
    kind: "verdict",
    verdict: "degraded",
    reasons: [
      recovery.delivery < SURVIVE_RECOVERY
        ? `tunnel stayed up but recovery delivery ${pct(recovery.delivery)} is between ${pct(FAIL_RECOVERY)} and ${pct(SURVIVE_RECOVERY)}`
        : `tunnel stayed up but the TCP stream carried only ${pct(tcpShare)} of what it offered during recovery`,
    ],
  };
}
