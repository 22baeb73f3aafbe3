// How many packets an impairment really dropped, read back from the kernel
// before its rules or qdisc are removed: the proof that a fault hit the
// traffic, not only that it was configured. Pure parsers; the Impairer runs
// the commands.

export interface DropCount {
  packets: number;
  bytes: number;
}

export const NO_DROPS: DropCount = { packets: 0, bytes: 0 };

export function addDrops(a: DropCount, b: DropCount): DropCount {
  return { packets: a.packets + b.packets, bytes: a.bytes + b.bytes };
}

/** `nft -j list table inet TABLE` */
export function nftListTableArgv(table: string): string[] {
  if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,254}$/.test(table)) throw new Error(`invalid nftables table name ${JSON.stringify(table)}`);
  return ["nft", "-j", "list", "table", "inet", table];
}

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);
const rec = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/** Sum the counters of the rules that drop, in `nft -j list table` output. Throws on output that is not nft JSON. */
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
    if (drops && counter) out = addDrops(out, { packets: num(counter.packets), bytes: num(counter.bytes) });
  }
  return out;
}
