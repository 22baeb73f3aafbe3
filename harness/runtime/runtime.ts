// The one interface every backend implements. Firewall, impairment, VPN and
// probe code reach nodes only through it, never through a backend directly.
import type { ChildProcess } from "node:child_process";
import type { ExecOptions, ExecResult } from "../exec";
import type { NetSpec, NodeSpec } from "../topology/model";

/** Run a program inside one node: what firewall and impairment code need. */
export interface NodeExec {
  /** Run argv inside the node's network namespace (throws on non-zero unless allowFailure). */
  exec(node: string, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
}

export interface SpawnOptions {
  /** Files for stdout/stderr; default pipes. */
  logFile?: string;
  env?: Record<string, string>;
}

export interface Runtime extends NodeExec {
  readonly kind: "netns" | "docker";
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
  /** The name `ip netns` knows the node by (so iproute2/tc/nft code serves every backend). */
  netnsName(node: string): string;
  /** What of the lab has vanished under it (a node's namespace or container, a net's bridge), in words; empty when whole. */
  vanished(): Promise<string[]>;
  /** Remove everything this lab created. Idempotent; never throws for already-gone objects. */
  destroy(): Promise<void>;
}
