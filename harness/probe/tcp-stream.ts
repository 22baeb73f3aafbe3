// A real TCP connection through the tunnel: the client streams data at a
// steady rate to a sink behind the headend, which counts what arrives per
// 100 ms. The inner TCP retransmits what the tunnel loses, so over a tunnel
// that survives the flow keeps (or resumes) flowing; over a stalled one it
// stops. Phase accounting happens in the harness (tcpPhases).
//
// Each CHUNK-byte block starts with the time the sender wrote it (8 bytes,
// ms since the epoch, float64 BE), so the sink can count bytes by when they
// were SENT as well as when they arrived: "of what the client offered during
// recovery, how much got through" does not depend on how promptly the sink's
// process got the CPU (on a busy 2-core host a 250 ms late read moved bytes
// out of the recovery window and turned a healthy tunnel "degraded").
import * as net from "node:net";
import type { TcpSinkReport, TcpStreamConfig, TcpStreamRecord } from "./types";

export const CHUNK = 1024;
const STAMP = 8;
const BUCKET_MS = 100;
const bucketOf = (ms: number) => Math.floor(ms / BUCKET_MS) * BUCKET_MS;

/** Splits one connection's byte stream back into blocks and hands each byte count to its block's send time. */
export class BlockClock {
  private pos = 0; // offset within the current block
  private readonly head = Buffer.alloc(STAMP);
  private sentAt: number | undefined;

  /** Feed received bytes; `count(sentAt, n)` is called for every run of bytes whose block's stamp is known. */
  feed(b: Buffer, count: (sentAt: number, n: number) => void): void {
    let i = 0;
    while (i < b.length) {
      if (this.pos < STAMP) {
        const n = Math.min(STAMP - this.pos, b.length - i);
        b.copy(this.head, this.pos, i, i + n);
        this.pos += n;
        i += n;
        if (this.pos === STAMP) {
          this.sentAt = this.head.readDoubleBE(0);
          count(this.sentAt, STAMP);
        }
        continue;
      }
      const n = Math.min(CHUNK - this.pos, b.length - i);
      count(this.sentAt!, n);
      this.pos += n;
      i += n;
      if (this.pos === CHUNK) this.pos = 0;
    }
  }
}

/** The receiving end: counts bytes per 100 ms bucket of arrival and of sending (keys: ms since the epoch, floored to the bucket). */
export class TcpSink {
  private readonly server = net.createServer((s) => this.accept(s));
  private readonly buckets = new Map<number, number>();
  private readonly sentBuckets = new Map<number, number>();
  private readonly waiters = new Set<() => void>();
  private connections = 0;
  private bytes = 0;
  private open = 0;

  private accept(s: net.Socket): void {
    this.connections++;
    this.open++;
    const clock = new BlockClock();
    s.on("data", (b: Buffer) => {
      const t = bucketOf(Date.now());
      this.buckets.set(t, (this.buckets.get(t) ?? 0) + b.length);
      clock.feed(b, (sentAt, n) => {
        const k = bucketOf(sentAt);
        this.sentBuckets.set(k, (this.sentBuckets.get(k) ?? 0) + n);
      });
      this.bytes += b.length;
      for (const w of this.waiters) w();
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
    const sorted = (m: Map<number, number>) => [...m.entries()].sort((a, b) => a[0] - b[0]);
    return { connections: this.connections, open: this.open, bytes: this.bytes, buckets: sorted(this.buckets), sentBuckets: sorted(this.sentBuckets) };
  }

  /**
   * The report once `bytes` have arrived or `waitMs` has passed, whichever is first: the bytes the
   * sender handed its kernel before it stopped are still on their way (or held by a stalled path).
   */
  async reportWhen(bytes: number, waitMs: number): Promise<TcpSinkReport> {
    if (this.bytes < bytes) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve();
        };
        const check = () => {
          if (this.bytes >= bytes) done();
        };
        const timer = setTimeout(done, waitMs);
        this.waiters.add(check);
      });
    }
    return this.report();
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
    const filler = Buffer.alloc(CHUNK - STAMP, 0x5a);
    const perTick = Math.max(1, Math.round((this.cfg.bytesPerSec * 20) / 1000 / CHUNK));
    const t0 = Date.now();
    this.timer = setInterval(() => {
      const due = Math.floor(((Date.now() - t0) * this.cfg.bytesPerSec) / 1000 / CHUNK);
      // a stalled connection: the kernel's buffer is full; what we could not hand over is not "written"
      for (let i = 0; i < perTick * 4 && this.record.bytesQueued / CHUNK < due && !sock.writableNeedDrain && !sock.destroyed; i++) {
        const stamp = Buffer.alloc(STAMP);
        stamp.writeDoubleBE(Date.now(), 0);
        sock.write(Buffer.concat([stamp, filler], CHUNK), (err) => {
          if (!err) this.record.bytesWritten += CHUNK;
        });
        this.record.bytesQueued += CHUNK;
      }
    }, 20);
  }

  /** Bytes the kernel has taken so far. */
  bytesHandedOver(): number {
    return this.record.bytesWritten;
  }

  stop(): TcpStreamRecord {
    clearInterval(this.timer);
    const r = { ...this.record, unsent: this.sock ? this.sock.writableLength : 0 };
    this.sock?.destroy();
    return r;
  }
}
