// The host namespace's own network state, as comparable lines: interfaces,
// addresses, routes (every table, both families) and nftables tables. A lab
// must never change any of it; the isolation suite and the soak compare a
// snapshot taken before with one taken after.
import { spawnSync } from "node:child_process";

export interface HostNetState {
  links: string[];
  addresses: string[];
  routes: string[];
  nftTables: string[];
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
  const sorted = (xs: string[]) => [...xs].sort();
  return { links: sorted(links), addresses: sorted(addresses), routes: sorted(routes), nftTables: sorted(nftTables) };
}

/** What differs between two snapshots, one line each ("+" appeared, "-" vanished); empty when identical. */
export function diffHostNetState(before: HostNetState, after: HostNetState): string[] {
  const out: string[] = [];
  for (const k of ["links", "addresses", "routes", "nftTables"] as const) {
    const a = new Set(before[k]);
    const b = new Set(after[k]);
    for (const x of before[k]) if (!b.has(x)) out.push(`${k}: - ${x}`);
    for (const x of after[k]) if (!a.has(x)) out.push(`${k}: + ${x}`);
  }
  return out;
}
