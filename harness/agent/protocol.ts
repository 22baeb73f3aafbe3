// The JSON-lines protocol between the harness and the agent on each node.
// One JSON object per line, both ways. Requests carry an id and get exactly
// one reply with that id; events carry no id and arrive whenever they happen.
// The agent carries other modules' types (tunnel config: vpn/, probe records:
// probe/); it owns only the envelope.
import type { ProbeConfig, ProbeRecord, TcpStreamConfig } from "../probe/types";
import type { TunnelConfig } from "../vpn/tunnel-config";

export type { ProbeConfig, ProbeRecord, TcpSinkReport, TcpStreamConfig, TcpStreamRecord } from "../probe/types";
export type { SaJson, TunnelConfig } from "../vpn/tunnel-config";


export type Request =
  | { id: number; cmd: "tunnel"; config: TunnelConfig }
  | { id: number; cmd: "echo-server"; port: number }
  | { id: number; cmd: "probe-start"; config: ProbeConfig }
  | { id: number; cmd: "probe-stop"; graceMs: number }
  | { id: number; cmd: "tcp-sink"; port: number }
  /** untilBytes/waitMs: answer once that many bytes have arrived, or after waitMs (the sender's last bytes in flight). */
  | { id: number; cmd: "tcp-sink-report"; untilBytes?: number; waitMs?: number }
  | { id: number; cmd: "tcp-stream-start"; config: TcpStreamConfig }
  | { id: number; cmd: "tcp-stream-stop" }
  | { id: number; cmd: "stats" }
  /** How long the agent's event loop was held up since the last reset (reset: start a new window). */
  | { id: number; cmd: "loop-lag"; reset?: boolean }
  | { id: number; cmd: "shutdown" };

/** An agent's event-loop delay over a window: a starved harness process, not the network, when it is large. */
export interface LoopLag {
  maxMs: number;
  p99Ms: number;
  /** The longest stalls of the window with when each began (ms since the epoch), longest first (at most 5). */
  stalls?: { at: number; ms: number }[];
}

/** A perf_hooks event-loop-delay histogram (nanoseconds) as a LoopLag (whole milliseconds). */
export function loopLagOf(h: { max: number; percentile(p: number): number }): LoopLag {
  return { maxMs: Math.round(h.max / 1e6), p99Ms: Math.round(h.percentile(99) / 1e6) };
}

export type Reply = { id: number; ok: true; result?: unknown } | { id: number; ok: false; error: string };

export type AgentEvent =
  | { event: "ready"; pid: number }
  | { event: "tunnel-up"; at: number; inner: string; peer: string }
  | { event: "tunnel-down"; at: number; reason: string; lastRxAt: number; missed: number }
  | { event: "tunnel-error"; at: number; error: string }
  | { event: "log"; at: number; msg: string };

export function encodeLine(msg: unknown): string {
  return JSON.stringify(msg) + "\n";
}

/** Split a stream of chunks into JSON lines. Malformed lines are reported, not thrown. */
export class LineReader {
  private buf = "";
  constructor(
    private readonly onMessage: (msg: unknown) => void,
    private readonly onBad: (line: string) => void = () => undefined,
  ) {}
  push(chunk: Buffer | string): void {
    this.buf += chunk.toString();
    let nl: number;
    while ((nl = this.buf.indexOf("\n")) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        this.onBad(line);
        continue;
      }
      this.onMessage(msg);
    }
  }
}
