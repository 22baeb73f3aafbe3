// Per-phase and per-bucket delivery, computed from the probe's raw record.
// A probe belongs to the phase in which it was DUE (its place in the send
// schedule); it counts as delivered when its echo came back within the
// timeout of that due time. A probe its sender could not send on schedule —
// the sender's process frozen or starved along with the endpoint — is late or
// lost for the user, and counts so: the schedule, not the sender, decides what
// was owed. The RTT statistics are the network's: echo time − send time.
//
// The counters of a phase, over the probes sent in it:
//  - RTT of the delivered ones (mean, p50, p95, max; nearest rank);
//  - duplicates: echoes beyond the first per seq (a datagram duplicated on
//    the way out is echoed twice), and their rate per delivered probe;
//  - reordered: the fewest delivered probes that must be taken out of the
//    arrival order for the rest to have come back in sequence order
//    (n − longest increasing subsequence), and its rate per delivered probe.
//    Each packet a fault moved counts once, whichever way it moved: netem's
//    reorder sends a packet at once while the others wait `delay`, so it
//    overtakes several — counting "arrived after a higher seq" would count
//    those overtaken instead of the one the fault picked; a packet held back
//    behind several counts once too. Two packets that merely swap count 1;
//  - lostSeqs: the probes not delivered (the loss pattern, by seq from 0 =
//    the probe's first datagram).
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
  /** Probes due in the phase (by the send schedule), sent or not. */
  sent: number;
  /** Of those, the ones the sender never got out (held past the timeout): lost, counted in `sent`. */
  unsent?: number;
  delivered: number;
  delivery: number; // 0..1; NaN when nothing was due
  rttMsP50?: number;
  rttMsMax?: number;
  rttMsMean?: number; // rounded to 0.1 ms
  rttMsP95?: number;
  /** Echoes beyond the first per seq (absent when the record has no per-seq echo counts). */
  duplicates?: number;
  duplicateRate?: number; // duplicates / delivered; NaN when nothing was delivered
  /** Delivered probes out of sequence order (see above; absent when the record has no arrival order). */
  reordered?: number;
  reorderRate?: number; // reordered / delivered; NaN when nothing was delivered
  /** The seqs sent in the phase that were not delivered, ascending. */
  lostSeqs?: number[];
}

export interface Bucket {
  t: number; // ms from the start of the baseline
  sent: number;
  delivered: number;
}

/** When the schedule said to send seq (older records: when it was sent). */
const dueAt = (record: ProbeRecord, seq: number): number => record.due?.[seq] ?? record.sent[seq];

/** The network RTT of seq when its echo came back within the timeout of its due time, else null. */
function deliveredIn(record: ProbeRecord, seq: number, timeoutMs: number): number | null {
  const r = record.received[seq];
  if (r === null || r === undefined) return null;
  if (r - dueAt(record, seq) > timeoutMs) return null;
  return r - record.sent[seq];
}

/** The fewest entries to take out of `order` (distinct numbers) for the rest to be ascending: n − its longest increasing subsequence. */
export function displaced(order: readonly number[]): number {
  // patience sorting: tails[k] = the smallest last element of an increasing run of length k+1
  const tails: number[] = [];
  for (const x of order) {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (tails[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    tails[lo] = x;
  }
  return order.length - tails.length;
}

/** Nearest-rank percentile of ascending values. */
const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

export function phaseDelivery(record: ProbeRecord, windows: PhaseWindow[], timeoutMs: number): PhaseDelivery[] {
  const t0 = windows[0]?.start ?? 0;
  return windows.map((w) => {
    const rtts: number[] = [];
    const delivered = new Set<number>();
    const lostSeqs: number[] = [];
    let sent = 0;
    let duplicates = 0;
    const unsent = new Set(record.unsent ?? []);
    let unsentIn = 0;
    record.sent.forEach((_, seq) => {
      const t = dueAt(record, seq);
      if (t < w.start || t >= w.end) return;
      sent++;
      if (unsent.has(seq)) unsentIn++;
      duplicates += Math.max(0, (record.echoes?.[seq] ?? 0) - 1);
      const rtt = deliveredIn(record, seq, timeoutMs);
      if (rtt === null) lostSeqs.push(seq);
      else {
        rtts.push(rtt);
        delivered.add(seq);
      }
    });
    rtts.sort((a, b) => a - b);
    const n = rtts.length;
    const reordered = record.arrivals ? displaced(record.arrivals.filter((seq) => delivered.has(seq))) : undefined;
    return {
      phase: w.name,
      startMs: w.start - t0,
      durationMs: w.end - w.start,
      sent,
      ...(record.unsent ? { unsent: unsentIn } : {}),
      delivered: n,
      delivery: sent === 0 ? NaN : n / sent,
      rttMsP50: n ? rtts[Math.floor(n / 2)] : undefined,
      rttMsMax: n ? rtts[n - 1] : undefined,
      rttMsMean: n ? Math.round((rtts.reduce((a, b) => a + b, 0) / n) * 10) / 10 : undefined,
      rttMsP95: n ? percentile(rtts, 95) : undefined,
      ...(record.echoes ? { duplicates, duplicateRate: n ? duplicates / n : NaN } : {}),
      ...(reordered !== undefined ? { reordered, reorderRate: n ? reordered / n : NaN } : {}),
      lostSeqs,
    };
  });
}

export function deliveryBuckets(record: ProbeRecord, t0: number, end: number, timeoutMs: number, bucketMs = 100): Bucket[] {
  const n = Math.max(0, Math.ceil((end - t0) / bucketMs));
  const buckets: Bucket[] = Array.from({ length: n }, (_, i) => ({ t: i * bucketMs, sent: 0, delivered: 0 }));
  record.sent.forEach((_, seq) => {
    const i = Math.floor((dueAt(record, seq) - t0) / bucketMs);
    if (i < 0 || i >= n) return;
    buckets[i].sent++;
    if (deliveredIn(record, seq, timeoutMs) !== null) buckets[i].delivered++;
  });
  return buckets;
}

/** The TCP stream flow in one phase: what the sink received. */
export interface TcpPhase {
  phase: PhaseName;
  /** Bytes written during the phase that reached the sink (by send time) and that rate. */
  bytes: number;
  kbitPerSec: number;
  /**
   * Goodput: the stream's payload bytes that ARRIVED at the sink during the phase (its 100 ms arrival buckets
   * starting in the window) over the phase's duration — what a rate limit holds down. By send time the kernel's
   * send buffer would absorb the offered rate, however slowly the path drains it.
   */
  arrivedBytes?: number;
  goodputKbitPerSec?: number;
}

/**
 * Bytes of each phase that reached the sink: the bytes the sender wrote during the phase (the sink's
 * 100 ms buckets by send time), whenever they arrived before the report — so a late read at the sink
 * does not move bytes out of their phase, while bytes stuck behind a stalled path never count.
 */
export function tcpPhases(report: TcpSinkReport, windows: PhaseWindow[]): TcpPhase[] {
  const inWindow = (buckets: [number, number][], w: PhaseWindow) => buckets.filter(([t]) => t >= w.start && t < w.end).reduce((n, [, b]) => n + b, 0);
  return windows.map((w) => {
    const bytes = inWindow(report.sentBuckets, w);
    const arrivedBytes = inWindow(report.buckets, w);
    const secs = (w.end - w.start) / 1000;
    const kbit = (b: number) => (secs > 0 ? Math.round((b * 8) / secs / 100) / 10 : 0);
    return { phase: w.name, bytes, kbitPerSec: kbit(bytes), arrivedBytes, goodputKbitPerSec: kbit(arrivedBytes) };
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
