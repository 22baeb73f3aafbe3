// The wire's impairment engine: netem's enqueue decisions (loss models,
// duplicate, corrupt, reorder, delay with jitter and distributions, rate and
// queue limit) in software, over a queue of packets ordered by the time they
// are due. Pure: no clock, no I/O — the wire program feeds it packets with the
// time they arrived and writes out what falls due.
//
// Replayable: every kind of decision draws from a PRNG stream of its own,
// seeded from the fault's seed, a fixed number of times per packet. So the
// k-th packet the fault sees gets the same loss, duplicate, corrupt, reorder
// and jitter decisions for the same seed, whatever the timing (only a queue
// limit drop depends on timing, as in netem).
import { mixSeed, type FlowMatch } from "../../fault";
import type { Impairment } from "../../impairment";

/** mulberry32: a small, fast 32-bit PRNG; returns uniforms in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of one decision stream: the scenario's per-step mix, so the streams are unrelated. */
export const streamSeed = mixSeed;

const PROTO_NUMBER: Record<NonNullable<FlowMatch["proto"]>, number> = { icmp: 1, tcp: 6, udp: 17, esp: 50 };

function ipv4Number(a: string): number {
  return a.split(".").reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);
}

/** "a.b.c.d[/len]" as a test on a 32-bit address. */
function prefixTest(p: string | undefined): ((addr: number) => boolean) | undefined {
  if (p === undefined) return undefined;
  const [a, len] = p.split("/");
  const bits = len === undefined ? 32 : Number(len);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const net = (ipv4Number(a) & mask) >>> 0;
  return (addr) => ((addr & mask) >>> 0) === net;
}

/**
 * The fault's FlowMatch as a test on a raw packet, as nftFlowMatch selects: IPv4 only, addresses by prefix,
 * the protocol, and ports from the TCP/UDP header (a fragment without that header does not match a port).
 * The wire applies it itself: whatever the steering sends it (an old fault's, during a reconfiguration),
 * only the fault's packets are counted and impaired.
 */
export function packetMatcher(m: FlowMatch | undefined): (packet: Buffer) => boolean {
  if (!m || Object.keys(m).length === 0) return () => true;
  const src = prefixTest(m.src);
  const dst = prefixTest(m.dst);
  const proto = m.proto === undefined ? undefined : PROTO_NUMBER[m.proto];
  return (p) => {
    if (p.length < 20 || p[0] >> 4 !== 4) return false;
    if (proto !== undefined && p[9] !== proto) return false;
    if (src && !src(p.readUInt32BE(12))) return false;
    if (dst && !dst(p.readUInt32BE(16))) return false;
    if (m.sport === undefined && m.dport === undefined) return true;
    const ihl = (p[0] & 0x0f) * 4;
    const fragOffset = p.readUInt16BE(6) & 0x1fff;
    if (fragOffset !== 0 || p.length < ihl + 4) return false;
    if (m.sport !== undefined && p.readUInt16BE(ihl) !== m.sport) return false;
    if (m.dport !== undefined && p.readUInt16BE(ihl + 2) !== m.dport) return false;
    return true;
  };
}

/** netem's get_crandom: a uniform correlated with the previous one by rho (0..1). */
export class Correlated {
  private last = 0;
  constructor(private readonly rho: number) {}
  next(u: number): number {
    if (this.rho === 0) return u;
    const v = u * (1 - this.rho) + this.last * this.rho;
    this.last = v;
    return v;
  }
}

/** Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const q0 = Math.min(Math.max(p, 1e-12), 1 - 1e-12);
  const lo = 0.02425;
  if (q0 < lo || q0 > 1 - lo) {
    const q = Math.sqrt(-2 * Math.log(q0 < lo ? q0 : 1 - q0));
    const x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    return q0 < lo ? x : -x;
  }
  const q = q0 - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/**
 * Pareto, alpha 3, exactly as iproute2 builds pareto.dist (netem/pareto.c): x = (u^(-1/3) - 1.5) × 4/3 for u from 1
 * down to 0, i.e. shifted by the mean (1.5) and scaled by 4/3 — not to unit deviation (that would be 1/0.866):
 * netem's own p90 is mu + 0.87 sigma, p99 mu + 4.0 sigma (the int16 ceiling).
 */
function paretoQuantile(u: number): number {
  const alpha = 3;
  return (Math.pow(1 - Math.min(u, 1 - 1e-12), -1 / alpha) - alpha / (alpha - 1)) * (4 / alpha);
}

/** netem's tables hold int16 values scaled by 8192 (NETEM_DIST_SCALE): a sample lies in [-32768, 32767] / 8192 deviations. */
const TABLE_MIN = -32768 / 8192;
const TABLE_MAX = 32767 / 8192;
const inTable = (t: number) => Math.max(TABLE_MIN, Math.min(TABLE_MAX, t));

/**
 * netem's tabledist: mu when sigma is 0; uniform in [mu - sigma, mu + sigma) without a
 * distribution; else mu + sigma * (a sample of the distribution at the correlated uniform u).
 */
export function tabledist(mu: number, sigma: number, u: number, dist: Impairment["delayDistribution"]): number {
  if (sigma === 0) return mu;
  if (dist === undefined || dist === "uniform") return mu - sigma + u * 2 * sigma;
  let t: number;
  if (dist === "normal") t = normalQuantile(u);
  else if (dist === "pareto") t = paretoQuantile(u);
  // iproute2's paretonormal table (netem/paretonormal.c): (normal + 3 × pareto) / 4, the pareto part clamped to int16 first
  else t = 0.25 * normalQuantile(u) + 0.75 * inTable(paretoQuantile(u));
  return mu + sigma * inTable(t);
}

/** netem's loss models as state machines over one uniform per draw (two draws per packet, always taken). */
export type LossState = { kind: "none" } | { kind: "random"; cor: Correlated } | { kind: "gemodel"; bad: boolean } | { kind: "state"; state: 1 | 2 | 3 | 4 };

export function lossState(imp: Impairment): LossState {
  const l = imp.loss;
  if (!l) return { kind: "none" };
  if (l.kind === "random") return { kind: "random", cor: new Correlated((l.correlation ?? 0) / 100) };
  if (l.kind === "gemodel") return { kind: "gemodel", bad: false };
  return { kind: "state", state: 1 };
}

/** One packet's loss decision (netem's loss_event), from the uniforms u1, u2. */
export function lossEvent(imp: Impairment, st: LossState, u1: number, u2: number): boolean {
  const l = imp.loss;
  if (!l || st.kind === "none") return false;
  if (l.kind === "random" && st.kind === "random") {
    const p = l.percent / 100;
    return p > 0 && st.cor.next(u1) < p;
  }
  if (l.kind === "gemodel" && st.kind === "gemodel") {
    // netem's loss_gilb_ell: the transition, then the loss of the state the packet came in (the same draw order)
    const p = l.p / 100;
    const r = l.r / 100;
    const h = (l.h ?? 0) / 100;
    const k = (l.k ?? 100) / 100;
    if (!st.bad) {
      if (u1 < p) st.bad = true;
      return u2 < 1 - k;
    }
    if (u1 < r) st.bad = false;
    return u2 > h || h === 0;
  }
  if (l.kind === "state" && st.kind === "state") {
    // netem's loss_4state: a1 = p13, a2 = p31, a3 = p32, a4 = p14, a5 = p23
    const a1 = l.p13 / 100;
    const a2 = (l.p31 ?? 100) / 100;
    const a3 = (l.p32 ?? 0) / 100;
    const a4 = (l.p14 ?? 0) / 100;
    const a5 = (l.p23 ?? 100) / 100;
    const rnd = u1;
    switch (st.state) {
      case 1:
        if (rnd < a4) {
          st.state = 4;
          return true;
        }
        if (rnd < a1 + a4) {
          st.state = 3;
          return true;
        }
        return false;
      case 2:
        if (rnd < a5) {
          st.state = 3;
          return true;
        }
        return false;
      case 3:
        if (rnd < a3) {
          st.state = 2;
          return false;
        }
        if (rnd < a2 + a3) {
          st.state = 1;
          return false;
        }
        return true;
      case 4:
        st.state = 1;
        return false;
    }
  }
  return false;
}

export interface WireStats {
  /** Packets the fault saw (after its match), since it was set. */
  seen: number;
  /** Dropped by the loss decisions (random, models, chosen packets, every Nth, partition) and by the queue limit. */
  dropped: number;
  droppedBytes: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
  /** Packets held for a delay (> 0 ms) rather than sent at once. */
  delayed: number;
  /** Packets in the queue now. */
  queued: number;
  /** Dropped because the queue held `limit` packets already. */
  rateDropped: number;
  /** The first packet numbers (1-based) the loss decisions dropped, for replay checks (at most DROP_LIST_MAX). */
  dropList: number[];
}

export const DROP_LIST_MAX = 10000;
/** What an Ethernet frame adds to an IPv4 packet (lab interfaces are veths): netem's rate counts it. */
export const ETHERNET_HEADER = 14;
/** netem's default queue limit, packets. */
export const DEFAULT_LIMIT = 1000;

interface Queued {
  due: number;
  packet: Buffer;
}

/** What the engine decided for one packet (for tests and traces). */
export interface Decision {
  n: number;
  lost: boolean;
  duplicated: boolean;
  corrupted: boolean;
  reordered: boolean;
  /** The delay drawn for the packet (ms, before rate), undefined when it was not queued. */
  delayMs?: number;
  /** false: not the fault's packet (its match): passed on at once, not counted (n is 0). */
  matched: boolean;
}

const STREAM = { loss: 0, duplicate: 1, corrupt: 2, reorder: 3, delay: 4 } as const;

export class WireEngine {
  readonly stats: WireStats = { seen: 0, dropped: 0, droppedBytes: 0, duplicated: 0, reordered: 0, corrupted: 0, delayed: 0, queued: 0, rateDropped: 0, dropList: [] };
  private readonly queue: Queued[] = [];
  private readonly rnd: Record<keyof typeof STREAM, () => number>;
  private readonly loss: LossState;
  private readonly dupCor: Correlated;
  private readonly corruptCor: Correlated;
  private readonly reorderCor: Correlated;
  private readonly delayCor: Correlated;
  private readonly drops: Set<number>;
  /** netem's reorder counter: packets delayed since the last one sent at once. */
  private gapCounter = 0;
  private readonly gap: number;
  private readonly limit: number;
  private readonly matches: (packet: Buffer) => boolean;

  constructor(
    readonly imp: Impairment,
    readonly seed: number,
    match?: FlowMatch,
  ) {
    this.matches = packetMatcher(match);
    const r = (s: number) => mulberry32(streamSeed(seed, s));
    this.rnd = { loss: r(STREAM.loss), duplicate: r(STREAM.duplicate), corrupt: r(STREAM.corrupt), reorder: r(STREAM.reorder), delay: r(STREAM.delay) };
    this.loss = lossState(imp);
    this.dupCor = new Correlated((imp.duplicateCorrelation ?? 0) / 100);
    this.corruptCor = new Correlated((imp.corruptCorrelation ?? 0) / 100);
    this.reorderCor = new Correlated((imp.reorderCorrelation ?? 0) / 100);
    this.delayCor = new Correlated((imp.delayCorrelation ?? 0) / 100);
    this.drops = new Set(imp.dropPackets ?? []);
    // tc sets gap 1 when reorder is given without one: every packet may go at once
    this.gap = imp.reorder !== undefined ? (imp.reorderGap ?? 1) : 0;
    this.limit = imp.limit ?? DEFAULT_LIMIT;
  }

  /** Take one packet that arrived at `now` (ms). Returns the decisions; what to send is then in due(). */
  offer(packet: Buffer, now: number): Decision {
    const imp = this.imp;
    if (!this.matches(packet)) {
      // not the fault's: on at once, ahead of what waits (as netem's other band), no draw taken
      this.queue.unshift({ due: now, packet });
      this.stats.queued = this.queue.length;
      return { n: 0, lost: false, duplicated: false, corrupted: false, reordered: false, matched: false };
    }
    const n = ++this.stats.seen;
    // a fixed number of draws per stream and packet, whatever is configured: the k-th packet's decisions depend on the seed only
    const [l1, l2] = [this.rnd.loss(), this.rnd.loss()];
    const d1 = this.rnd.duplicate();
    const [c1, c2, c3] = [this.rnd.corrupt(), this.rnd.corrupt(), this.rnd.corrupt()];
    const r1 = this.rnd.reorder();
    const [j1, j2] = [this.rnd.delay(), this.rnd.delay()];

    const duplicated = imp.duplicate !== undefined && imp.duplicate > 0 && this.dupCor.next(d1) < imp.duplicate / 100;
    const lost =
      imp.partition === true ||
      this.drops.has(n) ||
      (imp.everyNth !== undefined && n % imp.everyNth === 0) ||
      lossEvent(imp, this.loss, l1, l2);
    const decision: Decision = { n, lost, duplicated: false, corrupted: false, reordered: false, matched: true };
    // netem: a packet both lost and duplicated goes once
    if (lost && !duplicated) {
      this.countDrop(packet.length);
      if (this.stats.dropList.length < DROP_LIST_MAX) this.stats.dropList.push(n);
      return decision;
    }
    if (duplicated && !lost) {
      this.stats.duplicated++;
      decision.duplicated = true;
      // the copy as netem's clone: made before the corruption, delayed on its own draw
      this.enqueue(Buffer.from(packet), now, j2, 1, decision);
    }
    let out = packet;
    if (imp.corrupt !== undefined && imp.corrupt > 0 && this.corruptCor.next(c1) < imp.corrupt / 100) {
      out = corruptPacket(packet, c2, c3);
      this.stats.corrupted++;
      decision.corrupted = true;
    }
    this.enqueue(out, now, j1, r1, decision);
    return decision;
  }

  /** The packets due at `now`, in order, removed from the queue. */
  due(now: number): Buffer[] {
    let i = 0;
    while (i < this.queue.length && this.queue[i].due <= now) i++;
    const out = this.queue.splice(0, i).map((q) => q.packet);
    this.stats.queued = this.queue.length;
    return out;
  }

  /** When the next packet is due (ms), undefined with an empty queue. */
  nextDue(): number | undefined {
    return this.queue[0]?.due;
  }

  /** What is still queued (on a reconfiguration the new engine takes it over). */
  pending(): { due: number; packet: Buffer }[] {
    return this.queue.map((q) => ({ ...q }));
  }

  adopt(pending: readonly { due: number; packet: Buffer }[]): void {
    for (const p of pending) this.insert(p.due, p.packet);
  }

  private countDrop(bytes: number): void {
    this.stats.dropped++;
    this.stats.droppedBytes += bytes;
  }

  /** netem's enqueue after the loss decision: the limit, then either at once (reorder) or delayed (with the rate's serialization). */
  private enqueue(packet: Buffer, now: number, jitterU: number, reorderU: number, decision: Decision): void {
    const imp = this.imp;
    if (this.queue.length >= this.limit) {
      this.stats.rateDropped++;
      this.countDrop(packet.length);
      return;
    }
    const reorderDraw = this.gap > 0 ? this.reorderCor.next(reorderU) : 1;
    if (this.gap === 0 || this.gapCounter < this.gap - 1 || (imp.reorder ?? 0) / 100 <= reorderDraw) {
      let delay = Math.max(0, tabledist(imp.delayMs ?? 0, imp.jitterMs ?? 0, this.delayCor.next(jitterU), imp.delayDistribution));
      decision.delayMs = delay;
      let from = now;
      if (imp.rateKbit !== undefined) {
        // netem: the last packet in the queue is the reference; its remaining wait is credited against this delay
        const last = this.queue.length > 0 ? this.queue[this.queue.length - 1].due : undefined;
        if (last !== undefined && last > now) {
          delay = Math.max(0, delay - (last - now));
          from = last;
        }
        // kbit/s is bits per ms; netem times the frame its Ethernet device sends, header included
        delay += ((packet.length + ETHERNET_HEADER) * 8) / imp.rateKbit;
      }
      if (delay > 0) this.stats.delayed++;
      this.gapCounter++;
      this.insert(from + delay, packet);
    } else {
      // sent at once, ahead of everything that waits
      this.gapCounter = 0;
      this.stats.reordered++;
      decision.reordered = true;
      this.queue.unshift({ due: now, packet });
      this.stats.queued = this.queue.length;
    }
  }

  /** Insert keeping the queue ordered by due time, after any entry due at the same time. */
  private insert(due: number, packet: Buffer): void {
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.queue[mid].due <= due) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, { due, packet });
    this.stats.queued = this.queue.length;
  }
}

/**
 * Flip one bit at a position drawn from u (byte) and v (bit): in the IPv4
 * payload when there is one (so the packet still routes and the transport's
 * checksum is what notices), else anywhere. Returns a copy.
 */
export function corruptPacket(packet: Buffer, u: number, v: number): Buffer {
  const out = Buffer.from(packet);
  if (out.length === 0) return out;
  const ihl = out[0] >> 4 === 4 ? (out[0] & 0x0f) * 4 : 0;
  const start = ihl > 0 && ihl < out.length ? ihl : 0;
  const i = start + Math.min(out.length - start - 1, Math.floor(u * (out.length - start)));
  out[i] ^= 1 << Math.min(7, Math.floor(v * 8));
  return out;
}

/**
 * Add one to an IPv4 packet's TTL, updating the header checksum (RFC 1624):
 * the way through the wire is one routing step more than the packet would
 * have taken, which this gives back. In place; other packets are left alone.
 */
export function restoreTtl(packet: Buffer): void {
  if (packet.length < 20 || packet[0] >> 4 !== 4 || packet[8] === 255) return;
  const oldWord = (packet[8] << 8) | packet[9];
  packet[8] += 1;
  const newWord = (packet[8] << 8) | packet[9];
  // HC' = ~(~HC + ~m + m')
  let sum = (~packet.readUInt16BE(10) & 0xffff) + (~oldWord & 0xffff) + newWord;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  packet.writeUInt16BE(~sum & 0xffff, 10);
}
