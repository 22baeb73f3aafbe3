// What the wire installs on a node for one (device, direction), as pure
// functions: its names (TUN pair, nftables table, fwmark and routing table,
// control socket), the steering ruleset that sends the fault's packets into
// the TUN, and the control channel's messages.
//
//   egress:  packets about to leave DEV ──mark──▶ table T: default dev A ─▶ wire ─▶ B ─▶ routed out DEV
//   ingress: packets arriving on DEV    ──mark──▶ table T: default dev A ─▶ wire ─▶ B ─▶ routed on (or delivered)
import * as path from "node:path";
import type { Direction, Fault } from "../../fault";
import { checkDeviceName } from "../../impairment";
import { nftFlowMatch } from "../../nftables";
import type { WireStats } from "./engine";

export const WIRE_TABLE_PREFIX = "vpnlab_wire_";
/** The wire's fwmarks and routing tables (one number for both) lie in [TABLE_BASE, TABLE_BASE + 0xffff]. */
export const TABLE_BASE = 0x76770000;
/** ip rule preference of the fwmark rules, and where the `local` rule moves for an ingress wire (after them). */
export const RULE_PREF = 100;
export const LOCAL_PREF = 150;

export interface WireNames {
  dev: string;
  direction: Direction;
  /** The kernel routes the fault's packets into A; the wire writes the survivors into B. */
  tunA: string;
  tunB: string;
  table: string;
  /** fwmark and routing table number. */
  mark: number;
  /** Control socket and state file, in the lab's run directory. */
  socket: string;
  stateFile: string;
  logFile: string;
}

/** FNV-1a, 32 bits. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The wire's names for (node, dev, direction) in the lab's run directory. Throws on an invalid device name. */
export function wireNames(dir: string, node: string, dev: string, direction: Direction = "egress"): WireNames {
  checkDeviceName(dev);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(node)) throw new Error(`invalid node name ${JSON.stringify(node)}`);
  const h = fnv1a(dev);
  const hex = h.toString(16).padStart(8, "0").slice(0, 6);
  const d = direction === "ingress" ? "i" : "e";
  const base = path.join(dir, `wire-${node}-${dev}-${direction}`);
  return {
    dev,
    direction,
    tunA: `vw${hex}${d}a`,
    tunB: `vw${hex}${d}b`,
    table: `${WIRE_TABLE_PREFIX}${hex}${d}`,
    // even for egress, odd for ingress: the two directions of one device never share a number
    mark: TABLE_BASE + ((h & 0x7fff) << 1) + (direction === "ingress" ? 1 : 0),
    socket: `${base}.sock`,
    stateFile: `${base}.json`,
    logFile: `${base}.log`,
  };
}

/** A routing table number of the wire's. */
export function isWireTable(t: number): boolean {
  return Number.isInteger(t) && t >= TABLE_BASE && t <= TABLE_BASE + 0xffff;
}

/** A wire's fwmark: for the egress rule's guard (a packet an ingress wire marked is left to it). */
const WIRE_MARK = `meta mark and 0x${(0xffff0000 >>> 0).toString(16)} != 0x${TABLE_BASE.toString(16)}`;
/**
 * Never steered: broadcast and multicast (nothing routes them back out of TUN B: the wire would swallow the
 * node's own), and, on ingress, packets with TTL 1 (the hop into TUN A is a forward, which drops them:
 * addressed elsewhere they die at the node anyway, addressed to it they would not have).
 */
const NOT_BROADCAST = "fib daddr type != { broadcast, multicast }";
const NOT_TTL_1 = "ip ttl != 1";

/**
 * The nftables table that marks the fault's packets (priority mangle: before NAT and the filter). Both
 * directions on one node: the ingress rule always marks, the egress rule only what carries no wire mark
 * (whichever chain runs first) — so the ingress wire takes the packet first and the egress wire catches it
 * when it comes back out of the ingress wire's TUN B, unmarked.
 */
export function steeringRuleset(n: WireNames, fault: Fault): string {
  const match = nftFlowMatch(fault.match);
  const sel = (...head: string[]) => [...head, match, `meta mark set ${n.mark}`].filter(Boolean).join(" ");
  const lines = [`table inet ${n.table} {`, "\tchain prerouting {", "\t\ttype filter hook prerouting priority mangle; policy accept;"];
  if (n.direction === "ingress") {
    lines.push(`\t\t${sel(`iifname "${n.dev}" meta nfproto ipv4`, NOT_TTL_1, NOT_BROADCAST)}`);
    lines.push("\t}");
  } else {
    // forwarded packets whose route leaves by DEV; not those the wire itself puts back
    lines.push(`\t\t${sel(`iifname != "${n.tunB}" meta nfproto ipv4`, WIRE_MARK, NOT_BROADCAST, `fib daddr oifname "${n.dev}"`)}`);
    lines.push("\t}");
    // locally sent ones: a route chain re-routes a packet whose mark changed
    lines.push("\tchain output {", "\t\ttype route hook output priority mangle; policy accept;", `\t\t${sel(`oifname "${n.dev}" meta nfproto ipv4`, NOT_BROADCAST)}`, "\t}");
  }
  lines.push("}", "");
  return lines.join("\n");
}

/** The sysctls of the TUN devices (B takes back packets with local sources and forwards them; no IPv6 chatter into the wire). */
export function tunSysctls(n: WireNames): Record<string, string> {
  return {
    [`net.ipv6.conf.${n.tunA}.disable_ipv6`]: "1",
    [`net.ipv6.conf.${n.tunB}.disable_ipv6`]: "1",
    [`net.ipv4.conf.${n.tunB}.rp_filter`]: "0",
    [`net.ipv4.conf.${n.tunB}.accept_local`]: "1",
    [`net.ipv4.conf.${n.tunB}.forwarding`]: "1",
    [`net.ipv4.conf.${n.tunA}.rp_filter`]: "0",
  };
}

/** Sysctls of the node itself the wire needs (saved and restored on clear): an ingress wire forwards what arrives on DEV into A. */
export function nodeSysctls(n: WireNames): Record<string, string> {
  return {
    "net.ipv4.conf.all.rp_filter": "0",
    ...(n.direction === "ingress" ? { [`net.ipv4.conf.${n.dev}.forwarding`]: "1", [`net.ipv4.conf.${n.dev}.rp_filter`]: "0" } : {}),
  };
}

/** What the backend keeps in the state file, so that any process (a later `vpnlab heal`) can stop and undo a wire. */
export interface WireState {
  node: string;
  dev: string;
  direction: Direction;
  /** The process as the runtime started it (the program itself on netns; nsenter in front of it on docker). */
  hostPid?: number;
  hostStart?: string;
  /** The values the node's sysctls had before the wire changed them. */
  saved: Record<string, string>;
  /** Whether this wire moved the `local` rule. */
  movedLocal?: boolean;
}

// --- control channel: one JSON object per line each way ---------------------

export type WireRequest = { op: "set"; fault: Fault; seed: number } | { op: "stats" } | { op: "stop" };
export type WireReply = { ok: true; stats?: WireStats; seed?: number; queued?: number } | { ok: false; error: string };

/** The wire's configuration as one line of evidence. */
export function wireDetail(n: WireNames, fault: Fault, seed: number, describe: string): string {
  return `wire ${n.tunA}→${n.tunB} (fwmark/table ${n.mark}, nft ${n.table}) ${n.direction} on ${n.dev}: ${describe}, seed ${seed}`;
}
