// The program every node runs (`ip netns exec NS node dist/harness/agent/main.js`).
// It speaks JSON lines on stdin/stdout and exits when its stdin closes, so it
// never outlives the harness that started it.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { TcpSink, TcpStreamSender } from "../probe/tcp-stream";
import { EchoResponder, ProbeSender } from "../probe/udp-echo";
import { Tunnel } from "../vpn/tunnel";
import { StallClock, stallsIn } from "../sentinel/stalls";
import { encodeLine, LineReader, loopLagOf, type AgentEvent, type Reply, type Request } from "./protocol";

let tunnel: Tunnel | undefined;
let echo: EchoResponder | undefined;
let probe: ProbeSender | undefined;
let sink: TcpSink | undefined;
let stream: TcpStreamSender | undefined;
// how late this process's timers and socket reads run, and when: this process carries the tunnel (or
// the probe), so its stall is evidence about the endpoint — the host is judged by the sentinel instead
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
const stallClock = new StallClock().start();
let lagFrom = Date.now();

function send(msg: Reply | AgentEvent): void {
  process.stdout.write(encodeLine(msg));
}

function log(msg: string): void {
  send({ event: "log", at: Date.now(), msg });
}

async function handle(req: Request): Promise<unknown> {
  switch (req.cmd) {
    case "tunnel":
      if (tunnel) throw new Error("a tunnel is already running on this node");
      tunnel = new Tunnel(req.config, send, log);
      await tunnel.start();
      return undefined;
    case "echo-server":
      echo = new EchoResponder();
      await echo.start(req.port);
      return undefined;
    case "probe-start":
      probe = new ProbeSender(req.config);
      await probe.start();
      return undefined;
    case "probe-stop": {
      if (!probe) throw new Error("no probe running");
      const record = await probe.stop(req.graceMs);
      probe = undefined;
      return record;
    }
    case "tcp-sink":
      sink = new TcpSink();
      await sink.start(req.port);
      return undefined;
    case "tcp-sink-report":
      if (!sink) throw new Error("no tcp sink running");
      return sink.reportWhen(req.untilBytes ?? 0, req.waitMs ?? 0);
    case "tcp-stream-start":
      stream = new TcpStreamSender(req.config);
      await stream.start();
      return undefined;
    case "tcp-stream-stop": {
      if (!stream) throw new Error("no tcp stream running");
      const r = stream.stop();
      stream = undefined;
      return r;
    }
    case "loop-lag": {
      stallClock.tick(); // a stall that ends with this request counts in its window
      const lag = { ...loopLagOf(loop), stalls: stallsIn(stallClock.stalls, lagFrom, Date.now()).slice(0, 5) };
      if (req.reset) {
        loop.reset();
        lagFrom = Date.now();
      }
      return lag;
    }
    case "stats":
      return { tunnel: tunnel?.stats(), echoed: echo?.echoed };
    case "shutdown":
      await shutdown(0);
      return undefined;
  }
}

let closing = false;
async function shutdown(code: number): Promise<void> {
  if (closing) return;
  closing = true;
  try {
    await tunnel?.close();
    echo?.close();
    stream?.stop();
    sink?.close();
  } finally {
    process.exit(code);
  }
}

const reader = new LineReader(
  (msg) => {
    const req = msg as Request;
    handle(req).then(
      (result) => send({ id: req.id, ok: true, result }),
      (e: Error) => send({ id: req.id, ok: false, error: e.message }),
    );
  },
  (line) => log(`unparseable request: ${line.slice(0, 200)}`),
);
process.stdin.on("data", (chunk) => reader.push(chunk));
process.stdin.on("end", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));
// a bug in the agent must reach the harness as words, not as a silent exit
process.on("unhandledRejection", (e) => log(`unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));
process.on("SIGINT", () => void shutdown(0));
send({ event: "ready", pid: process.pid });
