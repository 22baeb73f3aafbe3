// vpnlab's own full TCP proxy (harness/firewall/proxy.ts, run as proxy-main).
import * as path from "node:path";
import { stopProcess } from "../../exec";
import { forStdoutLine, waitUntil } from "../../wait";
import { queryProxyStats } from "../proxy";
import type { ProxyDriver } from "./driver";

const START_TIMEOUT_MS = 10000;

export const builtin: ProxyDriver = {
  name: "builtin",
  async start({ runtime, spec, dir, port }) {
    const statsSocket = path.join(dir, "fw-proxy.sock");
    const log = path.join(dir, "fw-proxy.log");
    const child = runtime.spawn(
      spec.node,
      runtime.harnessArgv("proxy", ["--port", String(port), "--idle-ms", String(spec.idleTimeoutMs), "--stats", statsSocket]),
      { logFile: log },
    );
    try {
      await waitUntil(forStdoutLine(child, /"event":"listening"/), { what: "the builtin proxy listening", timeoutMs: START_TIMEOUT_MS, process: child, log });
    } catch (e) {
      await stopProcess(child);
      throw e;
    }
    return {
      label: "the builtin proxy",
      process: child,
      async stats() {
        const raw = await queryProxyStats(statsSocket);
        const connections = raw.connections.map((c) => ({
          client: c.client,
          server: c.server,
          state: c.state,
          clientSide: { bytesIn: c.bytesIn, bytesOut: c.bytesBackOut },
          serverSide: { bytesIn: c.bytesBack, bytesOut: c.bytesOut },
          buffered: c.held,
        }));
        return { accepted: raw.accepted, connections, raw };
      },
    };
  },
};
