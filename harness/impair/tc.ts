// The project's own typed wrapper around iproute2's `tc` (no usable npm
// package exists). Pure argv builders and parsers; the code that runs them
// (ifb.ts, backends/netem.ts) takes a NodeExec, so every runtime is served alike.
import type { ExecResult } from "../exec";
import type { FlowMatch, MatchProto } from "./fault";
import { checkDeviceName } from "./impairment";

/** One qdisc as `tc -j qdisc show` reports it. */
export interface Qdisc {
  kind: string;
  handle: string; // "8001:"; "0:" is the kernel's default qdisc, not one anybody added
  root: boolean;
  parent?: string;
  options: Record<string, unknown>;
  /** Packets it dropped (only in `tc -s` output). */
  drops?: number;
}

export type QdiscVerb = "add" | "replace" | "change";

/** `tc qdisc <verb> dev DEV root KIND PARAMS...` */
export function tcQdiscArgv(verb: QdiscVerb, dev: string, kind: string, params: readonly string[] = []): string[] {
  checkDeviceName(dev);
  return ["tc", "qdisc", verb, "dev", dev, "root", checkKind(kind), ...params];
}

/** `tc qdisc del dev DEV root`: back to the kernel's default qdisc. */
export function tcQdiscDelRootArgv(dev: string): string[] {
  checkDeviceName(dev);
  return ["tc", "qdisc", "del", "dev", dev, "root"];
}

/** `tc -j qdisc show dev DEV root` (JSON output, parsed by parseQdiscJson). */
export function tcQdiscShowRootArgv(dev: string): string[] {
  checkDeviceName(dev);
  return ["tc", "-j", "qdisc", "show", "dev", dev, "root"];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Parse `tc -j qdisc show` output. Empty output is an empty list. */
export function parseQdiscJson(stdout: string): Qdisc[] {
  const text = stdout.trim();
  if (text === "") return [];
  const data: unknown = JSON.parse(text);
  if (!Array.isArray(data)) throw new Error(`tc -j qdisc show: expected a JSON array, got ${text.slice(0, 80)}`);
  return data.filter(isRecord).map((q) => ({
    kind: typeof q.kind === "string" ? q.kind : "",
    handle: typeof q.handle === "string" ? q.handle : "",
    root: q.root === true,
    ...(typeof q.parent === "string" ? { parent: q.parent } : {}),
    options: isRecord(q.options) ? q.options : {},
    ...(typeof q.drops === "number" ? { drops: q.drops } : {}),
  }));
}

/** The root qdisc somebody added (handle other than the kernel default's "0:"), if any. */
export function explicitRoot(qdiscs: readonly Qdisc[]): Qdisc | undefined {
  return qdiscs.find((q) => q.root && q.handle !== "0:" && q.handle !== "");
}

/** What a failed `tc` said, in the few cases callers act on. */
export type TcFailure =
  | "kind-unknown" // the kernel has no such qdisc (module missing / not built)
  | "no-such-device"
  | "exclusive" // a root qdisc already exists and `add` may not replace it
  | "no-qdisc" // nothing to delete
  | "other";

export function classifyTcError(stderr: string): TcFailure {
  if (/Cannot find device/i.test(stderr)) return "no-such-device";
  if (/qdisc kind is unknown|No such file or directory/i.test(stderr)) return "kind-unknown";
  if (/Exclusivity flag on|File exists/i.test(stderr)) return "exclusive";
  if (/handle of zero|Invalid handle|Cannot find specified qdisc/i.test(stderr)) return "no-qdisc";
  return "other";
}

/** First meaningful line(s) of a tool's answer, for reasons and messages. */
export function firstLines(r: ExecResult, n = 3): string {
  return (r.stderr || r.stdout).trim().split("\n").filter(Boolean).slice(0, n).join(" / ");
}

// ---- vpnlab's own objects: what it installs carries these, and only these are removed ----

/** Handle of the root qdisc vpnlab installs (a netem, or the prio that steers a flow match): 0x564c is "VL". */
export const VPNLAB_ROOT_HANDLE = "564c:";
/** Handle of the netem vpnlab hangs under its prio's second band for a flow match. */
export const VPNLAB_NETEM_CHILD_HANDLE = "564d:";
/** The prio band (class) that leads to the netem; band 1 (564c:1) takes everything else. */
export const VPNLAB_IMPAIRED_CLASS = "564c:2";
/** Preference of vpnlab's filters; filters of any other preference are somebody else's. */
export const VPNLAB_FILTER_PREF = 0x564c;
/** The ingress qdisc's handle is always ffff: (the kernel allows no other). */
export const INGRESS_PARENT = "ffff:";

/** Where a qdisc goes: the device's root or under a class. */
export type QdiscPlace = { root: true } | { parent: string };

function checkHandle(h: string): string {
  if (!/^[0-9a-f]{1,4}:([0-9a-f]{1,4})?$/.test(h)) throw new Error(`invalid tc handle ${JSON.stringify(h)}`);
  return h;
}

function checkKind(kind: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(kind)) throw new Error(`invalid qdisc kind ${JSON.stringify(kind)}`);
  return kind;
}

/** `tc qdisc replace dev DEV (root | parent P) handle H: KIND PARAMS...` */
export function tcQdiscReplaceArgv(dev: string, place: QdiscPlace, handle: string, kind: string, params: readonly string[] = []): string[] {
  checkDeviceName(dev);
  const where = "root" in place ? ["root"] : ["parent", checkHandle(place.parent)];
  return ["tc", "qdisc", "replace", "dev", dev, ...where, "handle", checkHandle(handle), checkKind(kind), ...params];
}

/** `tc -j qdisc show dev DEV`: every qdisc of the device (root, children, ingress). */
export function tcQdiscShowArgv(dev: string): string[] {
  checkDeviceName(dev);
  return ["tc", "-j", "qdisc", "show", "dev", dev];
}

/** `tc -s -j qdisc show dev DEV`: the same with statistics (drops). */
export function tcQdiscStatsArgv(dev: string): string[] {
  checkDeviceName(dev);
  return ["tc", "-s", "-j", "qdisc", "show", "dev", dev];
}

/** `tc qdisc add dev DEV handle ffff: ingress` */
export function tcIngressAddArgv(dev: string): string[] {
  checkDeviceName(dev);
  return ["tc", "qdisc", "add", "dev", dev, "handle", INGRESS_PARENT, "ingress"];
}

/** `tc qdisc del dev DEV ingress` (its filters go with it) */
export function tcIngressDelArgv(dev: string): string[] {
  checkDeviceName(dev);
  return ["tc", "qdisc", "del", "dev", dev, "ingress"];
}

/** vpnlab's root qdisc among a device's, if it is there (our handle at the root). */
export function ourRoot(qdiscs: readonly Qdisc[]): Qdisc | undefined {
  return qdiscs.find((q) => q.root && q.handle === VPNLAB_ROOT_HANDLE);
}

/** The ingress qdisc of a device, if any. */
export function ingressQdisc(qdiscs: readonly Qdisc[]): Qdisc | undefined {
  return qdiscs.find((q) => q.kind === "ingress" || q.kind === "clsact");
}

// ---- u32 filters: a flow match, steering to a class or redirecting to an IFB ----

const PROTO_NUMBER: Record<MatchProto, number> = { icmp: 1, tcp: 6, udp: 17, esp: 50 };

const withPrefix = (a: string): string => (a.includes("/") ? a : `${a}/32`);

/**
 * The filter's protocol and u32 selectors for a flow match: `protocol all`
 * and `match u32 0 0` (every packet) without one. Port selectors read the
 * transport header at offset 20, i.e. they assume an IPv4 header without
 * options (u32's own `ip sport/dport` convention), which is what the lab sends.
 */
export function u32Selectors(match: FlowMatch | undefined): string[] {
  const m = match ?? {};
  const sel: string[] = [];
  if (m.proto !== undefined) sel.push("match", "ip", "protocol", String(PROTO_NUMBER[m.proto]), "0xff");
  if (m.src !== undefined) sel.push("match", "ip", "src", withPrefix(m.src));
  if (m.dst !== undefined) sel.push("match", "ip", "dst", withPrefix(m.dst));
  if (m.sport !== undefined) sel.push("match", "ip", "sport", String(m.sport), "0xffff");
  if (m.dport !== undefined) sel.push("match", "ip", "dport", String(m.dport), "0xffff");
  return sel.length === 0 ? ["protocol", "all", "pref", String(VPNLAB_FILTER_PREF), "u32", "match", "u32", "0", "0"] : ["protocol", "ip", "pref", String(VPNLAB_FILTER_PREF), "u32", ...sel];
}

/** What a vpnlab filter does with the packets it matches. */
export type FilterTarget = { flowid: string } | { redirectTo: string };

/** `tc filter add dev DEV parent P protocol .. pref 22092 u32 <match> (flowid C | action mirred egress redirect dev IFB)` */
export function tcFilterAddArgv(dev: string, parent: string, match: FlowMatch | undefined, target: FilterTarget): string[] {
  checkDeviceName(dev);
  const to = "flowid" in target ? ["flowid", checkHandle(target.flowid)] : ["action", "mirred", "egress", "redirect", "dev", checkDeviceName(target.redirectTo)];
  return ["tc", "filter", "add", "dev", dev, "parent", checkHandle(parent), ...u32Selectors(match), ...to];
}

/** `tc filter del dev DEV parent P pref 22092`: vpnlab's filters there, and only those. */
export function tcFilterDelArgv(dev: string, parent: string): string[] {
  checkDeviceName(dev);
  return ["tc", "filter", "del", "dev", dev, "parent", checkHandle(parent), "pref", String(VPNLAB_FILTER_PREF)];
}

/** `tc -j filter show dev DEV parent P` */
export function tcFilterShowArgv(dev: string, parent: string): string[] {
  checkDeviceName(dev);
  return ["tc", "-j", "filter", "show", "dev", dev, "parent", checkHandle(parent)];
}

/** One filter entry as `tc -j filter show` reports it (u32 lists its hash table and its rule as separate entries). */
export interface TcFilter {
  pref: number;
  kind: string;
  protocol: string;
  /** The device a mirred action redirects to. */
  redirectTo?: string;
}

/** Parse `tc -j filter show` output. Empty output is an empty list. */
export function parseFilterJson(stdout: string): TcFilter[] {
  const text = stdout.trim();
  if (text === "") return [];
  const data: unknown = JSON.parse(text);
  if (!Array.isArray(data)) throw new Error(`tc -j filter show: expected a JSON array, got ${text.slice(0, 80)}`);
  return data.filter(isRecord).map((f) => {
    const actions = isRecord(f.options) && Array.isArray(f.options.actions) ? f.options.actions.filter(isRecord) : [];
    const mirred = actions.find((a) => a.kind === "mirred" && typeof a.to_dev === "string");
    return {
      pref: typeof f.pref === "number" ? f.pref : -1,
      kind: typeof f.kind === "string" ? f.kind : "",
      protocol: typeof f.protocol === "string" ? f.protocol : "",
      ...(mirred ? { redirectTo: mirred.to_dev as string } : {}),
    };
  });
}
