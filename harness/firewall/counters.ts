// Per-direction evidence at the firewall: the named nftables counters the
// ruleset declares (see directionCounters in ruleset.ts), read back from the
// kernel. Pure parser; start.ts runs the command in the firewall's namespace.
import { FIREWALL_TABLE } from "./ruleset";

export interface DirectionCount {
  name: string; // fwd_c2h_udp, proxy_h2c_out, ...
  packets: number;
  bytes: number;
}

/** `nft -j list counters table inet vpnlab_fw` */
export const NFT_COUNTERS_ARGV: readonly string[] = ["nft", "-j", "list", "counters", "table", "inet", FIREWALL_TABLE];

const rec = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const count = (v: unknown, what: string): number => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw new Error(`nft counter ${what}: ${JSON.stringify(v)} is not a count`);
  return v;
};

/** The named counters of one table, in nft's order. Throws on output that is not nft JSON. */
export function parseNftCounters(stdout: string, table: string = FIREWALL_TABLE): DirectionCount[] {
  const items = rec(JSON.parse(stdout))?.nftables;
  if (!Array.isArray(items)) throw new Error(`not nft JSON: ${stdout.slice(0, 80)}`);
  const out: DirectionCount[] = [];
  for (const item of items) {
    const c = rec(rec(item)?.counter);
    if (!c || c.table !== table || typeof c.name !== "string") continue;
    out.push({ name: c.name, packets: count(c.packets, `${c.name} packets`), bytes: count(c.bytes, `${c.name} bytes`) });
  }
  return out;
}

/** Sum of the counters whose names match, e.g. /^fwd_c2h_/ for every protocol client→headend. */
export function sumCounters(counts: readonly DirectionCount[], name: RegExp): { packets: number; bytes: number } {
  return counts.filter((c) => name.test(c.name)).reduce((a, c) => ({ packets: a.packets + c.packets, bytes: a.bytes + c.bytes }), { packets: 0, bytes: 0 });
}

/** `ip -4 -j route show default`: the firewall's way out, towards the client (the Internet side). */
export const DEFAULT_ROUTE_ARGV: readonly string[] = ["ip", "-4", "-j", "route", "show", "default"];

/** The device of the (first) default route, or undefined when there is none. */
export function parseDefaultRouteDev(stdout: string): string | undefined {
  const text = stdout.trim();
  if (text === "") return undefined;
  const routes: unknown = JSON.parse(text);
  if (!Array.isArray(routes)) throw new Error(`not ip route JSON: ${text.slice(0, 80)}`);
  const dev = routes.map(rec).find((r) => typeof r?.dev === "string")?.dev;
  return typeof dev === "string" ? dev : undefined;
}
