// One interface for the firewall's full TCP proxies: each is one file here and
// one line in index.ts. The firewall node starts whichever the topology names
// and reads its evidence through this, with no if/else on the proxy's name.
import type { ChildProcess } from "node:child_process";
import type { Runtime } from "../../runtime/runtime";
import type { FirewallSpec } from "../../topology/model";

export interface ProxyStartContext {
  runtime: Pick<Runtime, "exec" | "spawn" | "harnessArgv">;
  spec: FirewallSpec;
  /** The lab's run directory: config, sockets, pid and log files go here. */
  dir: string;
  /** Where redirected connections land inside the firewall node. */
  port: number;
}

/** Bytes on one side of a proxied connection; absent where the proxy does not tell. */
export interface ProxySide {
  bytesIn?: number; // read from that peer
  bytesOut?: number; // written to that peer (handed to the kernel)
}

/** One proxied connection, in the same shape whichever proxy reports it. */
export interface ProxyConnectionRow {
  client: string; // ip:port of the connecting peer
  server?: string; // where the proxy sent it (ip:port, or the proxy's name for it), when it says
  state: "connecting" | "open" | "half-closed" | "closed";
  clientSide: ProxySide;
  serverSide: ProxySide;
  buffered?: number; // read but not yet handed onward, either direction, in the proxy's own memory
}

/** What a proxy says about itself, for the evidence. */
export interface ProxyOwnStats {
  accepted?: number; // connections accepted since it started
  /** The connections it can still tell about (some keep closed ones, some list only live ones). */
  connections?: ProxyConnectionRow[];
  /** The proxy's own detail, as it gives it (for the report, not for assertions across proxies). */
  raw?: unknown;
}

export interface RunningProxy {
  /** "the builtin proxy", "HAProxy": how errors and faults name it. */
  readonly label: string;
  readonly process: ChildProcess;
  /** The generated configuration, when the proxy has one: its file name (for attachments) and text. */
  readonly config?: { name: string; text: string };
  stats(): Promise<ProxyOwnStats>;
}

export interface ProxyDriver {
  readonly name: FirewallSpec["proxy"];
  /** Start the proxy in the firewall node; resolve once it accepts connections on ctx.port. */
  start(ctx: ProxyStartContext): Promise<RunningProxy>;
}
