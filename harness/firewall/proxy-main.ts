// The builtin full proxy as a process, started by the harness inside the
// firewall node's namespace:
//
//   node dist/harness/firewall/proxy-main.js --port 15001 --idle-ms 30000 --stats /run/lab/fw-proxy.sock
//
// stdout: one JSON line {"event":"listening","port":N} when ready (or
// {"event":"error","message":...} before exiting 1). It exits cleanly on
// SIGTERM/SIGINT and when its stdin closes, so it never outlives the harness
// that spawned it (pass --keep-stdin to run it by hand with stdin closed).
import * as fs from "node:fs";
import type * as net from "node:net";
import { parseArgs } from "node:util";
import { TcpProxy, serveStats } from "./proxy";

const USAGE = "usage: proxy-main --port N --idle-ms N --stats /path/to.sock [--host 0.0.0.0] [--connect-timeout-ms 2000] [--keep-stdin]";

function say(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function intArg(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < min || n > max) {
    throw new Error(`--${name} ${value ?? "(missing)"}: expected an integer ${min}..${max}\n${USAGE}`);
  }
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      "idle-ms": { type: "string" },
      stats: { type: "string" },
      host: { type: "string", default: "0.0.0.0" },
      "connect-timeout-ms": { type: "string", default: "2000" },
      "keep-stdin": { type: "boolean", default: false },
    },
    strict: true,
  });
  const port = intArg("port", values.port, 0, 65535); // 0: any free port, reported in "listening"
  const idleTimeoutMs = intArg("idle-ms", values["idle-ms"], 1, 2 ** 31 - 1);
  const connectTimeoutMs = intArg("connect-timeout-ms", values["connect-timeout-ms"], 1, 2 ** 31 - 1);
  const statsPath = values.stats;
  if (!statsPath) throw new Error(`--stats is required\n${USAGE}`);

  const proxy = new TcpProxy({ port, host: values.host, idleTimeoutMs, connectTimeoutMs });
  const bound = await proxy.listen();
  let statsServer: net.Server | undefined;
  try {
    statsServer = await serveStats(statsPath, () => proxy.stats());
  } catch (e) {
    await proxy.close();
    throw e;
  }

  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    say({ event: "stopping", reason: why });
    const done = (): void => {
      try {
        fs.unlinkSync(statsPath);
      } catch {
        // already gone
      }
      process.exit(0);
    };
    // Connections are destroyed, not drained: a stopping lab wants them gone.
    void proxy.close().then(() => (statsServer ? statsServer.close(done) : done()));
    setTimeout(done, 2000).unref();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  if (!values["keep-stdin"]) {
    process.stdin.on("end", () => stop("stdin closed"));
    process.stdin.on("close", () => stop("stdin closed"));
    process.stdin.on("error", () => stop("stdin closed"));
    process.stdin.resume(); // read (and discard) so that EOF is noticed
  }
  say({ event: "listening", port: bound });
}

main().catch((e: Error) => {
  say({ event: "error", message: e.message });
  process.stderr.write(`proxy-main: ${e.message}\n`);
  process.exit(1);
});
