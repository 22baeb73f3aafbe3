// The validated, variant-expanded lab description. Everything downstream
// (runtime, firewall, impair, vpn, probe) works from these types only; the
// YAML loader is the single place that turns text into them.
import type { Direction, Fault } from "../impair/fault";

/** The runtimes a lab can be built on (harness/runtime/index.ts maps each to its module). */
export type RuntimeKind = "netns" | "docker";
export const RUNTIME_KINDS: readonly RuntimeKind[] = ["netns", "docker"];

export type Role = "vpn-client" | "vpn-headend" | "firewall" | "router" | "host";
export const ROLES: readonly Role[] = ["vpn-client", "vpn-headend", "firewall", "router", "host"];

/** An IPv4 address with its prefix, as written on a link: 203.0.113.10/24. */
export interface Cidr {
  addr: string; // dotted quad
  prefix: number; // 0..32
}

export interface Link {
  net: string;
  ip: Cidr;
  gw?: string; // default gateway through this link (dotted quad)
}

export interface Route {
  to: Cidr; // destination network
  via: string; // next hop (dotted quad)
}

export interface NodeSpec {
  name: string;
  role: Role;
  links: Link[];
  routes: Route[];
}

export type Transport = "ctcp" | "natt" | "esp" | "anyconnect";
export const TRANSPORTS: readonly Transport[] = ["ctcp", "natt", "esp", "anyconnect"];

export type Impl = "reference" | "ocserv" | "strongswan";
export const IMPLS: readonly Impl[] = ["reference", "ocserv", "strongswan"];

export interface DpdSpec {
  intervalMs: number;
  retries: number;
}

export interface VpnSpec {
  client: string; // node name, role vpn-client
  headend: string; // node name, role vpn-headend
  transport: Transport;
  impl: Impl;
  port: number;
  pool: Cidr; // inner address pool; headend takes .1, clients from .2
  dpd: DpdSpec | null; // null: DPD off at both ends (`dpd: off`)
  dtls: boolean; // anyconnect only
}

export type FirewallMode = "route" | "stateful" | "full-proxy";
export const FIREWALL_MODES: readonly FirewallMode[] = ["route", "stateful", "full-proxy"];
export type ProxyImpl = "builtin" | "haproxy";

/** One flow selector: a protocol and a destination port (either direction is matched where it matters). */
export interface FlowMatch {
  proto: "tcp" | "udp";
  port: number;
}

export interface FirewallSpec {
  node: string; // node name, role firewall
  mode: FirewallMode;
  proxy: ProxyImpl;
  inspect: FlowMatch[]; // full-proxy: flows redirected to the proxy
  bypass: FlowMatch[]; // TCP state bypass: not proxied, not tracked, forwarded
  idleTimeoutMs: number; // proxy idle timeout
}

export type Flow = "udp-echo" | "tcp-stream";
export const FLOWS: readonly Flow[] = ["udp-echo", "tcp-stream"];

export interface ProbeSpec {
  from: string; // node name
  to: string; // node name (the responder)
  flows: Flow[];
  ratePerSec: number;
  port: number; // UDP echo port on the responder
  timeoutMs: number; // a reply later than this counts as lost
  /** The tcp-stream flow's offered rate in kbit/s (`stream-rate: 2mbit`); absent: the default, 400 kbit/s. */
  streamKbit?: number;
}

/** Where a fault goes: one interface (node+net) or every interface of a node. */
export interface FaultTarget {
  node: string;
  net?: string;
}

/** A packet capture: one interface (node+net), written to a pcap file for the whole scenario. */
export interface CaptureTarget {
  node: string;
  net: string;
}

export interface ChaosStep {
  /** From the start of the baseline; 0: in place before the probe's first packet. */
  atMs: number;
  on: FaultTarget;
  /** What to do (absent for a clear). */
  fault?: Fault;
  clear?: boolean;
  /** A clear's direction (default egress). */
  direction?: Direction;
  /** The schedule this step was expanded from, e.g. "flap 2/3: down". */
  schedule?: string;
  /** The step wrote its own `seed:` (a scenario seed, the file's or --seed, does not replace it). */
  ownSeed?: boolean;
  line: number; // where the step (or its schedule) was written (for messages)
}

export interface Phases {
  baselineMs: number;
  chaosMs: number;
  recoveryMs: number;
}

export type Verdict = "survives" | "fails" | "degraded";
export const VERDICTS: readonly Verdict[] = ["survives", "fails", "degraded"];

export interface NetSpec {
  name: string;
  members: { node: string; ip: Cidr }[];
}

/** One runnable scenario: the base topology or one of its variants, fully merged. */
export interface Scenario {
  file: string; // topology file path
  name: string; // topology name
  variant: string; // "base" or the variant name
  nodes: NodeSpec[];
  nets: NetSpec[]; // derived from node links, in first-seen order
  vpn: VpnSpec;
  firewall?: FirewallSpec;
  probe: ProbeSpec;
  phases: Phases;
  chaos: ChaosStep[];
  capture?: CaptureTarget[]; // interfaces to capture (`capture:` in the file, plus `vpnlab run --capture`)
  expect: Verdict;
  runtime?: RuntimeKind; // `runtime:` in the file (`--runtime` on the command line wins); absent: the default
  /** The scenario seed (`seed:` in the file, `--seed` wins): each step's fault seed is mixSeed(seed, step index) unless the step gives its own. */
  seed?: number;
}

export interface Topology {
  file: string;
  name: string;
  base: Scenario;
  variants: Map<string, Scenario>;
}
