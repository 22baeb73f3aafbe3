// How many packets an impairment really dropped, read back from the kernel
// before its rules or qdisc are removed: the proof that a fault hit the
// traffic, not only that it was configured. Pure parsers; the Impairer runs
// the commands.

export interface DropCount {
  packets: number;
  bytes: number;
  /**
   * The same drops by the L4 protocol of the dropped packets (tcp, udp, esp, other), where the rules tell it apart:
   * the proof that a fault hit a transport's own packets, not only the hop. Absent when no rule could say.
   */
  byProto?: Record<string, { packets: number; bytes: number }>;
}

export const NO_DROPS: DropCount = { packets: 0, bytes: 0 };

export function addDrops(a: DropCount, b: DropCount): DropCount {
  const out: DropCount = { packets: a.packets + b.packets, bytes: a.bytes + b.bytes };
  if (a.byProto || b.byProto) {
    const by: Record<string, { packets: number; bytes: number }> = {};
    for (const src of [a.byProto, b.byProto]) {
      for (const [proto, c] of Object.entries(src ?? {})) {
        const t = by[proto] ?? { packets: 0, bytes: 0 };
        by[proto] = { packets: t.packets + c.packets, bytes: t.bytes + c.bytes };
      }
    }
    out.byProto = by;
  }
  return out;
}

/** `nft -j list table inet TABLE` */
export function nftListTableArgv(table: string): string[] {
  if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,254}$/.test(table)) throw new Error(`invalid nftables table name ${JSON.stringify(table)}`);
  return ["nft", "-j", "list", "table", "inet", table];
}

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);
const rec = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/**
 * The L4 protocol a drop rule selects, from its match expressions: `meta l4proto X` (or `!= {...}`: "other"),
 * or a port match (`tcp dport N`). Undefined when the rule takes every protocol.
 */
function ruleProto(expr: unknown[]): string | undefined {
  for (const e of expr) {
    const m = rec(rec(e)?.match);
    const left = rec(m?.left);
    if (!m || !left) continue;
    if (rec(left.meta)?.key === "l4proto") {
      if (m.op === "!=") return "other";
      if (typeof m.right === "string") return m.right;
    }
    const proto = rec(left.payload)?.protocol;
    if (proto === "tcp" || proto === "udp") return proto;
  }
  return undefined;
}

/** Sum the counters of the rules that drop, in `nft -j list table` output (by protocol where a rule selects one). Throws on output that is not nft JSON. */
export function parseNftDrops(stdout: string): DropCount {
  const doc = rec(JSON.parse(stdout));
  const items = doc?.nftables;
  if (!Array.isArray(items)) throw new Error(`not nft JSON: ${stdout.slice(0, 80)}`);
  let out = NO_DROPS;
  for (const item of items) {
    const expr = rec(rec(item)?.rule)?.expr;
    if (!Array.isArray(expr)) continue;
    const drops = expr.some((e) => rec(e) && "drop" in (e as object));
    const counter = expr.map((e) => rec(rec(e)?.counter)).find((c) => c !== undefined);
    if (!drops || !counter) continue;
    const got = { packets: num(counter.packets), bytes: num(counter.bytes) };
    const proto = ruleProto(expr);
    out = addDrops(out, proto === undefined ? got : { ...got, byProto: { [proto]: got } });
  }
  return out;
}
