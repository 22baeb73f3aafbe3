// A fault as a backend receives it: what to do to the packets (the
// impairment), which packets (direction and an optional flow match), and the
// seed its random decisions start from. One model for netem, nftables and the
// userspace wire; each backend says what of it it cannot serve.
import { type Impairment, InvalidImpairment, validateImpairment } from "./impairment";

/** egress: packets leaving the interface; ingress: packets arriving on it. */
export type Direction = "egress" | "ingress";
export const DIRECTIONS: readonly Direction[] = ["egress", "ingress"];

export type MatchProto = "tcp" | "udp" | "icmp" | "esp";
export const MATCH_PROTOS: readonly MatchProto[] = ["tcp", "udp", "icmp", "esp"];

/**
 * Which packets a fault hits (all given fields must match; none given: every
 * packet). Addresses are IPv4 "a.b.c.d" or "a.b.c.d/len"; ports need tcp or udp.
 */
export interface FlowMatch {
  proto?: MatchProto;
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
}

export interface Fault {
  impairment: Impairment;
  /** Default egress. */
  direction?: Direction;
  match?: FlowMatch;
  /**
   * Seed of the fault's random decisions (drop, duplicate, reorder, corrupt,
   * jitter). Absent: the backend's own randomness, different every run.
   */
  seed?: number;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}(\/([12]?\d|3[0-2]))?$/;

function checkPort(what: string, v: number | undefined): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < 1 || v > 65535) throw new InvalidImpairment("match", `${what} must be a port 1..65535, got ${String(v)}`);
}

/** Throws InvalidImpairment; returns the fault unchanged. */
export function validateFault(f: Fault): Fault {
  validateImpairment(f.impairment);
  if (f.direction !== undefined && !DIRECTIONS.includes(f.direction)) {
    throw new InvalidImpairment("direction", `must be egress or ingress, got ${JSON.stringify(f.direction)}`);
  }
  if (f.seed !== undefined && (!Number.isSafeInteger(f.seed) || f.seed < 0 || f.seed > 0xffffffff)) {
    throw new InvalidImpairment("seed", `must be an integer 0..4294967295, got ${String(f.seed)}`);
  }
  const m = f.match;
  if (m !== undefined) {
    if (m.proto !== undefined && !MATCH_PROTOS.includes(m.proto)) {
      throw new InvalidImpairment("match", `proto must be one of ${MATCH_PROTOS.join(", ")}, got ${JSON.stringify(m.proto)}`);
    }
    for (const a of ["src", "dst"] as const) {
      const v = m[a];
      if (v !== undefined && (typeof v !== "string" || !IPV4.test(v))) throw new InvalidImpairment("match", `${a} must be an IPv4 address or prefix, got ${JSON.stringify(v)}`);
    }
    checkPort("sport", m.sport);
    checkPort("dport", m.dport);
    if ((m.sport !== undefined || m.dport !== undefined) && m.proto !== "tcp" && m.proto !== "udp") {
      throw new InvalidImpairment("match", "a port match needs proto tcp or udp");
    }
  }
  return f;
}

/** "client→headend tcp dport 10000, ingress" — for step descriptions; "" for every packet, egress. */
export function describeSelection(f: Fault): string {
  const m = f.match ?? {};
  const parts: string[] = [];
  if (m.proto) parts.push(m.proto);
  if (m.src) parts.push(`from ${m.src}`);
  if (m.dst) parts.push(`to ${m.dst}`);
  if (m.sport !== undefined) parts.push(`sport ${m.sport}`);
  if (m.dport !== undefined) parts.push(`dport ${m.dport}`);
  if (f.direction === "ingress") parts.push("ingress");
  if (f.seed !== undefined) parts.push(`seed ${f.seed}`);
  return parts.join(" ");
}

/**
 * The seed of step `index` (0-based, in the scenario's expanded timeline) of a
 * scenario seeded with `seed`: a fixed 32-bit mix (murmur3's finaliser over
 * the seed and the index), so steps get unrelated seeds and a scenario seed
 * replays every step's. Both arguments are integers 0..2^32-1.
 */
export function mixSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
