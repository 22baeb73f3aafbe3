// Bring the firewall node up: the proxy first (full-proxy mode), then the
// nftables policy, so no redirected connection finds nothing listening. The
// handle collects the evidence a verdict carries and stops it all.
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { stopProcess } from "../exec";
import type { Runtime } from "../runtime/runtime";
import type { FirewallSpec } from "../topology/model";
import { CONNTRACK_ARGV, parseConntrack, type ConntrackEntry } from "./conntrack";
import { holdsOutOfOrder, parseSs, SS_ARGV, type SsSocket } from "./evidence";
import {
  haproxyArgv,
  haproxyCommand,
  haproxyConfig,
  parseHaproxySess,
  parseHaproxyStat,
  type HaproxySession,
  type HaproxyStatRow,
} from "./haproxy";
import { queryProxyStats, type ProxyStats } from "./proxy";
import { FIREWALL_TABLE, firewallRuleset } from "./ruleset";

/** Where redirected connections land inside the firewall node. */
export const PROXY_PORT = 15001;
export const PROXY_MAIN = path.join(__dirname, "proxy-main.js");
const START_TIMEOUT_MS = 10000;

export interface FirewallEvidence {
  node: string;
  mode: FirewallSpec["mode"];
  proxy?: FirewallSpec["proxy"];
  ruleset: string;
  haproxyConfig?: string; // the generated haproxy.cfg (proxy: haproxy)
  builtin?: ProxyStats;
  haproxy?: { stat: HaproxyStatRow[]; sessions: HaproxySession[] };
  /** Connections the proxy accepted since it started (the builtin proxy's count, HAProxy's frontend stot); absent without a proxy. */
  proxyAccepted?: number;
  /** The firewall's conntrack table (a bypassed flow must have no entry). */
  conntrack: ConntrackEntry[];
  /** Every TCP socket in the firewall's namespace (ss, see evidence.ts). */
  sockets: SsSocket[];
  /** Sockets holding bytes behind a gap: the full-proxy stall, measured. */
  outOfOrder: { local: string; peer: string; rcvOooPackets: number; rmemAlloc: number; bytesReceived: number }[];
  errors: string[]; // evidence that could not be collected, and why
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
export type FirewallRuntime = Pick<Runtime, "exec" | "spawn">;

export async function startFirewall(runtime: FirewallRuntime, spec: FirewallSpec, labDir: string): Promise<FirewallHandle> {
  const ruleset = firewallRuleset(spec, { proxyPort: PROXY_PORT });
  let proxy: ChildProcess | undefined;
  let statsSocket: string | undefined;
  let haproxyCfgText: string | undefined;
  if (spec.mode === "full-proxy") {
    if (spec.proxy === "haproxy") {
      statsSocket = path.join(labDir, "fw-haproxy.sock");
      const cfg = path.join(labDir, "fw-haproxy.cfg");
      haproxyCfgText = haproxyConfig(spec, {
        listenPort: PROXY_PORT,
        statsSocket,
        pidFile: path.join(labDir, "fw-haproxy.pid"),
        idleTimeoutMs: spec.idleTimeoutMs,
      });
      fs.writeFileSync(cfg, haproxyCfgText, { mode: 0o600 });
      const log = path.join(labDir, "fw-haproxy.log");
      proxy = runtime.spawn(spec.node, haproxyArgv(cfg), { logFile: log });
      await waitHaproxy(proxy, statsSocket, log);
    } else {
      statsSocket = path.join(labDir, "fw-proxy.sock");
      const log = path.join(labDir, "fw-proxy.log");
      proxy = runtime.spawn(
        spec.node,
        [process.execPath, PROXY_MAIN, "--port", String(PROXY_PORT), "--idle-ms", String(spec.idleTimeoutMs), "--stats", statsSocket],
        { logFile: log },
      );
      await waitListening(proxy, log);
    }
  }
  try {
    await runtime.exec(spec.node, ["nft", "-f", "-"], { input: ruleset });
  } catch (e) {
    if (proxy) await stopProcess(proxy);
    throw new Error(`firewall ${spec.node}: applying the ${spec.mode} ruleset failed: ${(e as Error).message}`);
  }

  let stopped = false;
  const proxyName = `${spec.proxy === "haproxy" ? "HAProxy" : "the builtin proxy"} on ${spec.node} (pid ${proxy?.pid ?? "?"})`;
  return {
    spec,
    ruleset,
    proxyPort: spec.mode === "full-proxy" ? PROXY_PORT : undefined,
    async evidence(): Promise<FirewallEvidence> {
      const ev: FirewallEvidence = { node: spec.node, mode: spec.mode, ruleset, sockets: [], outOfOrder: [], conntrack: [], errors: [] };
      if (spec.mode === "full-proxy") ev.proxy = spec.proxy;
      if (haproxyCfgText) ev.haproxyConfig = haproxyCfgText;
      if (statsSocket && spec.proxy === "builtin") {
        try {
          ev.builtin = await queryProxyStats(statsSocket);
          ev.proxyAccepted = ev.builtin.accepted;
        } catch (e) {
          ev.errors.push(`builtin proxy stats: ${(e as Error).message}`);
        }
      }
      if (statsSocket && spec.proxy === "haproxy") {
        try {
          ev.haproxy = {
            stat: parseHaproxyStat(await haproxyCommand(statsSocket, "show stat")),
            sessions: parseHaproxySess(await haproxyCommand(statsSocket, "show sess")),
          };
          ev.proxyAccepted = ev.haproxy.stat.filter((r) => r.type === "frontend").reduce((n, r) => n + r.stot, 0);
        } catch (e) {
          ev.errors.push(`haproxy stats: ${(e as Error).message}`);
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

function logTail(file: string): string {
  try {
    return fs.readFileSync(file, "utf8").trim().split("\n").slice(-8).join("\n  ");
  } catch {
    return "(no log)";
  }
}

function waitListening(child: ChildProcess, log: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      fail(`exited (${signal ?? `code ${code}`}) ${buf.trim()}`);
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.off("exit", onExit);
      void stopProcess(child);
      reject(new Error(`builtin proxy did not start: ${why} (log ${log})\n  ${logTail(log)}`));
    };
    const timer = setTimeout(() => fail(`no "listening" within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    child.once("exit", onExit);
    child.stdout?.on("data", (b: Buffer) => {
      buf += b.toString();
      for (const line of buf.split("\n")) {
        if (line.includes('"event":"listening"')) {
          clearTimeout(timer);
          child.off("exit", onExit);
          resolve();
          return;
        }
      }
    });
  });
}

async function waitHaproxy(child: ChildProcess, statsSocket: string, log: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = "";
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`haproxy exited (${child.signalCode ?? `code ${child.exitCode}`}) (log ${log})\n  ${logTail(log)}`);
    }
    try {
      // The frontend is bound before the stats socket answers: haproxy binds all listeners at start-up.
      if ((await haproxyCommand(statsSocket, "show info", 1000)).includes("Pid:")) return;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stopProcess(child);
  throw new Error(`haproxy did not answer on ${statsSocket} within ${START_TIMEOUT_MS} ms: ${last} (log ${log})\n  ${logTail(log)}`);
}
