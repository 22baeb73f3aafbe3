// The one interface every backend implements. Firewall, impairment, VPN and
// probe code reach nodes only through it, never through a backend directly.
// Backends register in harness/runtime/index.ts (one line each) and live in a
// folder of their own: harness/runtime/<kind>/.
import type { ChildProcess } from "node:child_process";
import type { HostConfig } from "../config";
import type { ExecOptions, ExecResult } from "../exec";
import type { NetSpec, NodeSpec, RuntimeKind } from "../topology/model";
import type { LabState } from "./state";

export type { RuntimeKind } from "../topology/model";

/** The harness's own programs that run on nodes (the process that starts them is the runtime's business). */
export type HarnessProgram = "agent" | "proxy" | "wire" | "node";

/** Run a program inside one node: what firewall and impairment code need. */
export interface NodeExec {
  /** Run argv inside the node's network namespace (throws on non-zero unless allowFailure). */
  exec(node: string, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
}

export interface SpawnOptions {
  /** Files for stdout/stderr; default pipes. */
  logFile?: string;
  env?: Record<string, string>;
  /**
   * Run the host's program in the node's network namespace only, with the host's files
   * (a capture writes its pcap under the host's reports/). Default: the node's own
   * programs and files, which differ from the host's on a container runtime.
   */
  fromHost?: boolean;
  /** Capabilities (setpriv names) the program needs beyond the node's own; a container runtime adds them to its bounding set. */
  capabilities?: readonly string[];
}

export interface Runtime extends NodeExec {
  readonly kind: RuntimeKind;
  /** Short per-lab id; every object the runtime creates carries it. */
  readonly labId: string;
  /** Create an isolated node (no interfaces but lo). */
  createNode(node: NodeSpec): Promise<void>;
  /** Create an L2 segment and plug each member node into it as interface `net.name`. */
  createNet(net: NetSpec): Promise<void>;
  /** Addresses, default gateway, static routes and forwarding per the node's role. */
  configureNode(node: NodeSpec): Promise<void>;
  /** Start a long-running program inside the node; the runtime records its PID for teardown and gc. */
  spawn(node: string, argv: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** The argv that starts one of the harness's programs on a node of this runtime (its Node binary, its copy of the harness). */
  harnessArgv(program: HarnessProgram, args?: readonly string[]): string[];
  /** The command a person types on the host to get a shell on the node (`vpnlab up` prints it). */
  enterArgv(node: string): string[];
  /** The name `ip netns` knows the node by (so iproute2/tc/nft code serves every backend). */
  netnsName(node: string): string;
  /** What of the lab has vanished under it (a node's namespace or container, a net's bridge), in words; empty when whole. */
  vanished(): Promise<string[]>;
  /** Remove everything this lab created. Idempotent; never throws for already-gone objects. */
  destroy(): Promise<void>;
}

/** Where a runtime's objects live; each runtime reads what it needs (docker: the engine). */
export interface RuntimeOptions {
  /** A Docker engine URL (unix:///path, tcp://host:port, ssh://user@host); default DOCKER_HOST, then the local socket. */
  engine?: string;
}

/** A place a runtime builds labs (docker: an engine; netns: this host), as a run spreads its labs over them. */
export interface Location {
  /** How results, progress lines and `vpnlab ls` name it (an engine URL); "" for this host itself. */
  name: string;
  /** What create(), listObjects() and removeLab() are given to reach it. */
  options: RuntimeOptions;
  /** Set when its objects are another host's (a tcp:// or ssh:// engine): why ls, down and gc leave it alone. */
  remote?: string;
}

/** One line of `vpnlab doctor`: a capability found or missing, and what to do. */
export interface HostCheck {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
  required: boolean;
}

/** What one runtime removed of a lab, and what it could not. */
export interface Removal {
  removed: string[];
  left: string[];
}

/** One runtime, as the lab, `vpnlab ls/down/gc` and the conformance suite see it. */
export interface RuntimeModule {
  readonly kind: RuntimeKind;
  /** Why no lab can be built on this host (the missing capability, and what to do), or undefined when one can. */
  unavailable(opts?: RuntimeOptions): Promise<string | undefined>;
  /** The runtime of one new lab; `state` is its record, which the runtime keeps current. */
  create(labId: string, state: LabState, opts?: RuntimeOptions): Runtime;
  /** Every lab object of this runtime on this host (engine), by lab id, in words (for ls and gc). */
  listObjects(opts?: RuntimeOptions): Promise<Map<string, string[]>>;
  /** Remove what is left of one lab: by its record (when there is one) and by name or label. Idempotent. */
  removeLab(labId: string, state: LabState | undefined, opts?: RuntimeOptions): Promise<Removal>;
  /**
   * Where this runtime's labs go, from the host config and the command line's --engine values (`cli`),
   * in order; never empty. Throws, saying so, when `cli` names locations this runtime has none of.
   */
  locations(config: HostConfig | undefined, cli?: readonly string[]): Location[];
  /** What `vpnlab doctor` checks for this runtime on this host, at each configured location. */
  doctorChecks(config: HostConfig | undefined): Promise<HostCheck[]>;
}
