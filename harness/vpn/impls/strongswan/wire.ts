// The bytes charon puts on the wire, measured where it sends them: an
// nftables table in the endpoint's own namespace that only counts (policy
// accept, no verdict) UDP on the NAT-T port — IKE, ESP in UDP and NAT
// keepalives. libipsec has no per-SA wire counter of its own. Pure: ruleset
// text and the parser of `nft -j list table`.
import { nftListTableArgv } from "../../../impair/counters";

export const WIRE_TABLE = "vl_strongswan_wire";

export interface WireCount {
  packets: number;
  bytes: number;
}

export interface WireCounters {
  sent: WireCount;
  received: WireCount;
}

export function wireRuleset(port: number): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`wireRuleset: bad port ${port}`);
  return [
    `table inet ${WIRE_TABLE} {`,
    "  chain in {",
    "    type filter hook input priority -5; policy accept;",
    `    udp dport ${port} counter`,
    "  }",
    "  chain out {",
    "    type filter hook output priority -5; policy accept;",
    `    udp sport ${port} counter`,
    "  }",
    "}",
    "",
  ].join("\n");
}

export const wireListArgv = (): string[] => nftListTableArgv(WIRE_TABLE);
export const wireDeleteArgv = (): string[] => ["nft", "delete", "table", "inet", WIRE_TABLE];

const rec = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/** The two counters of the table, by chain. Throws on output that is not nft JSON. */
export function parseWireCounters(stdout: string): WireCounters {
  const items = rec(JSON.parse(stdout))?.nftables;
  if (!Array.isArray(items)) throw new Error(`not nft JSON: ${stdout.slice(0, 80)}`);
  const out: WireCounters = { sent: { packets: 0, bytes: 0 }, received: { packets: 0, bytes: 0 } };
  for (const item of items) {
    const rule = rec(rec(item)?.rule);
    const expr = rule?.expr;
    if (!rule || !Array.isArray(expr)) continue;
    const c = expr.map((e) => rec(rec(e)?.counter)).find((x) => x !== undefined);
    if (!c) continue;
    const n = { packets: num(c.packets), bytes: num(c.bytes) };
    if (rule.chain === "in") out.received = n;
    else if (rule.chain === "out") out.sent = n;
  }
  return out;
}
