// The firewall's connection tracking table, read from /proc/net/nf_conntrack
// inside its namespace (per network namespace; no conntrack tool needed, so
// the same command serves every runtime). The proof a state bypass works:
// a notracked flow has no entry at all.
import type { FlowMatch } from "../topology/model";

export const CONNTRACK_ARGV: readonly string[] = ["cat", "/proc/net/nf_conntrack"];

export interface ConntrackEntry {
  proto: string; // tcp, udp, icmp, ...
  state?: string; // TCP state (ESTABLISHED, SYN_SENT, ...)
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
}

/**
 * One line per entry, e.g.
 * `ipv4     2 tcp      6 431999 ESTABLISHED src=203.0.113.10 dst=192.0.2.10 sport=40000 dport=10000 src=... [ASSURED] mark=0 zone=0 use=2`
 * The first tuple (original direction) is the one kept.
 */
export function parseConntrack(text: string): ConntrackEntry[] {
  const out: ConntrackEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || (f[0] !== "ipv4" && f[0] !== "ipv6")) continue;
    // a protocol without a conntrack module prints as "unknown" with its number: ESP (50) is the one a lab carries
    const proto = f[2] === "unknown" && f[3] === "50" ? "esp" : f[2];
    const kv = new Map<string, string>();
    let state: string | undefined;
    for (const tok of f.slice(5)) {
      const i = tok.indexOf("=");
      if (i < 0) {
        if (/^[A-Z_]+$/.test(tok) && kv.size === 0) state = tok;
        continue;
      }
      const k = tok.slice(0, i);
      if (!kv.has(k)) kv.set(k, tok.slice(i + 1)); // first tuple only
    }
    const src = kv.get("src");
    const dst = kv.get("dst");
    if (!src || !dst) continue;
    const port = (k: string) => (kv.has(k) ? Number(kv.get(k)) : undefined);
    out.push({ proto, ...(state ? { state } : {}), src, dst, sport: port("sport"), dport: port("dport") });
  }
  return out;
}

/** Entries of one flow (either direction: a bypass is both ways). ESP has no ports: its entries are the protocol's. */
export function entriesOf(entries: readonly ConntrackEntry[], flow: { proto: string; port?: number }): ConntrackEntry[] {
  return entries.filter((e) => e.proto === flow.proto && (flow.port === undefined || e.dport === flow.port || e.sport === flow.port));
}
