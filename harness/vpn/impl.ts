// One interface for every VPN implementation (the way containerlab's node
// kinds and Toxiproxy's toxics plug in): the project's reference endpoints,
// ocserv + openconnect, strongSwan. Each lives in harness/vpn/impls/<name>/
// and is one line in harness/vpn/impls/index.ts. Lab, scenario, validation
// and the proxy evidence see only this.
import type { Runtime } from "../runtime/runtime";
import type { Impl, Scenario, Transport } from "../topology/model";

/** What an implementation declares, without loading it (pure: `vpnlab check` and the validator read it). */
export interface ImplSpec {
  readonly name: Impl;
  /** The transports it can carry. */
  readonly transports: readonly Transport[];
  /** vpn: options it honours beyond the common ones (client, headend, transport, impl, port, pool, dpd), e.g. "dtls". */
  readonly options: readonly string[];
  /** Programs it runs on the nodes (for `vpnlab doctor`), e.g. ["ocserv", "openconnect"]. */
  readonly programs: readonly string[];
  /** Other files it needs that no program check would catch (a daemon's plugin), for `vpnlab doctor`. */
  readonly files?: readonly RequiredFile[];
  /** One line for README and errors: what it is. */
  readonly summary: string;
}

export interface RequiredFile {
  name: string; // what doctor calls it: "kernel-libipsec"
  path: string; // absolute, e.g. /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so
  what: string; // "strongSwan's kernel-libipsec plugin"
  package: string; // the Debian package that installs it (dpkg -S)
}

export type Side = "client" | "headend";

/** Counters every implementation reports for each side, at any moment. */
export interface TunnelCounters {
  /** Inner packets that went into the tunnel / came out of it. */
  innerSent: number;
  innerReceived: number;
  /** Bytes the outer flow put on the wire (a stream transport: its stream bytes; the proxy evidence compares them). */
  wireBytesSent: number;
  wireBytesReceived: number;
  /** Dead-peer detection: probes sent, answers received (0 when the implementation cannot say). */
  dpdSent: number;
  dpdAcked: number;
  /** Whatever else the implementation knows (ESP drops, segments, keepalives, daemon state), for the evidence. */
  detail: Record<string, unknown>;
}

export interface TunnelDown {
  side: Side;
  at: number; // ms since the epoch
  reason: string; // e.g. "dead peer: 3 R-U-THERE unanswered, 1000 ms apart", "ocserv: client disconnected (DPD)"
}

/** A tunnel that is up. */
export interface TunnelHandle {
  /** The client's inner address. */
  readonly inner: string;
  /** When it came up (ms since the epoch). */
  readonly upAt: number;
  /** Every down event so far (DPD or the daemon's own verdict), first first. */
  downs(): TunnelDown[];
  onDown(l: (d: TunnelDown) => void): void;
  counters(side: Side): Promise<TunnelCounters>;
  /** Log tails per piece ("client", "headend", "ocserv", "charon-client", ...), for evidence and errors. */
  logs(): Record<string, string>;
  /** A third-party daemon's own view of the tunnel now, per source ("occtl show users", "charon-client", ...): taken at each phase end. */
  state?(): Promise<Record<string, string>>;
  /** Stop both ends (idempotent). The lab's teardown also removes whatever is left. */
  stop(): Promise<void>;
}

/** What the lab hands an implementation to start a tunnel with. */
export interface ImplContext {
  readonly scenario: Scenario;
  readonly runtime: Runtime;
  /** The lab's run directory (configs, sockets, pid files, logs go here, never elsewhere on the host). */
  readonly dir: string;
  /** The agent on a node (started on first use); the reference implementation drives its tunnel through it. */
  agent(node: string): Promise<import("../agent/client").AgentClient>;
  /** A piece the implementation started died (a daemon): a harness fault, never a verdict. */
  reportFault(piece: string, why: string): void;
  log(msg: string): void;
}

export interface VpnImplementation extends ImplSpec {
  /** Start both ends and resolve once the tunnel is up (or reject saying why it did not come up). */
  start(ctx: ImplContext): Promise<TunnelHandle>;
}
