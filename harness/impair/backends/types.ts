// One impairment backend, as the Impairer sees it. Each backend is a module
// under backends/ with a line in backends/index.ts; the Impairer picks, in
// the registry's order, the first one that can serve the whole fault on this
// node and is available there — never a silently weaker substitute.
import type { NodeExec, Runtime } from "../../runtime/runtime";
import type { DropCount } from "../counters";
import type { Fault } from "../fault";
import type { ImpairmentUnsupported } from "../impairment";

export type ImpairBackend = "netem" | "nftables" | "wire";

/** What a backend may use to reach the node. */
export interface BackendContext {
  exec: NodeExec;
  /** The lab's runtime, when the Impairer serves a lab: a backend that runs a program of its own (the wire) starts it through it. */
  runtime?: Runtime;
  /** The lab's run directory (the wire's logs and state). */
  dir?: string;
}

export interface Availability {
  available: boolean;
  /** Why not, in the kernel's or the tool's own words where there are any. */
  reason?: string;
}

/** What a backend did, for the step's record (the exact argv, ruleset or wire configuration). */
export interface BackendApplied {
  argv?: string[];
  ruleset?: string;
  /** Anything else worth keeping as evidence (the wire's configuration line). */
  detail?: string;
  /** The seed the fault's random decisions started from when the backend drew one itself (an unseeded fault on the wire). */
  seed?: number;
}

export interface ClearOptions {
  /**
   * End the fault but keep what makes the next apply there cheap (the wire's program, TUNs and routes; no
   * steering, nothing held back): a scenario's step clears. A clear without it removes everything.
   */
  keep?: boolean;
}

export interface ImpairBackendImpl {
  readonly name: ImpairBackend;
  /** Every part of the fault this backend cannot serve (empty when it can). Pure; assumes a valid fault. */
  unsupported(fault: Fault): ImpairmentUnsupported[];
  /** Can it run on this node and device at all (a kernel feature, a device)? The Impairer caches conclusive answers. */
  available(ctx: BackendContext, node: string, dev: string): Promise<Availability>;
  /** Install the fault on (node, dev, fault.direction), replacing what this backend had there. */
  apply(ctx: BackendContext, node: string, dev: string, fault: Fault): Promise<BackendApplied>;
  /**
   * What it dropped there since its last apply, read before a replace or a clear (undefined when unreadable).
   * `next` is the backend about to serve the interface (undefined: a clear).
   */
  harvest(ctx: BackendContext, node: string, dev: string, fault: Fault, next: ImpairBackend | undefined): Promise<DropCount | undefined>;
  /** Remove what this backend installed on (node, dev, direction), and only that (with keep: the fault only). Idempotent. */
  clear(ctx: BackendContext, node: string, dev: string, direction: Fault["direction"], opts?: ClearOptions): Promise<void>;
  /**
   * Optional: make a later apply on (node, dev, direction) quick, without impairing anything yet (the wire
   * starts its program). What it starts goes with a clear without keep.
   */
  prepare?(ctx: BackendContext, node: string, dev: string, direction: Fault["direction"]): Promise<void>;
}
