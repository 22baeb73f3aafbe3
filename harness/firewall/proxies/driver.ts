// One interface for the firewall's full TCP proxies: each is one file here and
// one line in index.ts. The firewall node starts whichever the topology names
// and reads its evidence through this, with no if/else on the proxy's name.
import type { ChildProcess } from "node:child_process";
import type { Runtime } from "../../runtime/runtime";
import type { FirewallSpec } from "../../topology/model";
import type { HaproxySession, HaproxyStatRow } from "../haproxy";
import type { ProxyStats } from "../proxy";

export interface ProxyStartContext {
  runtime: Pick<Runtime, "exec" | "spawn">;
  spec: FirewallSpec;
  /** The lab's run directory: config, sockets, pid and log files go here. */
  dir: string;
  /** Where redirected connections land inside the firewall node. */
  port: number;
}

/** What a proxy says about itself, for the evidence. */
export interface ProxyOwnStats {
  accepted?: number; // connections accepted since it started
  builtin?: ProxyStats;
  haproxy?: { stat: HaproxyStatRow[]; sessions: HaproxySession[] };
}

export interface RunningProxy {
  /** "the builtin proxy", "HAProxy": how errors and faults name it. */
  readonly label: string;
  readonly process: ChildProcess;
  /** The generated configuration, when the proxy has one (haproxy.cfg). */
  readonly config?: string;
  stats(): Promise<ProxyOwnStats>;
}

export interface ProxyDriver {
  readonly name: FirewallSpec["proxy"];
  /** Start the proxy in the firewall node; resolve once it accepts connections on ctx.port. */
  start(ctx: ProxyStartContext): Promise<RunningProxy>;
}
