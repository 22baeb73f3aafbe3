// How nets are wired and nodes addressed, the same on every runtime: once a
// node's network namespace has a name `ip netns` knows (a namespace of its
// own, or a container's linked under /run/netns), its interfaces are created
// directly inside it (`ip link add ... netns A type veth peer ... netns B`),
// so the host's own namespace never sees a lab interface, even for a moment.
import { run } from "../exec";
import type { NetSpec, NodeSpec, Role } from "../topology/model";
import { NS_PREFIX } from "./state";

// a '-' can never appear in a node name, so the bridge cannot clash with a member port named after its node
const BRIDGE = "br-lab";
const FORWARDING_ROLES: readonly Role[] = ["router", "firewall", "vpn-headend"];

export function nodeNamespace(labId: string, node: string): string {
  return `${NS_PREFIX}${labId}-${node}`;
}
export function bridgeNamespace(labId: string, net: string): string {
  return `${NS_PREFIX}${labId}-net-${net}`;
}

/** The `ip -batch` lines that give a node its addresses, routes and sysctls. Pure, for tests. */
export function nodeConfigBatch(node: NodeSpec): string[] {
  const lines: string[] = [];
  for (const l of node.links) {
    lines.push(`address add ${l.ip.addr}/${l.ip.prefix} dev ${l.net}`);
    lines.push(`link set dev ${l.net} up`);
  }
  const gw = node.links.find((l) => l.gw);
  if (gw?.gw) lines.push(`route add default via ${gw.gw} dev ${gw.net}`);
  for (const r of node.routes) lines.push(`route add ${r.to.addr}/${r.to.prefix} via ${r.via}`);
  return lines;
}

export function nodeSysctls(role: Role): Record<string, string> {
  return {
    // lab nets carry only what the scenario sends: no IPv6 autoconf, MLD or RA noise through lossy hops
    "net.ipv6.conf.all.disable_ipv6": "1",
    "net.ipv6.conf.default.disable_ipv6": "1",
    "net.ipv4.ip_forward": FORWARDING_ROLES.includes(role) ? "1" : "0",
    // tunnel replies leave by a different interface than the encapsulated packets arrived on
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
  };
}

/** Make a namespace of the lab's own (a net's bridge): recorded by `record` before it exists, so gc finds it by name. */
export type AddNamespace = (ns: string) => Promise<void>;

/**
 * Wire one net between nodes whose namespaces `nsOf` names: a veth pair for two
 * members, else a bridge in a namespace of its own with one veth per member.
 */
export async function wireNet(labId: string, net: NetSpec, nsOf: (node: string) => string, addNamespace: AddNamespace): Promise<void> {
  const [a, b] = net.members;
  if (net.members.length === 2) {
    await run(["ip", "link", "add", "name", net.name, "netns", nsOf(a.node), "type", "veth", "peer", "name", net.name, "netns", nsOf(b.node)]);
    return;
  }
  const brNs = bridgeNamespace(labId, net.name);
  await addNamespace(brNs);
  await run(["ip", "-n", brNs, "link", "add", "name", BRIDGE, "type", "bridge"]);
  await run(["ip", "-n", brNs, "link", "set", "dev", BRIDGE, "up"]);
  for (const m of net.members) {
    await run(["ip", "link", "add", "name", net.name, "netns", nsOf(m.node), "type", "veth", "peer", "name", m.node, "netns", brNs]);
    await run(["ip", "-n", brNs, "link", "set", "dev", m.node, "master", BRIDGE, "up"]);
  }
}

/** Addresses, default gateway and routes of one node, as one `ip -batch`. */
export async function configureAddresses(ns: string, node: NodeSpec): Promise<void> {
  await run(["ip", "-n", ns, "-batch", "-"], { input: nodeConfigBatch(node).join("\n") + "\n" });
}

/** The lab id a `vl-<labId>-...` name belongs to, or undefined for any other name. */
export function labIdOfName(name: string, idRe: RegExp): string | undefined {
  if (!name.startsWith(NS_PREFIX)) return undefined;
  const id = name.slice(NS_PREFIX.length, NS_PREFIX.length + 5);
  return idRe.test(id) && name[NS_PREFIX.length + 5] === "-" ? id : undefined;
}
