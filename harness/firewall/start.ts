// Bring the firewall node up: the proxy first (full-proxy mode), then the
// nftables policy, so no redirected connection finds nothing listening. The
// handle collects the evidence a verdict carries and stops it all.
import { stopProcess } from "../exec";
import type { Runtime } from "../runtime/runtime";
import type { FirewallSpec } from "../topology/model";
import { DEFAULT_ROUTE_ARGV, NFT_COUNTERS_ARGV, parseDefaultRouteDev, parseNftCounters, type DirectionCount } from "./counters";
import { CONNTRACK_ARGV, parseConntrack, type ConntrackEntry } from "./conntrack";
import { holdsOutOfOrder, parseSs, SS_ARGV, type SsSocket } from "./evidence";
import { PROXIES } from "./proxies";
import type { ProxyConnectionRow } from "./proxies/driver";
import { FIREWALL_TABLE, firewallRuleset } from "./ruleset";

/** Where redirected connections land inside the firewall node. */
export const PROXY_PORT = 15001;

export interface FirewallEvidence {
  node: string;
  mode: FirewallSpec["mode"];
  ruleset: string;
  /** The full proxy (full-proxy mode only), by its own account, whichever it is (harness/firewall/proxies/). */
  proxy?: FirewallProxyEvidence;
  /** The firewall's conntrack table (a bypassed flow must have no entry). */
  conntrack: ConntrackEntry[];
  /** Every TCP socket in the firewall's namespace (ss, see evidence.ts). */
  sockets: SsSocket[];
  /** Sockets holding bytes behind a gap: the full-proxy stall, measured. */
  outOfOrder: { local: string; peer: string; rcvOooPackets: number; rmemAlloc: number; bytesReceived: number }[];
  /** Packets and bytes per direction (named nftables counters, see directionCounters); empty without an outside interface. */
  directions?: DirectionCount[];
  errors: string[]; // evidence that could not be collected, and why
}

export interface FirewallProxyEvidence {
  name: FirewallSpec["proxy"];
  label: string; // "the builtin proxy", "HAProxy"
  config?: { name: string; text: string }; // its generated configuration, when it has one
  accepted?: number; // connections accepted since it started, by its own count; absent when it could not say
  connections: ProxyConnectionRow[];
  raw?: unknown; // the proxy's own detail
}

export interface FirewallHandle {
  readonly spec: FirewallSpec;
  readonly ruleset: string;
  /** Set in full-proxy mode. */
  readonly proxyPort?: number;
  evidence(): Promise<FirewallEvidence>;
  /** Called once if the proxy process dies before stop(): a harness fault, never a verdict. */
  onDeath(l: (piece: string, why: string) => void): void;
  /** Stop the proxy (by PID) and remove the policy. Idempotent. */
  stop(): Promise<void>;
}

/** What starting the firewall needs from a runtime (any Runtime will do). */
export type FirewallRuntime = Pick<Runtime, "exec" | "spawn" | "harnessArgv">;

export async function startFirewall(runtime: FirewallRuntime, spec: FirewallSpec, labDir: string): Promise<FirewallHandle> {
  // The default route's device faces the client: the per-direction counters
  // key on it. Without one the ruleset simply has no counters.
  const outside = parseDefaultRouteDev((await runtime.exec(spec.node, DEFAULT_ROUTE_ARGV)).stdout);
  const ruleset = firewallRuleset(spec, { proxyPort: PROXY_PORT, outside });
  // the proxy first, so that no redirected connection finds nothing listening
  const running = spec.mode === "full-proxy" ? await PROXIES[spec.proxy].start({ runtime, spec, dir: labDir, port: PROXY_PORT }) : undefined;
  const proxy = running?.process;
  try {
    await runtime.exec(spec.node, ["nft", "-f", "-"], { input: ruleset });
  } catch (e) {
    if (proxy) await stopProcess(proxy);
    throw new Error(`firewall ${spec.node}: applying the ${spec.mode} ruleset failed: ${(e as Error).message}`);
  }

  let stopped = false;
  const proxyName = `${running?.label ?? "the proxy"} on ${spec.node} (pid ${proxy?.pid ?? "?"})`;
  return {
    spec,
    ruleset,
    proxyPort: spec.mode === "full-proxy" ? PROXY_PORT : undefined,
    async evidence(): Promise<FirewallEvidence> {
      const ev: FirewallEvidence = { node: spec.node, mode: spec.mode, ruleset, sockets: [], outOfOrder: [], conntrack: [], directions: [], errors: [] };
      if (running) {
        const p: FirewallProxyEvidence = { name: spec.proxy, label: running.label, connections: [] };
        if (running.config) p.config = running.config;
        ev.proxy = p;
        try {
          const own = await running.stats();
          if (own.accepted !== undefined) p.accepted = own.accepted;
          if (own.connections) p.connections = own.connections;
          if (own.raw !== undefined) p.raw = own.raw;
        } catch (e) {
          ev.errors.push(`${running.label} stats: ${(e as Error).message}`);
        }
      }
      try {
        ev.sockets = parseSs((await runtime.exec(spec.node, SS_ARGV)).stdout);
        // With a proxy, only its own sockets count: an orphaned socket of an
        // earlier, killed proxy can hold out-of-order bytes too.
        const pid = proxy?.pid;
        const mine = (s: SsSocket): boolean => pid === undefined || s.processes.some((p) => p.pid === pid);
        ev.outOfOrder = ev.sockets.filter((s) => mine(s) && holdsOutOfOrder(s)).map((s) => ({
          local: s.local,
          peer: s.peer,
          rcvOooPackets: s.rcvOooPackets,
          rmemAlloc: s.rmemAlloc,
          bytesReceived: s.bytesReceived,
        }));
      } catch (e) {
        ev.errors.push(`ss: ${(e as Error).message}`);
      }
      try {
        ev.conntrack = parseConntrack((await runtime.exec(spec.node, CONNTRACK_ARGV)).stdout);
      } catch (e) {
        ev.errors.push(`conntrack: ${(e as Error).message}`);
      }
      if (outside !== undefined) {
        try {
          ev.directions = parseNftCounters((await runtime.exec(spec.node, NFT_COUNTERS_ARGV)).stdout);
        } catch (e) {
          ev.errors.push(`nft counters: ${(e as Error).message}`);
        }
      }
      return ev;
    },
    onDeath(l: (piece: string, why: string) => void): void {
      const p = proxy;
      if (!p) return;
      const fire = (): void => {
        if (!stopped) l(proxyName, `exited (${p.signalCode ?? `code ${p.exitCode}`})`);
      };
      if (p.exitCode !== null || p.signalCode !== null) fire();
      else p.once("exit", fire);
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      if (proxy) await stopProcess(proxy);
      await runtime.exec(spec.node, ["nft", "delete", "table", "inet", FIREWALL_TABLE], { allowFailure: true });
    },
  };
}
