// The verdict rules of DESIGN.md, as one pure function.
import type { Verdict } from "../topology/model";
import type { PhaseDelivery } from "./phases";

export const SURVIVE_RECOVERY = 0.95;
export const FAIL_RECOVERY = 0.5;
export const BASELINE_MIN = 0.99;
/** A sentinel stall of this share of the probe timeout (at least STALL_FLOOR_MS) means the host was overloaded. */
export const STALL_SHARE = 0.5;
/** The cut-off's floor: a busy but healthy host holds a sleeping process up 20–100 ms. */
export const STALL_FLOOR_MS = 250;
/**
 * CPU pressure (PSI some) over the scenario at or above this share, WITH the sentinel held up at least
 * STARVED_SENTINEL_MS, means the host starved the lab. "Some" counts any waiting task, the lab's own among
 * them: on 2 cores beside a busy neighbour it read 87 % while labs measured true to the millisecond, and
 * endpoints that spin in their own code (a synchronous crypto loop in client and headend) fill both cores
 * and read ~100 % by themselves — while the sentinel, a sleeper, still runs within milliseconds. So
 * pressure alone never excuses a verdict: the sentinel must have felt it too.
 */
export const STARVED_SHARE = 0.95;
export const STARVED_SENTINEL_MS = 100;

/** The stall at or above which the host is judged overloaded (and an endpoint's own stall is named as evidence). */
export const stallCutoffMs = (probeTimeoutMs: number | undefined): number => Math.max(STALL_FLOOR_MS, (probeTimeoutMs ?? 0) * STALL_SHARE);

export interface VerdictInput {
  tunnelUp: boolean; // the tunnel came up at all
  /** A reply later than this counted as lost. */
  probeTimeoutMs?: number;
  /**
   * The host's load over the probe's window, judged apart from everything under test: the overload
   * sentinel's worst stall and the kernel's CPU pressure (harness/sentinel).
   */
  host?: { sentinelStallMs: number; sentinelStallAtMs?: number; sentinelPid?: number; sentinelExited?: string; cpuSomeShare?: number; cpuSomeAvg10?: number };
  /**
   * The longest stall of a process that carries the tunnel or the probe (an agent): evidence about the
   * endpoint, named in the reasons — never an excuse for the verdict.
   */
  endpointStall?: { what: string; ms: number; atMs?: number };
  /** The chaos step put in place latest after its planned time: the timeline was not the file's. */
  lateStep?: { what: string; ms: number };
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
  const cutoff = stallCutoffMs(input.probeTimeoutMs);
  const host = input.host;
  const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const pressure =
    host?.cpuSomeShare !== undefined
      ? `CPU pressure: some task waited for a CPU ${pct(host.cpuSomeShare)} of the scenario (PSI some avg10 ${host.cpuSomeAvg10?.toFixed(1)}%)`
      : "CPU pressure: not measured (no /proc/pressure/cpu)";
  if (host?.sentinelExited) {
    return { kind: "lab-error", reason: `the overload sentinel${host.sentinelPid ? ` (pid ${host.sentinelPid})` : ""} ${host.sentinelExited} during the scenario: the host's load could not be judged` };
  }
  // the sentinel runs nothing under test: when it stalled, the host held every process of the lab up,
  // and no verdict — not even "survives" — measured the VPN alone
  if (host && host.sentinelStallMs >= cutoff) {
    const at = host.sentinelStallAtMs !== undefined ? ` at ${sec(host.sentinelStallAtMs)}` : "";
    return {
      kind: "lab-error",
      reason: `the host was overloaded: the overload sentinel${host.sentinelPid ? ` (pid ${host.sentinelPid})` : ""}, a process apart from the lab, stalled ${host.sentinelStallMs} ms${at} (cut-off ${cutoff} ms); ${pressure} — run fewer labs at once (--jobs)`,
    };
  }
  if (input.faultFromStart && baseline.delivered === 0) {
    return { kind: "lab-error", reason: `baseline delivery 0/${baseline.sent} under the fault in place from the start: the tunnel carried nothing` };
  }
  const starved = host?.cpuSomeShare !== undefined && host.cpuSomeShare >= STARVED_SHARE && host.sentinelStallMs >= STARVED_SENTINEL_MS;
  if (!input.faultFromStart && baseline.delivery < BASELINE_MIN) {
    if (starved) {
      return {
        kind: "lab-error",
        reason: `the host was overloaded: ${pressure} (≥ ${pct(STARVED_SHARE)}) and the overload sentinel held up ${host!.sentinelStallMs} ms (≥ ${STARVED_SENTINEL_MS} ms), and baseline delivery fell to ${pct(baseline.delivery)} (${baseline.delivered}/${baseline.sent}) before any fault — run fewer labs at once (--jobs)`,
      };
    }
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
  // what was due, delivered and never sent: a sender frozen with its endpoint owes the user its probes
  const owed = `${recovery.delivered} of ${recovery.sent} due${recovery.unsent ? `, ${recovery.unsent} never sent` : ""}`;
  if (recovery.delivery < FAIL_RECOVERY) reasons.push(`recovery delivery ${pct(recovery.delivery)} (${owed}) < ${pct(FAIL_RECOVERY)}`);
  // every flow counts: a tunnel that echoes datagrams but carries no TCP stream has failed the user as well
  const tcpShare = input.tcp && input.tcp.offeredRecoveryBytes > 0 ? input.tcp.recoveryBytes / input.tcp.offeredRecoveryBytes : 1;
  if (input.tcp?.error) reasons.push(`the TCP stream failed: ${input.tcp.error}`);
  else if (input.tcp && !input.tcp.lasted && input.tcp.recoveryBytes > 0) reasons.push("the TCP stream's connection did not last (closed, or replaced by another)");
  else if (input.tcp && tcpShare < FAIL_RECOVERY) {
    reasons.push(input.tcp.recoveryBytes === 0 ? "the TCP stream stalled: 0 bytes arrived during recovery" : `the TCP stream carried ${pct(tcpShare)} of what it offered during recovery (< ${pct(FAIL_RECOVERY)})`);
  }
  const survives = reasons.length === 0 && recovery.delivery >= SURVIVE_RECOVERY && tcpShare >= SURVIVE_RECOVERY;
  // starved by the kernel's own measure: a starved lab loses echoes and stream bytes by itself, so anything
  // short of "survives" may be the host's (a starved host cannot make a tunnel look better: "survives" stands)
  if (!survives && starved) {
    return {
      kind: "lab-error",
      reason: `the host was overloaded: ${pressure} (≥ ${pct(STARVED_SHARE)}), and the overload sentinel, a process apart from the lab, was held up ${host!.sentinelStallMs} ms (≥ ${STARVED_SENTINEL_MS} ms) — so ${reasons.length ? "this failure" : "this degradation"} may be the host's, not the VPN's — run fewer labs at once (--jobs)`,
    };
  }
  if (!survives && input.lateStep && input.lateStep.ms >= cutoff) {
    return {
      kind: "lab-error",
      reason: `${input.lateStep.what} ${input.lateStep.ms} ms late (cut-off ${cutoff} ms): the lab did not play the file's timeline, so ${reasons.length ? "this failure" : "this degradation"} is not the VPN's to answer for`,
    };
  }
  // the endpoint's own stall is part of what the user saw: said, never excused
  const ep = input.endpointStall;
  const endpoint =
    ep && ep.ms >= cutoff
      ? [`${ep.what} stalled ${ep.ms} ms${ep.atMs !== undefined ? ` at ${sec(ep.atMs)}` : ""} — the endpoint's own process (the overload sentinel's worst stall: ${host ? `${host.sentinelStallMs} ms` : "not measured"})`]
      : [];
  if (reasons.length) return { kind: "verdict", verdict: "fails", reasons: [...reasons, ...endpoint] };
  if (survives) {
    const tcp = input.tcp ? `; the TCP stream carried ${input.tcp.recoveryBytes} bytes during recovery (${pct(tcpShare)} of what it offered)` : "";
    return { kind: "verdict", verdict: "survives", reasons: [`tunnel stayed up; recovery delivery ${pct(recovery.delivery)} ≥ ${pct(SURVIVE_RECOVERY)}${tcp}`, ...endpoint] };
  }
  return {
    kind: "verdict",
    verdict: "degraded",
    reasons: [
      recovery.delivery < SURVIVE_RECOVERY
        ? `tunnel stayed up but recovery delivery ${pct(recovery.delivery)} (${owed}) is between ${pct(FAIL_RECOVERY)} and ${pct(SURVIVE_RECOVERY)}`
        : `tunnel stayed up but the TCP stream carried only ${pct(tcpShare)} of what it offered during recovery`,
      ...endpoint,
    ],
  };
}
