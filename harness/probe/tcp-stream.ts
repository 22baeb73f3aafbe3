// A real TCP connection through the tunnel: the client streams data at a
// steady rate to a sink behind the headend, which counts what arrives per
// 100 ms. The inner TCP retransmits what the tunnel loses, so over a tunnel
// that survives the flow keeps (or resumes) flowing; over a stalled one it
// stops. Phase accounting happens in the harness (tcpPhases).
import * as net from "node:net";
import type { TcpSinkReport, TcpStreamConfig, TcpStreamRecord } from "./types";

const CHUNK = 1024;
const BUCKET_MS = 100;

/** The receiving end: counts bytes per 100 ms bucket (keys: ms since the epoch, floored to the bucket). */
export class TcpSink {
  private readonly server = net.createServer((s) => this.accept(s));
  private readonly buckets = new Map<number, number>();
  private connections = 0;
  private bytes = 0;
  private open = 0;

  private accept(s: net.Socket): void {
    this.connections++;
    this.open++;
    s.on("data", (b: Buffer) => {
      const t = Math.floor(Date.now() / BUCKET_MS) * BUCKET_MS;
      this.buckets.set(t, (this.buckets.get(t) ?? 0) + b.length);
      this.bytes += b.length;
    });
    s.on("error", () => undefined);
    s.on("close", () => this.open--);
  }

  async start(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "0.0.0.0", () => resolve());
    });
  }

  report(): TcpSinkReport {
    return { connections: this.connections, open: this.open, bytes: this.bytes, buckets: [...this.buckets.entries()].sort((a, b) => a[0] - b[0]) };
  }

  close(): void {
    this.server.close();
  }
}

/** The sending end: writes CHUNK-byte blocks on a schedule, never more than the kernel takes (backpressure). */
export class TcpStreamSender {
  private sock?: net.Socket;
  private timer?: NodeJS.Timeout;
  private readonly record: TcpStreamRecord = { connectedAt: null, bytesWritten: 0, bytesQueued: 0, closed: false };

  constructor(private readonly cfg: TcpStreamConfig) {}

  /**
   * Start connecting and return at once: a stream that cannot connect is the verdict's to judge (a lab
   * error, after the datagram baseline has had its say), not a reason to hold the scenario's clock.
   */
  async start(): Promise<void> {
    const sock = net.connect({ host: this.cfg.to, port: this.cfg.port });
    this.sock = sock;
    sock.setNoDelay(true);
    sock.on("error", (e) => (this.record.error ??= e.message));
    sock.on("close", () => (this.record.closed = true));
    sock.once("connect", () => {
      this.record.connectedAt = Date.now();
      this.stream(sock);
    });
  }

  private stream(sock: net.Socket): void {
    const block = Buffer.alloc(CHUNK, 0x5a);
    const perTick = Math.max(1, Math.round((this.cfg.bytesPerSec * 20) / 1000 / CHUNK));
    const t0 = Date.now();
    this.timer = setInterval(() => {
      const due = Math.floor(((Date.now() - t0) * this.cfg.bytesPerSec) / 1000 / CHUNK);
      // a stalled connection: the kernel's buffer is full; what we could not hand over is not "written"
      for (let i = 0; i < perTick * 4 && this.record.bytesQueued / CHUNK < due && !sock.writableNeedDrain && !sock.destroyed; i++) {
        sock.write(block, (err) => {
          if (!err) this.record.bytesWritten += CHUNK;
        });
        this.record.bytesQueued += CHUNK;
      }
    }, 20);
  }

  stop(): TcpStreamRecord {
    clearInterval(this.timer);
    const r = { ...this.record, unsent: this.sock ? this.sock.writableLength : 0 };
    this.sock?.destroy();
    return r;
  }
}
