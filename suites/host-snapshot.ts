// The host namespace's own network state, as comparable lines: interfaces,
// addresses, routes (every table, both families) and nftables tables. A lab
// must never change any of it; the isolation suite and the soak compare a
// snapshot taken before with one taken after.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";

export interface HostNetState {
  links: string[];
  addresses: string[];
  routes: string[];
  nftTables: string[];
  /** The full ruleset, line by line: a rule added to an existing table shows, not only a new table. */
  nftRuleset: string[];
  /** Forwarding and reverse-path sysctls of the host's namespace ("name = value"): a lab must never flip them. */
  sysctls: string[];
}

export interface HostAddress {
  dev: string;
  family: "inet" | "inet6";
  addr: string;
  scope: string;
}

interface IpLink {
  ifname: string;
  mtu?: number;
  flags?: string[];
  master?: string;
  link_type?: string;
  address?: string;
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}

interface IpRoute {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  table?: string;
  protocol?: string;
  prefsrc?: string;
  metric?: number;
}

function json<T>(argv: string[]): T {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed (exit ${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout || "[]") as T;
}

/** Every address of the host's own namespace (`ip -j addr`). */
export function hostAddresses(): HostAddress[] {
  return json<IpLink[]>(["ip", "-j", "addr"]).flatMap((l) =>
    (l.addr_info ?? []).map((a) => ({ dev: l.ifname, family: a.family === "inet6" ? ("inet6" as const) : ("inet" as const), addr: a.local, scope: a.scope })),
  );
}

const HOST_SYSCTLS = ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding", "net.ipv6.conf.default.forwarding", "net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter", "net.ipv4.conf.all.forwarding"];

function readSysctl(name: string): string {
  try {
    return readFileSync(`/proc/sys/${name.replace(/\./g, "/")}`, "utf8").trim();
  } catch {
    return "(absent)";
  }
}

export function hostNetState(): HostNetState {
  const links = json<IpLink[]>(["ip", "-j", "link"]).map((l) => `${l.ifname} ${l.link_type ?? ""} ${l.address ?? ""} mtu ${l.mtu} <${(l.flags ?? []).join(",")}>${l.master ? ` master ${l.master}` : ""}`);
  const addresses = json<IpLink[]>(["ip", "-j", "addr"]).flatMap((l) => (l.addr_info ?? []).map((a) => `${l.ifname} ${a.local}/${a.prefixlen} scope ${a.scope}`));
  // lifetimes and expiry counters tick by themselves: only what a route is, not how long it lives
  const routes = (["-4", "-6"] as const).flatMap((fam) =>
    json<IpRoute[]>(["ip", fam, "-j", "route", "show", "table", "all"]).map(
      (r) => `${fam} ${r.type ?? "unicast"} ${r.dst}${r.gateway ? ` via ${r.gateway}` : ""}${r.dev ? ` dev ${r.dev}` : ""} table ${r.table ?? "main"}${r.protocol ? ` proto ${r.protocol}` : ""}${r.prefsrc ? ` src ${r.prefsrc}` : ""}${r.metric !== undefined ? ` metric ${r.metric}` : ""}`,
    ),
  );
  const nft = spawnSync("nft", ["list", "tables"], { encoding: "utf8" });
  if (nft.status !== 0) throw new Error(`nft list tables failed (exit ${nft.status}): ${nft.stderr}`);
  const nftTables = nft.stdout.split("\n").filter(Boolean);
  const rs = spawnSync("nft", ["list", "ruleset"], { encoding: "utf8" });
  if (rs.status !== 0) throw new Error(`nft list ruleset failed (exit ${rs.status}): ${rs.stderr}`);
  // counters tick with the host's own traffic: what a rule is, not how often it matched
  const nftRuleset = rs.stdout.split("\n").map((l) => l.replace(/counter packets \d+ bytes \d+/g, "counter")).filter((l) => l.trim() !== "");
  const sysctls = HOST_SYSCTLS.map((k) => `${k} = ${readSysctl(k)}`);
  const sorted = (xs: string[]) => [...xs].sort();
  return { links: sorted(links), addresses: sorted(addresses), routes: sorted(routes), nftTables: sorted(nftTables), nftRuleset, sysctls };
}

/** What differs between two snapshots, one line each ("+" appeared, "-" vanished); empty when identical. */
export function diffHostNetState(before: HostNetState, after: HostNetState): string[] {
  const out: string[] = [];
  for (const k of ["links", "addresses", "routes", "nftTables", "nftRuleset", "sysctls"] as const) {
    const a = new Set(before[k]);
    const b = new Set(after[k]);
    for (const x of before[k]) if (!b.has(x)) out.push(`${k}: - ${x}`);
    for (const x of after[k]) if (!a.has(x)) out.push(`${k}: + ${x}`);
  }
  return out;
}

/**
 * The host's own files and tables, byte for byte: what a run must leave
 * exactly as it found it. Raw command output, not normalized: any change
 * at all (even a rule's order or a comment) is a change.
 */
export interface HostBytes {
  "/etc/resolv.conf": string; // content, then mtime
  "/etc/hosts": string;
  "ip route show table all": string;
  "ip -6 route show table all": string;
  "ip rule": string;
  "ip -6 rule": string;
  "nft list ruleset": string;
}

function text(argv: string[]): string {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed (exit ${r.status}): ${r.stderr}`);
  return r.stdout;
}

function file(p: string): string {
  // a missing file is a state too: it must stay missing
  if (!existsSync(p)) return "(absent)";
  const st = statSync(p);
  return `${readFileSync(p, "latin1")}\n--- mtime ${st.mtimeMs} size ${st.size} mode ${st.mode.toString(8)}`;
}

export function hostBytes(): HostBytes {
  return {
    "/etc/resolv.conf": file("/etc/resolv.conf"),
    "/etc/hosts": file("/etc/hosts"),
    "ip route show table all": text(["ip", "route", "show", "table", "all"]),
    "ip -6 route show table all": text(["ip", "-6", "route", "show", "table", "all"]),
    "ip rule": text(["ip", "rule"]),
    "ip -6 rule": text(["ip", "-6", "rule"]),
    "nft list ruleset": text(["nft", "list", "ruleset"]),
  };
}

/** What differs, per item, as "-" (before) and "+" (after) lines; empty when byte-for-byte equal. */
export function diffHostBytes(before: HostBytes, after: HostBytes): string[] {
  const out: string[] = [];
  for (const k of Object.keys(before) as (keyof HostBytes)[]) {
    if (before[k] === after[k]) continue;
    const a = before[k].split("\n");
    const b = after[k].split("\n");
    out.push(`${k} changed:`);
    for (const x of a) if (!b.includes(x)) out.push(`  - ${x}`);
    for (const x of b) if (!a.includes(x)) out.push(`  + ${x}`);
    // same lines, another order (or only repeated lines differ)
    if (out.at(-1) === `${k} changed:`) out.push(`  (same lines, different order or count: ${a.length} -> ${b.length} lines)`);
  }
  return out;
}
