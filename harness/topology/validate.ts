// Turns one positioned tree (the base document, or a variant merged over it)
// into a validated Scenario. Every rejection is a TopologyError at the line
// and column of the offending key or value, naming its dotted path, saying
// what is wrong and what to do instead. The first problem found is reported.
import { IMPLEMENTATIONS, implSpec } from "../vpn/impls";
import { TRANSPORT_OPTION_NAMES, TRANSPORT_SPECS } from "../vpn/impls/transports";
import { MAX_EXPANDED, STEP_KEYS, expandStep, expandedCount, planOf, scheduleKey, scheduleOverlaps, seedSteps, stepAction } from "./chaos";
import { TopologyError, didYouMean, nearest } from "./errors";
import { childPath, type PEntry, type PMap, type PNode, type PSeq, type Pos } from "./merge";
import {
  FIREWALL_MODES,
  FLOWS,
  IMPLS,
  ROLES,
  TRANSPORTS,
  VERDICTS,
  type CaptureTarget,
  type ChaosStep,
  type Cidr,
  type DpdSpec,
  type FaultTarget,
  type FirewallMode,
  type FirewallSpec,
  type Flow,
  type FlowMatch,
  type Impl,
  type Link,
  type NetSpec,
  type NodeSpec,
  type Phases,
  type ProbeSpec,
  type ProxyImpl,
  type Role,
  type Route,
  RUNTIME_KINDS,
  type RuntimeKind,
  type Scenario,
  type Transport,
  type Verdict,
  type VpnSpec,
} from "./model";
import {
  addrToInt,
  broadcastOf,
  cidrText,
  contains,
  describe,
  intToAddr,
  msText,
  networkOf,
  networkText,
  overlaps,
  parseAddr,
  parseBandwidth,
  parseCidr,
  parseDuration,
  parseRate,
  unicastProblem,
  type Parsed,
} from "./units";

export const TOPOLOGY_NAME_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;
export const VARIANT_NAME_RE = TOPOLOGY_NAME_RE;
/**
 * Node and net names become Linux namespace / interface names. No '-' is
 * allowed, so they can never clash with the runtime's own names, which all
 * contain one: namespaces `vl-<labid>-<node>` and `vl-<labid>-net-<net>`, the
 * bridge `br-lab`, the tunnel device `tun-vpn`.
 */
export const IFNAME_RE = /^[a-z][a-z0-9]{0,9}$/;

/**
 * Names that match IFNAME_RE but that no node or net may take: a net name is
 * an interface in each member node, and a node name is a bridge-port
 * interface in a bridge namespace, so both must be names the kernel accepts
 * for a new interface in a namespace that already has `lo`.
 */
export const RESERVED_IFNAMES: ReadonlyMap<string, string> = new Map([
  ["lo", "is the loopback interface every namespace already has"],
  ["all", "is refused by the kernel as an interface name (`all` is the net.ipv4.conf.all sysctl directory; ip link add fails with \"Invalid argument\")"],
  ["default", "is refused by the kernel as an interface name (`default` is the net.ipv4.conf.default sysctl directory; ip link add fails with \"Invalid argument\")"],
]);

export const ROOT_KEYS = ["name", "runtime", "nodes", "vpn", "firewall", "probe", "phases", "chaos", "seed", "capture", "expect", "variants"] as const;
const SCENARIO_KEYS = ROOT_KEYS.filter((k) => k !== "variants");
const NODE_KEYS = ["role", "links", "routes"] as const;
const LINK_KEYS = ["net", "ip", "gw"] as const;
const ROUTE_KEYS = ["to", "via"] as const;
// the common keys, then each transport's options (harness/vpn/impls/transports.ts)
const VPN_KEYS = ["client", "headend", "transport", "impl", "port", "pool", "dpd", ...TRANSPORT_OPTION_NAMES];
const DPD_KEYS = ["interval", "retries"] as const;
const FIREWALL_KEYS = ["node", "mode", "proxy", "inspect", "bypass", "idle-timeout"] as const;
const FLOW_MATCH_KEYS = ["proto", "port"] as const;
const PROBE_KEYS = ["from", "to", "flows", "rate", "port", "timeout", "stream-rate"] as const;
const PHASE_KEYS = ["baseline", "chaos", "recovery"] as const;

const PROXIES: readonly ProxyImpl[] = ["builtin", "haproxy"];
const PROTOS = ["tcp", "udp"] as const;

export const DEFAULT_POOL = "172.29.0.0/24";

/** Reports problems for one scenario ("base" or a variant) of one file. */
export class Checker {
  constructor(
    readonly file: string,
    readonly variant: string,
  ) {}

  fail(pos: Pos, key: string, detail: string): never {
    const own = `variants.${this.variant}`;
    const inVariant = this.variant !== "base" && key !== own && !key.startsWith(`${own}.`) && !key.startsWith(`${own}[`);
    throw new TopologyError(this.file, pos.line, pos.col, key, inVariant ? `${detail} (in variant ${this.variant})` : detail);
  }

  /** Fail at a value. */
  at(n: PNode, detail: string): never {
    return this.fail(n.pos, n.path, detail);
  }

  /** Fail at the key of an entry. */
  atKey(e: PEntry, detail: string): never {
    return this.fail(e.keyPos, e.value.path, detail);
  }

  /** A map whose keys are all in `known` (unknown keys are rejected, with a suggestion). */
  map(n: PNode, what: string, known: readonly string[]): PMap {
    const m = this.anyMap(n, what);
    for (const e of m.entries.values()) {
      if (!known.includes(e.key)) {
        this.atKey(e, `unknown key \`${e.key}\` in ${what} — ${didYouMean(e.key, known)}${what} takes: ${known.join(", ")}`);
      }
    }
    return m;
  }

  /** A map with free-form keys (names). */
  anyMap(n: PNode, what: string): PMap {
    if (n.kind !== "map") this.at(n, `${what} must be a map ({ key: value, ... }), got ${shape(n)} — write it as key: value pairs`);
    return n;
  }

  seq(n: PNode, what: string): PSeq {
    if (n.kind !== "seq") this.at(n, `${what} must be a list ([ ... ] or "- " items), got ${shape(n)} — write it as a list`);
    return n;
  }

  /** A required entry; `example` shows what to add. */
  req(m: PMap, key: string, example: string): PNode {
    const e = m.entries.get(key);
    if (e === undefined) this.fail(m.pos, childPath(m.path, key), `missing required key \`${key}\` — add it, e.g. ${example}`);
    if (e.value.kind === "scalar" && e.value.value === null) this.at(e.value, `\`${key}\` is empty — give it a value, e.g. ${example}`);
    return e.value;
  }

  /** An optional entry; absent or null (`key:` with no value) both mean "use the default". */
  opt(m: PMap, key: string): PNode | undefined {
    const e = m.entries.get(key);
    if (e === undefined || (e.value.kind === "scalar" && e.value.value === null)) return undefined;
    return e.value;
  }

  str(n: PNode, what: string): string {
    if (n.kind !== "scalar" || typeof n.value !== "string") this.at(n, `${what} must be a string, got ${shape(n)} — write a plain name or value`);
    return n.value;
  }

  oneOf<T extends string>(n: PNode, values: readonly T[], what: string): T {
    if (n.kind !== "scalar" || typeof n.value !== "string") this.at(n, `${what} must be one of ${values.join(", ")}, got ${shape(n)} — write one of them`);
    const v = n.value;
    if (!(values as readonly string[]).includes(v)) {
      this.at(n, `${what} \`${v}\` is not known — ${didYouMean(v, values)}use one of: ${values.join(", ")}`);
    }
    return v as T;
  }

  int(n: PNode, lo: number, hi: number, what: string): number {
    if (n.kind !== "scalar" || typeof n.value !== "number" || !Number.isInteger(n.value)) {
      this.at(n, `${what} must be a whole number from ${lo} to ${hi}, got ${shape(n)} — write a bare number (no quotes)`);
    }
    if (n.value < lo || n.value > hi) this.at(n, `${what} ${n.value} is out of range — use a number from ${lo} to ${hi}`);
    return n.value;
  }

  bool(n: PNode, what: string): boolean {
    if (n.kind !== "scalar" || typeof n.value !== "boolean") this.at(n, `${what} must be true or false, got ${shape(n)} — write true or false (no quotes)`);
    return n.value;
  }

  /** The parsed value, or fail at `n` with the parser's reason (the key already names the field). */
  parsed<T>(n: PNode, p: Parsed<T>): T {
    if (!p.ok) this.at(n, p.why);
    return p.value;
  }

  duration(n: PNode, what: string, min: "zero" | "positive"): number {
    const ms = this.parsed(n, parseDuration(raw(n)));
    if (min === "positive" && ms <= 0) this.at(n, `${what} must be longer than 0 — write e.g. "1s" or "500ms"`);
    return ms;
  }
}

/** The value for a parser: the scalar itself, or an empty list/map standing for a collection (so messages say "a list"). */
function raw(n: PNode): unknown {
  return n.kind === "scalar" ? n.value : n.kind === "seq" ? [] : {};
}

function shape(n: PNode): string {
  return describe(raw(n));
}

/** A rename suggestion for a name that is not a usable interface name, or "". */
function ifnameHint(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9]/g, "").replace(/^[0-9]+/, "").slice(0, 10);
  return IFNAME_RE.test(s) && !RESERVED_IFNAMES.has(s) ? ` (e.g. \`${s}\`)` : "";
}

function ifnameProblem(name: string, kind: "node" | "net"): string | undefined {
  const use = kind === "node" ? "a network namespace and interface name" : "an interface name";
  const reserved = RESERVED_IFNAMES.get(name);
  if (reserved !== undefined) return `${kind} name \`${name}\` ${reserved}; it becomes ${use} — choose another name`;
  if (IFNAME_RE.test(name)) return undefined;
  const why =
    name.length > 10
      ? `is ${name.length} characters long`
      : name.length === 0
        ? "is empty"
        : /^[^a-z]/.test(name)
          ? "does not start with a lowercase letter"
          : "contains characters other than lowercase letters and digits";
  return `${kind} name \`${name}\` ${why}; it becomes ${use} — rename it to at most 10 lowercase letters/digits, starting with a letter${ifnameHint(name)}`;
}

// Internal bookkeeping: the parsed spec plus the tree nodes it came from, for cross-checks.
interface LinkSrc {
  node: string;
  index: number;
  link: Link;
  netN: PNode;
  ipN: PNode;
  gwN?: PNode;
}

interface RouteSrc {
  route: Route;
  toN: PNode;
  viaN: PNode;
}

interface NodeSrc {
  spec: NodeSpec;
  links: LinkSrc[];
  routes: RouteSrc[];
}

function list(xs: Iterable<string>): string {
  const a = [...xs];
  return a.length ? a.join(", ") : "(none)";
}

/** Validate `root` (a document without `variants`) and build its Scenario. */
export function buildScenario(root: PMap, ck: Checker): Scenario {
  ck.map(root, "the topology", SCENARIO_KEYS);

  const nameN = ck.req(root, "name", "name: asa-ips");
  const name = ck.str(nameN, "name");
  if (!TOPOLOGY_NAME_RE.test(name)) {
    ck.at(nameN, `topology name \`${name}\` is not allowed — use 1–32 lowercase letters, digits and '-', starting with a letter or digit (it names reports and lab objects)`);
  }

  const nodes = checkNodes(root, ck);
  const nets = checkNets(nodes, ck);
  checkGateways(nodes, nets, ck);

  const byName = new Map(nodes.map((n) => [n.spec.name, n.spec]));
  const vpn = checkVpn(root, ck, byName, nets);
  const firewall = checkFirewall(root, ck, byName);
  const probe = checkProbe(root, ck, byName, vpn);
  const phases = checkPhases(root, ck);
  const seedN = ck.opt(root, "seed");
  const seed = seedN ? ck.int(seedN, 0, 0xffffffff, "seed") : undefined;
  const chaos = seedSteps(checkChaos(root, ck, nodes, nets, phases), seed);
  const capture = checkCapture(root, ck, nodes, nets);
  const expect = ck.oneOf<Verdict>(ck.req(root, "expect", "expect: survives"), VERDICTS, "expect");
  const runtimeN = ck.opt(root, "runtime");
  const runtime = runtimeN ? ck.oneOf<RuntimeKind>(runtimeN, RUNTIME_KINDS, "runtime") : undefined;

  return {
    file: ck.file,
    name,
    variant: ck.variant,
    nodes: nodes.map((n) => n.spec),
    nets: nets.map((n) => n.spec),
    vpn,
    firewall,
    probe,
    phases,
    chaos,
    capture,
    expect,
    ...(runtime ? { runtime } : {}),
    ...(seed !== undefined ? { seed } : {}),
  };
}

function checkNodes(root: PMap, ck: Checker): NodeSrc[] {
  const nodesN = ck.req(root, "nodes", "nodes: { client: { role: vpn-client, links: [{ net: home, ip: 203.0.113.10/24 }] }, ... }");
  const nodesM = ck.anyMap(nodesN, "nodes");
  if (nodesM.entries.size < 2) {
    ck.at(nodesM, `a lab needs at least two nodes, found ${nodesM.entries.size} — add the nodes (at least a vpn-client and a vpn-headend) under nodes`);
  }
  const out: NodeSrc[] = [];
  for (const e of nodesM.entries.values()) {
    const bad = ifnameProblem(e.key, "node");
    if (bad) ck.atKey(e, bad);
    out.push(checkNode(e, ck));
  }
  // Every address once in the whole lab.
  const seen = new Map<number, LinkSrc>();
  for (const n of out) {
    for (const l of n.links) {
      const a = addrToInt(l.link.ip.addr);
      const prev = seen.get(a);
      if (prev) {
        const who = prev.node === l.node ? `this node's links[${prev.index}]` : `node ${prev.node} (${prev.ipN.path}, line ${prev.ipN.pos.line})`;
        ck.at(l.ipN, `address ${l.link.ip.addr} is already used by ${who} — every interface in the lab needs its own address`);
      }
      seen.set(a, l);
    }
  }
  return out;
}

function checkNode(e: PEntry, ck: Checker): NodeSrc {
  const name = e.key;
  const what = `node ${name}`;
  const m = ck.map(e.value, what, NODE_KEYS);
  const role = ck.oneOf<Role>(ck.req(m, "role", "role: host"), ROLES, "role");

  const linksN = ck.seq(ck.req(m, "links", "links: [{ net: lan, ip: 10.0.0.2/24 }]"), "links");
  if (linksN.items.length === 0) ck.at(linksN, `node ${name} has no links — give it at least one, e.g. [{ net: lan, ip: 10.0.0.2/24 }]`);
  const links: LinkSrc[] = [];
  linksN.items.forEach((item, index) => {
    const lm = ck.map(item, `a link`, LINK_KEYS);
    const netN = ck.req(lm, "net", "net: lan");
    const net = ck.str(netN, "net");
    const bad = ifnameProblem(net, "net");
    if (bad) ck.at(netN, bad);
    const dup = links.find((l) => l.link.net === net);
    if (dup) {
      ck.at(netN, `node ${name} already has a link on net ${net} (links[${dup.index}]) — a node has one interface per net; remove one of the links or put it on another net`);
    }
    const ipN = ck.req(lm, "ip", "ip: 10.0.0.2/24");
    const ip = ck.parsed(ipN, parseCidr(raw(ipN)));
    checkHostCidr(ipN, ip, ck);
    const gwN = ck.opt(lm, "gw");
    let gw: string | undefined;
    if (gwN) {
      const g = ck.parsed(gwN, parseAddr(raw(gwN)));
      gw = intToAddr(g);
      const other = links.find((l) => l.gwN !== undefined);
      if (other) {
        ck.at(gwN, `node ${name} already has a default gateway on links[${other.index}] — a node has one default route; remove one gw (use routes for specific networks)`);
      }
    }
    const link: Link = gw === undefined ? { net, ip } : { net, ip, gw };
    links.push({ node: name, index, link, netN, ipN, gwN });
  });

  const routes: RouteSrc[] = [];
  const routesN = ck.opt(m, "routes");
  if (routesN) {
    ck.seq(routesN, "routes").items.forEach((item) => {
      const rm = ck.map(item, "a route", ROUTE_KEYS);
      const toN = ck.req(rm, "to", "to: 192.0.2.0/24");
      const to = ck.parsed(toN, parseCidr(raw(toN)));
      if (networkOf(to) !== addrToInt(to.addr)) {
        ck.at(toN, `route destination ${cidrText(to)} has host bits set — write the network address ${networkText(to)}`);
      }
      const viaN = ck.req(rm, "via", "via: 198.51.100.1");
      const via = ck.parsed(viaN, parseAddr(raw(viaN)));
      routes.push({ route: { to, via: intToAddr(via) }, toN, viaN });
    });
  }

  const spec: NodeSpec = { name, role, links: links.map((l) => l.link), routes: routes.map((r) => r.route) };
  return { spec, links, routes };
}

/** A host address on a link: unicast, and neither the network nor the broadcast address of its prefix. */
function checkHostCidr(n: PNode, c: Cidr, ck: Checker): void {
  const a = addrToInt(c.addr);
  const u = unicastProblem(a);
  if (u) ck.at(n, `${cidrText(c)} ${u} — use a private or documentation range, e.g. 10.0.0.2/24`);
  if (c.prefix <= 30) {
    const first = intToAddr(networkOf(c) + 1);
    const last = intToAddr(broadcastOf(c) - 1);
    if (a === networkOf(c)) {
      ck.at(n, `${cidrText(c)} is the network address of ${networkText(c)} — a node needs a host address, from ${first} to ${last}`);
    }
    if (a === broadcastOf(c)) {
      ck.at(n, `${cidrText(c)} is the broadcast address of ${networkText(c)} — a node needs a host address, from ${first} to ${last}`);
    }
  }
}

interface NetSrc {
  spec: NetSpec;
  links: LinkSrc[];
}

function checkNets(nodes: NodeSrc[], ck: Checker): NetSrc[] {
  const nets = new Map<string, NetSrc>();
  for (const n of nodes) {
    for (const l of n.links) {
      let net = nets.get(l.link.net);
      if (!net) {
        net = { spec: { name: l.link.net, members: [] }, links: [] };
        nets.set(l.link.net, net);
      }
      net.spec.members.push({ node: n.spec.name, ip: l.link.ip });
      net.links.push(l);
    }
  }
  for (const net of nets.values()) {
    const [first, ...rest] = net.links;
    if (rest.length === 0) {
      ck.at(first.netN, `net ${net.spec.name} has only one member (node ${first.node}): a net needs at least two nodes — link another node to ${net.spec.name}, or fix the net name if it is a typo${typoNet(net.spec.name, nets)}`);
    }
    const subnet = networkText(first.link.ip);
    for (const l of rest) {
      if (networkText(l.link.ip) !== subnet) {
        ck.at(l.ipN, `${cidrText(l.link.ip)} is in ${networkText(l.link.ip)}, but net ${net.spec.name} is ${subnet} (node ${first.node}, ${first.ipN.path}) — members of a net share one subnet: use an address in ${subnet}`);
      }
    }
  }
  return [...nets.values()];
}

function typoNet(name: string, nets: Map<string, NetSrc>): string {
  const others = [...nets.keys()].filter((k) => k !== name);
  const n = nearest(name, others);
  return n === undefined ? "" : ` (did you mean \`${n}\`?)`;
}

/** Gateways and route next hops: on a connected net of that node, another member's address. */
function checkGateways(nodes: NodeSrc[], nets: NetSrc[], ck: Checker): void {
  const netByName = new Map(nets.map((n) => [n.spec.name, n]));
  const connected = (n: NodeSrc): string => n.links.map((l) => `${l.link.net} ${networkText(l.link.ip)}`).join(", ");
  /** Undefined when some member of the net has `addr`, else the complaint. */
  const noNeighbour = (netName: string, addr: string, self: string): string | undefined => {
    const net = netByName.get(netName);
    if (net === undefined || net.spec.members.some((x) => x.ip.addr === addr)) return undefined;
    const others = net.spec.members.filter((x) => x.node !== self).map((x) => `${x.node} ${x.ip.addr}`);
    return `no node on net ${netName} has address ${addr} — use a neighbour's address: ${list(others)}`;
  };
  for (const n of nodes) {
    const self = n.spec.name;
    const own = new Set(n.links.map((l) => l.link.ip.addr));
    for (const l of n.links) {
      if (l.gwN === undefined || l.link.gw === undefined) continue;
      const gw = l.link.gw;
      if (own.has(gw)) {
        ck.at(l.gwN, `gw ${gw} is node ${self}'s own address — the gateway is a neighbour on net ${l.link.net}; use its address`);
      }
      if (!contains(l.link.ip, gw)) {
        const onOther = n.links.find((o) => contains(o.link.ip, gw));
        if (onOther) {
          ck.at(l.gwN, `gw ${gw} is on net ${onOther.link.net} (links[${onOther.index}]), not on net ${l.link.net} (${networkText(l.link.ip)}) — move the gw to that link`);
        }
        ck.at(l.gwN, `gw ${gw} is not on a net connected to node ${self} (${connected(n)}) — the gateway must be a neighbour's address on net ${l.link.net}`);
      }
      const missing = noNeighbour(l.link.net, gw, self);
      if (missing) ck.at(l.gwN, `gw ${gw}: ${missing}`);
    }
    for (const r of n.routes) {
      const via = r.route.via;
      if (own.has(via)) ck.at(r.viaN, `via ${via} is node ${self}'s own address — the next hop is a neighbour; use its address`);
      const l = n.links.find((x) => contains(x.link.ip, via));
      if (!l) {
        ck.at(r.viaN, `via ${via} is not on a net connected to node ${self} (${connected(n)}) — the next hop must be a neighbour's address on one of them`);
      }
      const missing = noNeighbour(l.link.net, via, self);
      if (missing) ck.at(r.viaN, `via ${via}: ${missing}`);
    }
  }
}

function nodeRef(n: PNode, ck: Checker, byName: Map<string, NodeSpec>, what: string, role?: Role): string {
  const name = ck.str(n, what);
  const node = byName.get(name);
  if (!node) {
    ck.at(n, `unknown node \`${name}\` — ${didYouMean(name, byName.keys())}the nodes are: ${list(byName.keys())}`);
  }
  if (role !== undefined && node.role !== role) {
    const fit = [...byName.values()].filter((x) => x.role === role).map((x) => x.name);
    const hint = fit.length ? `name a ${role} node (${fit.join(", ")})` : `no node has role ${role}: add one or set role: ${role} on ${name}`;
    ck.at(n, `${what} needs a node of role ${role}, but ${name} is a ${node.role} — ${hint}`);
  }
  return name;
}

function flowMatches(n: PNode | undefined, ck: Checker, what: string): { m: FlowMatch; protoN: PNode }[] {
  if (n === undefined) return [];
  return ck.seq(n, what).items.map((item) => {
    const fm = ck.map(item, `an ${what} entry`, FLOW_MATCH_KEYS);
    const protoN = ck.req(fm, "proto", "proto: tcp");
    const proto = ck.oneOf(protoN, PROTOS, "proto");
    const port = ck.int(ck.req(fm, "port", "port: 10000"), 1, 65535, "port");
    return { m: { proto, port }, protoN };
  });
}

function checkVpn(root: PMap, ck: Checker, byName: Map<string, NodeSpec>, nets: NetSrc[]): VpnSpec {
  const m = ck.map(ck.req(root, "vpn", "vpn: { client: client, headend: headend, transport: ctcp }"), "vpn", VPN_KEYS);
  const client = nodeRef(ck.req(m, "client", "client: client"), ck, byName, "vpn.client", "vpn-client");
  const headend = nodeRef(ck.req(m, "headend", "headend: headend"), ck, byName, "vpn.headend", "vpn-headend");
  const transportN = ck.req(m, "transport", "transport: ctcp");
  const transport = ck.oneOf<Transport>(transportN, TRANSPORTS, "transport");
  const implN = ck.opt(m, "impl");
  const impl: Impl = implN ? ck.oneOf(implN, IMPLS, "impl") : "reference";
  // what each implementation carries is its own declaration (harness/vpn/impls/<name>/spec.ts), not a rule here
  const spec = implSpec(impl);
  if (spec && !spec.transports.includes(transport)) {
    const others = Object.values(IMPLEMENTATIONS).flatMap((e) => (e && e.spec.transports.includes(transport) ? [e.spec.name] : []));
    ck.at(
      implN ?? transportN,
      `impl ${impl} implements only transport ${spec.transports.join(", ")}, not ${transport} — ${others.length ? `use impl: ${others.join(" or ")}` : `no implementation carries ${transport}`}${spec.transports.length === 1 ? ` (or transport: ${spec.transports[0]})` : ""}`,
    );
  }
  const portN = ck.opt(m, "port");
  const given = portN ? ck.int(portN, 1, 65535, "vpn.port") : undefined;
  // a transport without a port (an IP protocol) ignores one, e.g. inherited from a base with another transport
  const { defaultPort } = TRANSPORT_SPECS[transport];
  const port = defaultPort === undefined ? 0 : (given ?? defaultPort);

  const poolN = ck.opt(m, "pool");
  let pool: Cidr = { addr: "172.29.0.0", prefix: 24 };
  if (poolN) {
    pool = ck.parsed(poolN, parseCidr(raw(poolN)));
    if (pool.prefix > 30) {
      ck.at(poolN, `pool ${cidrText(pool)} is too small: the headend takes .1 and clients start at .2 — use a prefix of /30 or shorter, e.g. ${DEFAULT_POOL}`);
    }
    if (networkOf(pool) !== addrToInt(pool.addr)) {
      ck.at(poolN, `pool ${cidrText(pool)} has host bits set — write the network address ${networkText(pool)}`);
    }
  }
  for (const net of nets) {
    const l = net.links[0];
    if (overlaps(pool, l.link.ip)) {
      ck.at(poolN ?? m, `pool ${cidrText(pool)} overlaps net ${net.spec.name} (${networkText(l.link.ip)}) — the tunnel's inner addresses must not collide with lab nets; choose an unused range${poolN ? ` such as ${DEFAULT_POOL}` : " with vpn.pool"}`);
    }
  }

  // `dpd: off` (or false) switches dead-peer detection off at both ends: a stall then shows as
  // what it is — data the client keeps sending that never arrives — not as a timer of our own
  let dpd: DpdSpec | null = { intervalMs: 1000, retries: 3 };
  const dpdN = ck.opt(m, "dpd");
  if (dpdN && dpdN.kind === "scalar" && (dpdN.value === false || dpdN.value === "off")) {
    dpd = null;
  } else if (dpdN && dpdN.kind === "scalar") {
    ck.at(dpdN, `dpd must be a map { interval, retries } or off, got ${JSON.stringify(dpdN.value)} — write e.g. dpd: { interval: 1s, retries: 3 }, or dpd: off`);
  } else if (dpdN) {
    const dm = ck.map(dpdN, "dpd", DPD_KEYS);
    const iN = ck.opt(dm, "interval");
    const rN = ck.opt(dm, "retries");
    dpd = {
      intervalMs: iN ? ck.duration(iN, "dpd.interval", "positive") : 1000,
      retries: rN ? ck.int(rN, 1, 1000, "dpd.retries") : 3,
    };
  }
  const options = checkVpnOptions(m, ck, transport, impl);
  if (client === headend) ck.at(m, "vpn.client and vpn.headend are the same node — name two different nodes");
  return { client, headend, transport, impl, port, pool, dpd, dtls: options.dtls ?? false };
}

/**
 * The transports' boolean options (vpn.dtls, ...): set to true, the transport must declare it
 * (harness/vpn/impls/transports.ts) and the implementation must honour it (ImplSpec.options).
 */
function checkVpnOptions(m: PMap, ck: Checker, transport: Transport, impl: Impl): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const name of TRANSPORT_OPTION_NAMES) {
    const n = ck.opt(m, name);
    if (!n) continue;
    const on = ck.bool(n, name);
    out[name] = on;
    if (!on) continue;
    const opt = TRANSPORT_SPECS[transport].options.find((o) => o.name === name);
    if (!opt) {
      const carriers = Object.values(TRANSPORT_SPECS).filter((t) => t.options.some((o) => o.name === name)).map((t) => t.name);
      ck.at(n, `${name} applies only to transport ${carriers.join(" or ")}, not ${transport} — remove it or set ${name}: false`);
    } else if (!implSpec(impl)?.options.includes(name)) {
      const honour = Object.values(IMPLEMENTATIONS).flatMap((e) => (e?.spec.options.includes(name) && e.spec.transports.includes(transport) ? [e.spec.name] : []));
      ck.at(n, `${name} needs impl ${honour.join(" or ")}: impl ${impl} ${opt.without} — ${honour.length ? `add impl: ${honour[0]}, or ` : ""}set ${name}: false`);
    }
  }
  return out;
}

function checkFirewall(root: PMap, ck: Checker, byName: Map<string, NodeSpec>): FirewallSpec | undefined {
  const n = ck.opt(root, "firewall");
  if (n === undefined) return undefined;
  const m = ck.map(n, "firewall", FIREWALL_KEYS);
  const node = nodeRef(ck.req(m, "node", "node: firewall"), ck, byName, "firewall.node", "firewall");
  const modeN = ck.opt(m, "mode");
  const mode: FirewallMode = modeN ? ck.oneOf(modeN, FIREWALL_MODES, "mode") : "stateful";
  const proxyN = ck.opt(m, "proxy");
  const proxy: ProxyImpl = proxyN ? ck.oneOf(proxyN, PROXIES, "proxy") : "builtin";
  const inspect = flowMatches(ck.opt(m, "inspect"), ck, "inspect");
  for (const { m: fm, protoN } of inspect) {
    if (fm.proto !== "tcp") {
      ck.at(protoN, `inspect entries must be tcp: the full proxy is a TCP proxy and cannot inspect ${fm.proto} — remove this entry (a stateful firewall forwards ${fm.proto} anyway)`);
    }
  }
  const bypass = flowMatches(ck.opt(m, "bypass"), ck, "bypass");
  if (mode === "full-proxy" && inspect.length === 0) {
    ck.at(modeN ?? m, "mode full-proxy with an empty inspect list proxies nothing — add inspect: [{ proto: tcp, port: N }] or use mode: stateful");
  }
  const idleN = ck.opt(m, "idle-timeout");
  const idleTimeoutMs = idleN ? ck.duration(idleN, "idle-timeout", "positive") : 30_000;
  return { node, mode, proxy, inspect: inspect.map((x) => x.m), bypass: bypass.map((x) => x.m), idleTimeoutMs };
}

/** The tcp-stream flow's highest offered rate (kbit/s): a probe, not a load generator. */
const MAX_STREAM_KBIT = 100_000;

function checkProbe(root: PMap, ck: Checker, byName: Map<string, NodeSpec>, vpn: VpnSpec): ProbeSpec {
  const m = ck.map(ck.req(root, "probe", "probe: { from: client, to: server, rate: 50/s }"), "probe", PROBE_KEYS);
  const fromN = ck.req(m, "from", `from: ${vpn.client}`);
  const from = nodeRef(fromN, ck, byName, "probe.from");
  if (from !== vpn.client) {
    ck.at(fromN, `probe.from must be the VPN client (vpn.client is ${vpn.client}) — probes travel through the tunnel from the client; write from: ${vpn.client}`);
  }
  const toN = ck.req(m, "to", "to: server");
  const to = nodeRef(toN, ck, byName, "probe.to");
  if (to === from) ck.at(toN, `probe.to is the probing node itself — name the responder behind the headend (e.g. a host on the protected net)`);
  let flows: Flow[] = ["udp-echo"];
  const flowsN = ck.opt(m, "flows");
  if (flowsN) {
    const s = ck.seq(flowsN, "flows");
    if (s.items.length === 0) ck.at(s, `flows is empty — list at least one flow (supported: ${FLOWS.join(", ")}), or leave flows out for [udp-echo]`);
    flows = s.items.map((f) => {
      const v = ck.str(f, "flow");
      if (!(FLOWS as readonly string[]).includes(v)) {
        ck.at(f, `flow \`${v}\` is not supported — supported flows: ${FLOWS.join(", ")}; remove it`);
      }
      return v as Flow;
    });
    flows = [...new Set(flows)];
  }
  const rateN = ck.req(m, "rate", "rate: 50/s");
  const ratePerSec = ck.parsed(rateN, parseRate(raw(rateN)));
  if (!(ratePerSec >= 1 && ratePerSec <= 1000)) {
    ck.at(rateN, `rate ${ratePerSec}/s is out of range — use 1 to 1000 probes per second, e.g. 50/s`);
  }
  const portN = ck.opt(m, "port");
  const port = portN ? ck.int(portN, 1, 65535, "probe.port") : 7;
  const tN = ck.opt(m, "timeout");
  const timeoutMs = tN ? ck.duration(tN, "probe.timeout", "positive") : 1000;
  const srN = ck.opt(m, "stream-rate");
  const streamKbit = srN ? ck.parsed(srN, parseBandwidth(raw(srN))) : undefined;
  if (srN && !flows.includes("tcp-stream")) ck.at(srN, "the tcp-stream flow's offered rate needs tcp-stream in flows — add it, or remove stream-rate");
  if (streamKbit !== undefined && streamKbit > MAX_STREAM_KBIT) ck.at(srN!, `${streamKbit} kbit/s is more than a lab probe offers — use at most 100mbit`);
  return { from, to, flows, ratePerSec, port, timeoutMs, ...(streamKbit !== undefined ? { streamKbit } : {}) };
}

function checkPhases(root: PMap, ck: Checker): Phases {
  const n = ck.opt(root, "phases");
  const p: Phases = { baselineMs: 2000, chaosMs: 4000, recoveryMs: 4000 };
  if (n === undefined) return p;
  const m = ck.map(n, "phases", PHASE_KEYS);
  const b = ck.opt(m, "baseline");
  const c = ck.opt(m, "chaos");
  const r = ck.opt(m, "recovery");
  if (b) p.baselineMs = ck.duration(b, "phases.baseline", "zero");
  if (b && p.baselineMs <= 0) ck.at(b, "the baseline phase must be longer than 0: it proves the tunnel works before any fault — use e.g. 2s");
  if (c) p.chaosMs = ck.duration(c, "phases.chaos", "zero");
  if (r) p.recoveryMs = ck.duration(r, "phases.recovery", "zero");
  if (r && p.recoveryMs <= 0) ck.at(r, "the recovery phase must be longer than 0: the verdict is measured in it — use e.g. 4s");
  return p;
}

/**
 * A NODE.NET (or, unless `needNet`, NODE) reference: the node must exist and be on the net.
 * Chaos steps' `on` and `capture` entries.
 */
function checkTarget(n: PNode, key: string, ck: Checker, byName: Map<string, NodeSpec>, netNames: Set<string>, needNet: boolean): FaultTarget {
  const on = ck.str(n, key);
  const parts = on.split(".");
  if (parts.length > 2 || parts.some((p) => p === "") || (needNet && parts.length !== 2)) {
    ck.at(n, needNet ? `${key} \`${on}\` is not NODE.NET — write e.g. wan.edge (wan's interface on net edge)` : `${key} \`${on}\` is not NODE or NODE.NET — write e.g. wan (every interface of wan) or wan.edge (wan's interface on net edge)`);
  }
  const [nodeName, netName] = parts;
  const node = byName.get(nodeName);
  if (!node) ck.at(n, `unknown node \`${nodeName}\` in ${key} — ${didYouMean(nodeName, byName.keys())}the nodes are: ${list(byName.keys())}`);
  if (netName === undefined) return { node: nodeName };
  const mine = node.links.map((l) => l.net);
  if (!netNames.has(netName)) {
    ck.at(n, `net \`${netName}\` is not declared by any link (nets exist through links) — ${didYouMean(netName, mine)}node ${nodeName}'s nets are: ${list(mine)}`);
  }
  if (!mine.includes(netName)) {
    ck.at(n, `node ${nodeName} is not on net ${netName} — its nets are: ${list(mine)}; write ${nodeName}.${mine[0]} or ${needNet ? "capture on" : "put the fault on"} a member of ${netName}`);
  }
  return { node: nodeName, net: netName };
}

/** `capture: [wan.edge, ...]`: interfaces to write a pcap of, each NODE.NET once. */
function checkCapture(root: PMap, ck: Checker, nodes: NodeSrc[], nets: NetSrc[]): CaptureTarget[] {
  const n = ck.opt(root, "capture");
  if (n === undefined || (n.kind === "scalar" && n.value === null)) return [];
  const byName = new Map(nodes.map((x) => [x.spec.name, x.spec]));
  const netNames = new Set(nets.map((x) => x.spec.name));
  const seen = new Set<string>();
  return ck.seq(n, "capture").items.map((item): CaptureTarget => {
    const t = checkTarget(item, "capture", ck, byName, netNames, true);
    const name = `${t.node}.${t.net}`;
    if (seen.has(name)) ck.at(item, `${name} is captured twice — list each NODE.NET once`);
    seen.add(name);
    return { node: t.node, net: t.net ?? "" }; // needNet: always set
  });
}

function checkChaos(root: PMap, ck: Checker, nodes: NodeSrc[], nets: NetSrc[], phases: Phases): ChaosStep[] {
  const n = ck.opt(root, "chaos");
  if (n === undefined) return [];
  const byName = new Map(nodes.map((x) => [x.spec.name, x.spec]));
  const netNames = new Set(nets.map((x) => x.spec.name));
  const start = phases.baselineMs;
  const end = phases.baselineMs + phases.chaosMs;
  // a step at 0 is in place before the probe's first packet; every other one belongs to the chaos phase
  const inTime = (t: number) => t === 0 || (t >= start && t <= end);
  let total = 0;
  const written: PMap[] = [];
  const origin = new Map<ChaosStep, number>();
  const steps = ck.seq(n, "chaos").items.flatMap((item): ChaosStep[] => {
    const m = ck.map(item, "a chaos step", STEP_KEYS);
    const atN = ck.req(m, "at", `at: ${msText(start)}`);
    const atMs = ck.duration(atN, "at", "zero");
    if (atMs > 0 && atMs < start) {
      ck.at(atN, `at ${msText(atMs)} is before the chaos phase, which starts when the baseline ends at ${msText(start)} — faults belong to the chaos phase: use at ≥ ${msText(start)} (or shorten phases.baseline), or at: 0s for a fault in place before the probe starts`);
    }
    if (atMs > end) {
      ck.at(atN, `at ${msText(atMs)} is after the chaos phase, which ends at ${msText(end)} (baseline + chaos) — use at ≤ ${msText(end)} or lengthen phases.chaos (the recovery phase clears all faults by itself)`);
    }
    const onN = ck.req(m, "on", "on: wan.edge");
    const target = checkTarget(onN, "on", ck, byName, netNames, false);
    const plan = planOf(ck, m, byName);
    const sk = scheduleKey(m);
    total += expandedCount(plan);
    if (total > MAX_EXPANDED) ck.atKey(m.entries.get(sk ?? "at")!, `the chaos timeline expands to more than ${MAX_EXPANDED} steps — use fewer cycles, windows or values`);
    const expanded = expandStep(atMs, target, m.pos.line, plan);
    // a schedule is never cut short silently: a step of it outside the chaos phase is an error at the schedule
    const late = expanded.find((s) => !inTime(s.atMs));
    if (late && sk) {
      const lastAt = expanded[expanded.length - 1].atMs;
      const where =
        late.atMs > end
          ? `after the chaos phase ends at ${msText(end)} (baseline + chaos) — start it earlier, use fewer cycles, windows or values, or lengthen phases.chaos`
          : `inside the baseline (the chaos phase starts at ${msText(start)}) — start it at ${msText(start)} or later (only single steps may be at 0s)`;
      ck.atKey(m.entries.get(sk)!, `${sk} expands to steps from ${msText(atMs)} to ${msText(lastAt)}; its step "${late.schedule}" at ${msText(late.atMs)} falls ${where}; a schedule is never cut short`);
    }
    for (const s of expanded) origin.set(s, written.length);
    written.push(m);
    return expanded;
  });
  // Stable: steps at the same instant keep their written (and expanded) order.
  const timeline = steps.map((s, i) => ({ s, i })).sort((a, b) => a.s.atMs - b.s.atMs || a.i - b.i).map((x) => x.s);
  const netsOf = (node: string) => byName.get(node)?.links.map((l) => l.net) ?? [];
  const [o] = scheduleOverlaps(timeline, timeline.map((s) => origin.get(s)!), netsOf);
  if (o) {
    const m = written[o.laterOrigin];
    const sk = scheduleKey(m);
    const window = (s: ChaosStep) => {
      const ts = timeline.filter((t) => origin.get(t) === origin.get(s)).map((t) => t.atMs);
      return `from ${msText(Math.min(...ts))} to ${msText(Math.max(...ts))}`;
    };
    const what = (s: ChaosStep) =>
      s.schedule ? `the ${s.schedule.replace(/ \d+\/\d+:.*$|:.*$/, "")} of line ${s.line} (its window runs ${window(s)})` : `the step of line ${s.line} (${stepAction(s)}), in place there since ${msText(s.atMs)}`;
    const how = o.later.schedule
      ? `its windows would replace that fault and its clears remove it for the rest of chaos`
      : `the schedule's next step would replace it, or its clear remove it`;
    ck.atKey(
      m.entries.get(sk ?? "at")!,
      `${o.later.schedule ? `"${o.later.schedule}"` : stepAction(o.later)} at ${msText(o.later.atMs)} on ${o.place} overlaps ${what(o.inPlace)}: one place holds one fault, so ${how}, silently — clear it first (a \`clear: true\` step before), put one on another target or direction, or write the combined impairment as the schedule's`,
    );
  }
  return timeline;
}
