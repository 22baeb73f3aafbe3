// Pure parsers for the small value languages of a topology file: durations,
// percentages, rates, IPv4 addresses and CIDRs. Each returns a value or a
// reason (what is wrong and what to write instead); the validator adds the
// position.
import type { Cidr } from "./model";

export type Parsed<T> = { ok: true; value: T } | { ok: false; why: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(why: string): Parsed<T> => ({ ok: false, why });

const NUM = "(\\d+(?:\\.\\d+)?)"; // an unsigned decimal, captured
const SIGNED = "(-?\\d+(?:\\.\\d+)?)";
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };
/** Longer timers fire at once in Node (TimeoutOverflowWarning): a huge phase would end immediately. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** "500ms", "1s", "1.5s", "2m", or a bare number of seconds → milliseconds (integer, ≥ 0). */
export function parseDuration(v: unknown): Parsed<number> {
  const hint = 'write e.g. "500ms", "1.5s", "2m" or a number of seconds';
  let ms: number;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return bad(`${v} is not a duration — ${hint}`);
    ms = v * 1000;
  } else if (typeof v === "string") {
    const m = new RegExp(`^${NUM}(ms|s|m)?$`).exec(v.trim());
    if (!m) {
      if (/^-/.test(v.trim())) return bad(`duration "${v}" is negative — durations are ≥ 0; ${hint}`);
      return bad(`"${v}" is not a duration — ${hint}`);
    }
    ms = Number(m[1]) * UNIT_MS[m[2] ?? "s"];
  } else {
    return bad(`expected a duration, got ${describe(v)} — ${hint}`);
  }
  if (ms < 0) return bad(`duration ${String(v)} is negative — durations are ≥ 0; ${hint}`);
  if (ms > MAX_DURATION_MS) {
    return bad(`duration ${String(v)} is too long — durations are at most ${MAX_DURATION_MS} ms (about 24 days, the longest timer Node can set); ${hint}`);
  }
  return ok(Math.round(ms));
}

/** "5%", "0.5%" or a bare number → percent (not range-checked). */
export function parsePercent(v: unknown): Parsed<number> {
  const hint = 'write e.g. "5%", "0.5%" or a number';
  if (typeof v === "number") return Number.isFinite(v) ? ok(v) : bad(`${v} is not a percentage — ${hint}`);
  if (typeof v === "string") {
    const m = new RegExp(`^${SIGNED}\\s*%$`).exec(v.trim());
    if (m) return ok(Number(m[1]));
    return bad(`"${v}" is not a percentage — ${hint}`);
  }
  return bad(`expected a percentage, got ${describe(v)} — ${hint}`);
}

/** "50/s" or a bare number → per second (not range-checked). */
export function parseRate(v: unknown): Parsed<number> {
  const hint = 'write e.g. "50/s" or a number of probes per second';
  if (typeof v === "number") return Number.isFinite(v) ? ok(v) : bad(`${v} is not a rate — ${hint}`);
  if (typeof v === "string") {
    const m = new RegExp(`^${SIGNED}\\s*/\\s*s$`).exec(v.trim());
    if (m) return ok(Number(m[1]));
    return bad(`"${v}" is not a rate — ${hint}`);
  }
  return bad(`expected a rate, got ${describe(v)} — ${hint}`);
}

const KBIT: Record<string, number> = { kbit: 1, mbit: 1000, gbit: 1_000_000 };

/** "500kbit", "1mbit", "2.5gbit" → kbit/s (> 0; as tc counts them, 1mbit = 1000kbit). */
export function parseBandwidth(v: unknown): Parsed<number> {
  const hint = 'write e.g. "500kbit", "1mbit" or "2gbit"';
  if (typeof v !== "string") return bad(`expected a bandwidth, got ${describe(v)} — ${hint}`);
  const m = new RegExp(`^${NUM}\\s*(kbit|mbit|gbit)$`, "i").exec(v.trim());
  if (!m) return bad(`"${v}" is not a bandwidth — ${hint}`);
  const kbit = Number(m[1]) * KBIT[m[2].toLowerCase()];
  if (!(kbit > 0)) return bad(`bandwidth "${v}" is 0 — a rate limit must be more than 0; ${hint}`);
  return ok(kbit);
}

/** A dotted quad → 32-bit unsigned integer. `shown` is what messages quote (default: v). */
export function parseAddr(v: unknown, shown?: string): Parsed<number> {
  if (typeof v !== "string") return bad(`expected an IPv4 address, got ${describe(v)} — write four numbers 0–255 separated by dots, e.g. 192.0.2.1`);
  const s = v.trim();
  v = shown ?? v;
  if (s.includes("/")) return bad(`"${v}" has a prefix length — write the bare address (${s.split("/")[0]})`);
  const parts = s.split(".");
  if (parts.length !== 4) return bad(`"${v}" is not an IPv4 address — write four numbers 0–255 separated by dots, e.g. 192.0.2.1`);
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255)
      return bad(`"${v}" is not an IPv4 address — each of the four parts must be a number 0–255`);
    if (p.length > 1 && p.startsWith("0"))
      return bad(`"${v}" has a leading zero in "${p}" (ambiguous: octal or decimal?) — write ${Number(p)}`);
    n = n * 256 + Number(p);
  }
  return ok(n);
}

/** "a.b.c.d/p" → Cidr (the address as written; not checked for host or network bits). */
export function parseCidr(v: unknown): Parsed<Cidr> {
  if (typeof v !== "string") return bad(`expected an address with prefix, got ${describe(v)} — write the address and its prefix length, e.g. 192.0.2.10/24`);
  const s = v.trim();
  const slash = s.indexOf("/");
  if (slash < 0) {
    const a = parseAddr(s);
    if (!a.ok) return bad(a.why);
    return bad(`"${v}" has no prefix length — write it with one, e.g. ${s}/24`);
  }
  const a = parseAddr(s.slice(0, slash), s);
  if (!a.ok) return bad(a.why);
  const p = s.slice(slash + 1);
  if (!/^\d{1,2}$/.test(p) || Number(p) > 32) return bad(`"${v}" has a bad prefix length "${p}" — it must be 0–32`);
  return ok({ addr: s.slice(0, slash), prefix: Number(p) });
}

export function addrToInt(addr: string): number {
  const r = parseAddr(addr);
  if (!r.ok) throw new Error(r.why);
  return r.value;
}

export function intToAddr(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** The network address of a CIDR (host bits cleared). */
export function networkOf(c: Cidr): number {
  return (addrToInt(c.addr) & maskOf(c.prefix)) >>> 0;
}

export function broadcastOf(c: Cidr): number {
  return (networkOf(c) | ~maskOf(c.prefix)) >>> 0;
}

export function cidrText(c: Cidr): string {
  return `${c.addr}/${c.prefix}`;
}

/** "a.b.c.d/p" of the network a CIDR lies in. */
export function networkText(c: Cidr): string {
  return `${intToAddr(networkOf(c))}/${c.prefix}`;
}

/** Whether an address lies inside a CIDR's network. */
export function contains(c: Cidr, addr: string | number): boolean {
  const a = typeof addr === "number" ? addr : addrToInt(addr);
  return ((a & maskOf(c.prefix)) >>> 0) === networkOf(c);
}

/** Whether two networks share any address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  const m = maskOf(p);
  return ((addrToInt(a.addr) & m) >>> 0) === ((addrToInt(b.addr) & m) >>> 0);
}

/** Why an address cannot be a host address on a link, or undefined when it can. */
export function unicastProblem(addr: number): string | undefined {
  const first = addr >>> 24;
  if (first === 0) return "is in 0.0.0.0/8 (\"this network\"), which no host may use";
  if (first === 127) return "is a loopback address (127.0.0.0/8), which never leaves a node";
  if (first >= 224) return "is a multicast or reserved address (224.0.0.0 and above), not a host address";
  return undefined;
}

/** Format milliseconds the way a user writes them: 2000 → "2s", 1500 → "1.5s", 250 → "250ms". */
export function msText(ms: number): string {
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms >= 1000 || ms === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export function describe(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (typeof v === "string") return `"${v}"`;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return "a list";
  return "a map";
}
