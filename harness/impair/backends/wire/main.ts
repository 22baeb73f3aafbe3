// The wire program: runs inside a node, reads every packet the kernel routes
// into TUN A, lets the engine decide (drop, duplicate, corrupt, reorder,
// delay, rate) and writes the survivors into TUN B, when they fall due.
// Configured, read and stopped through a unix socket (one JSON line per
// request and reply); it outlives the process that started it, and its TUN
// devices vanish with it.
//
//   wire --tun-a NAME --tun-b NAME --socket PATH
import * as fs from "node:fs";
import * as net from "node:net";
import { performance } from "node:perf_hooks";
import { closeFd, tunOpen, watch, writeFd } from "../../../native";
import { WireEngine, restoreTtl } from "./engine";
import type { WireReply, WireRequest } from "./plan";

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (!v) {
    process.stderr.write(`wire: --${name} is required\n`);
    process.exit(2);
  }
  return v;
}

const tunA = arg("tun-a");
const tunB = arg("tun-b");
const socketPath = arg("socket");

const log = (s: string): void => void process.stderr.write(`${new Date().toISOString()} wire ${tunA}: ${s}\n`);

const fdA = tunOpen(tunA);
const fdB = tunOpen(tunB);
// until the first `set`: pass everything through unchanged
let engine = new WireEngine({}, 0);
let timer: NodeJS.Timeout | undefined;
let writeErrors = 0;

function flush(): void {
  if (timer) clearTimeout(timer);
  timer = undefined;
  for (const p of engine.due(performance.now())) send(p);
  schedule();
}

function send(p: Buffer): void {
  restoreTtl(p);
  try {
    writeFd(fdB, p);
  } catch (e) {
    // B down or full: the packet is lost like on a wire; said once in a while
    if (writeErrors++ % 1000 === 0) log(`write to ${tunB}: ${(e as Error).message}`);
  }
}

/** Asked to stop: the packets already held are delivered when due (a clear ends the fault, not the packets in flight). */
let draining = false;
/** However long the queue (a slow rate), a stop ends the wire within this. */
const DRAIN_MAX_MS = 3000;

function schedule(): void {
  const next = engine.nextDue();
  if (next === undefined) {
    if (draining) stop();
    return;
  }
  if (timer) clearTimeout(timer);
  timer = setTimeout(flush, Math.max(0, next - performance.now()));
}

const watcher = watch(
  fdA,
  (packet) => {
    // only IPv4 is steered here; anything else the kernel sends into A goes through untouched
    if (packet.length < 20 || packet[0] >> 4 !== 4) return send(packet);
    const now = performance.now();
    engine.offer(packet, now);
    const head = engine.nextDue();
    if (head !== undefined && head <= now) flush();
    else schedule();
  },
  (e) => {
    log(`read from ${tunA}: ${e.message}`);
    // a read error or end of file ends the watch (TUN A deleted under us): a wire that reads nothing stops
    const err = e as Error & { syscall?: string; code?: string };
    if (err.syscall !== undefined || err.code === "EOF") stop();
  },
);

function handle(req: WireRequest): WireReply {
  switch (req.op) {
    case "set": {
      const next = new WireEngine(req.fault.impairment, req.seed >>> 0, req.fault.match);
      next.adopt(engine.pending());
      engine = next;
      log(`set seed ${req.seed}: ${JSON.stringify(req.fault)}`);
      schedule();
      return { ok: true, seed: req.seed };
    }
    case "stats":
      return { ok: true, stats: { ...engine.stats, dropList: [...engine.stats.dropList] } };
    case "stop":
      // the steering is already off (clearWire removes it first): hand on what is queued, then go
      draining = true;
      setTimeout(stop, DRAIN_MAX_MS).unref();
      setImmediate(schedule);
      return { ok: true, queued: engine.stats.queued };
    default:
      return { ok: false, error: `unknown op ${JSON.stringify((req as { op?: unknown }).op)}` };
  }
}

fs.rmSync(socketPath, { force: true });
const server = net.createServer((conn) => {
  let buf = "";
  conn.setEncoding("utf8");
  conn.on("error", () => undefined);
  conn.on("data", (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let reply: WireReply;
      try {
        reply = handle(JSON.parse(line) as WireRequest);
      } catch (e) {
        reply = { ok: false, error: (e as Error).message };
      }
      conn.write(JSON.stringify(reply) + "\n");
    }
  });
});
server.listen(socketPath, () => log(`ready: ${tunA} → ${tunB}, control ${socketPath}`));

function stop(): void {
  log(`stop: ${JSON.stringify({ ...engine.stats, dropList: engine.stats.dropList.length })}`);
  if (timer) clearTimeout(timer);
  watcher.close();
  closeFd(fdA);
  closeFd(fdB);
  server.close();
  fs.rmSync(socketPath, { force: true });
  process.exit(0);
}

// the terminal of whoever started it may go, or be interrupted: only a stop request or SIGTERM ends the wire
process.on("SIGHUP", () => undefined);
process.on("SIGINT", () => undefined);
process.on("SIGTERM", stop);
