// HAProxy in TCP mode: a real proxy vpnlab did not write (config in ../haproxy.ts).
import * as fs from "node:fs";
import * as path from "node:path";
import { stopProcess } from "../../exec";
import { waitUntil } from "../../wait";
import { haproxyArgv, haproxyCommand, haproxyConfig, parseHaproxySess, parseHaproxyStat } from "../haproxy";
import type { HaproxySession, HaproxyStatRow } from "../haproxy";
import type { ProxyDriver } from "./driver";

/** HAProxy's own detail in the evidence (ProxyOwnStats.raw). */
export interface HaproxyRaw {
  stat: HaproxyStatRow[];
  sessions: HaproxySession[];
}

const START_TIMEOUT_MS = 10000;

export const haproxy: ProxyDriver = {
  name: "haproxy",
  async start({ runtime, spec, dir, port }) {
    const statsSocket = path.join(dir, "fw-haproxy.sock");
    const cfg = path.join(dir, "fw-haproxy.cfg");
    const config = haproxyConfig(spec, { listenPort: port, statsSocket, pidFile: path.join(dir, "fw-haproxy.pid"), idleTimeoutMs: spec.idleTimeoutMs });
    fs.writeFileSync(cfg, config, { mode: 0o600 });
    const log = path.join(dir, "fw-haproxy.log");
    const child = runtime.spawn(spec.node, haproxyArgv(cfg), { logFile: log });
    try {
      // the frontend is bound before the stats socket answers: haproxy binds all listeners at start-up
      await waitUntil(async () => ((await haproxyCommand(statsSocket, "show info", 1000)).includes("Pid:") ? true : undefined), {
        what: `haproxy answering on ${statsSocket}`,
        timeoutMs: START_TIMEOUT_MS,
        process: child,
        log,
      });
    } catch (e) {
      await stopProcess(child);
      throw e;
    }
    return {
      label: "HAProxy",
      process: child,
      config: { name: "haproxy.cfg", text: config },
      async stats() {
        const stat = parseHaproxyStat(await haproxyCommand(statsSocket, "show stat"));
        const sessions = parseHaproxySess(await haproxyCommand(statsSocket, "show sess"));
        const raw: HaproxyRaw = { stat, sessions };
        // `show sess` lists live streams only, without their byte counts (those are in raw.stat, per frontend/backend)
        const connections = sessions.map((s) => ({
          client: s.src,
          server: s.server,
          state: "open" as const,
          clientSide: {},
          serverSide: {},
          buffered: s.reqBuffered + s.resBuffered,
        }));
        return { accepted: stat.filter((r) => r.type === "frontend").reduce((n, r) => n + r.stot, 0), connections, raw };
      },
    };
  },
};
