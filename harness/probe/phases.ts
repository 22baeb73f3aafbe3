// Per-phase and per-bucket delivery, computed from the probe's raw record.
// A probe belongs to the phase in which it was SENT; it counts as delivered
// when its echo came back within the timeout.
import type { ProbeRecord, TcpSinkReport } from "./types";

export type PhaseName = "baseline" | "chaos" | "recovery";

export interface PhaseWindow {
  name: PhaseName;
  start: number; // ms since epoch, inclusive
  end: number; // exclusive
}

export interface PhaseDelivery {
  phase: PhaseName;
  startMs: number; // from the start of the baseline
  durationMs: number;
  sent: number;
  delivered: number;
  delivery: number; // 0..1; NaN when nothing was sent
  rttMsP50?: number;
  rttMsMax?: number;
}

export interface Bucket {
  t: number; // ms from the start of the baseline
  sent: number;
  delivered: number;
}

function deliveredIn(record: ProbeRecord, seq: number, timeoutMs: number): number | null {
  const r = record.received[seq];
  if (r === null || r === undefined) return null;
  const rtt = r - record.sent[seq];
  return rtt <= timeoutMs ? rtt : null;
}

export function phaseDelivery(record: ProbeRecord, windows: PhaseWindow[], timeoutMs: number): PhaseDelivery[] {
  const t0 = windows[0]?.start ?? 0;
  return windows.map((w) => {
    const rtts: number[] = [];
    let sent = 0;
    record.sent.forEach((t, seq) => {
      if (t < w.start || t >= w.end) return;
      sent++;
      const rtt = deliveredIn(record, seq, timeoutMs);
      if (rtt !== null) rtts.push(rtt);
    });
    rtts.sort((a, b) => a - b);
    return {
      phase: w.name,
      startMs: w.start - t0,
      durationMs: w.end - w.start,
      sent,
      delivered: rtts.length,
      delivery: sent === 0 ? NaN : rtts.length / sent,
      rttMsP50: rtts.length ? rtts[Math.floor(rtts.length / 2)] : undefined,
      rttMsMax: rtts.length ? rtts[rtts.length - 1] : undefined,
    };
  });
}

export function deliveryBuckets(record: ProbeRecord, t0: number, end: number, timeoutMs: number, bucketMs = 100): Bucket[] {
  const n = Math.max(0, Math.ceil((end - t0) / bucketMs));
  const buckets: Bucket[] = Array.from({ length: n }, (_, i) => ({ t: i * bucketMs, sent: 0, delivered: 0 }));
  record.sent.forEach((t, seq) => {
    const i = Math.floor((t - t0) / bucketMs);
    if (i < 0 || i >= n) return;
    buckets[i].sent++;
    if (deliveredIn(record, seq, timeoutMs) !== null) buckets[i].delivered++;
  });
  return buckets;
}

/** The TCP stream flow in one phase: what the sink received. */
export interface TcpPhase {
  phase: PhaseName;
  bytes: number;
  kbitPerSec: number;
}

/**
 * Bytes of each phase that reached the sink: the bytes the sender wrote during the phase (the sink's
 * 100 ms buckets by send time), whenever they arrived before the report — so a late read at the sink
 * does not move bytes out of their phase, while bytes stuck behind a stalled path never count.
 */
export function tcpPhases(report: TcpSinkReport, windows: PhaseWindow[]): TcpPhase[] {
  return windows.map((w) => {
    const bytes = report.sentBuckets.filter(([t]) => t >= w.start && t < w.end).reduce((n, [, b]) => n + b, 0);
    const secs = (w.end - w.start) / 1000;
    return { phase: w.name, bytes, kbitPerSec: secs > 0 ? Math.round((bytes * 8) / secs / 100) / 10 : 0 };
  });
}

/** The sink's bytes per 100 ms by arrival, from the start of the baseline (the timeline chart). */
export interface TcpBucket {
  t: number; // ms from the start of the baseline
  bytes: number;
}

export function tcpBuckets(report: TcpSinkReport, t0: number, end: number, bucketMs = 100): TcpBucket[] {
  const n = Math.max(0, Math.ceil((end - t0) / bucketMs));
  const buckets: TcpBucket[] = Array.from({ length: n }, (_, i) => ({ t: i * bucketMs, bytes: 0 }));
  for (const [at, bytes] of report.buckets) {
    const i = Math.floor((at - t0) / bucketMs);
    if (i >= 0 && i < n) buckets[i].bytes += bytes;
  }
  return buckets;
}
