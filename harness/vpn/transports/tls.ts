// AnyConnect-like: ESP packets framed in a TLS stream over the kernel's own
// TCP (node:tls). A real TCP stack retransmits what was lost and delivers in
// order, which is why this remedy survives a full proxy with loss where cTCP
// stalls. The client trusts no CA: it pins the headend's public key
// (SHA-256 of the SPKI, as openconnect's --servercert pin-sha256:) and
// reconnects whenever the connection drops; the headend sends on the newest
// connection the tunnel has authenticated a packet from.
import * as tls from "node:tls";
import { spkiSha256 } from "../certs";
import { encodeFrame, FrameDecoder } from "./tls-framing";
import type { Transport, TransportOptions, TransportStats } from "./transport";

export interface TlsTuning {
  /** First reconnect delay; doubles on each failure up to maxReconnectMs. */
  reconnectMs?: number;
  maxReconnectMs?: number;
  /** Attempts start() makes while the headend is not listening yet. */
  connectAttempts?: number;
  /** Bytes a connection may have queued unsent before send() drops (a tunnel must not buffer without bound). */
  maxQueuedBytes?: number;
}

/** The headend presented a key other than the pinned one. */
const HANDSHAKE_TIMEOUT_MS = 5000;

export class PinMismatchError extends Error {
  constructor(readonly expected: string, readonly got: string) {
    super(`headend key pin mismatch: expected pin-sha256:${expected}, got pin-sha256:${got}`);
    this.name = "PinMismatchError";
  }
}

interface Conn {
  sock: tls.TLSSocket;
  key: string; // "ip:port" of the far end
  n: number; // accept order: a higher n is a newer connection
}

export class TlsTransport implements Transport {
  readonly name = "anyconnect";
  private handler: (esp: Buffer, peer: string) => void = () => undefined;
  private server?: tls.Server;
  /** Client: the pinned connection to the headend. Headend: the confirmed peer's. */
  private current?: Conn;
  private readonly conns = new Map<string, Conn>(); // headend: every open connection
  private accepted = 0;
  private localPort = 0;
  private closing = false;
  private reconnectTimer?: NodeJS.Timeout;
  private failuresInRow = 0;
  private readonly counters = {
    txPackets: 0, rxPackets: 0, bytesSent: 0, bytesReceived: 0, reconnects: 0, badFrames: 0, pinFailures: 0,
    emptyFrames: 0, dropped: 0, connections: 0, connectFailures: 0, handshakeFailures: 0,
  };
  private readonly tuning: Required<TlsTuning>;

  constructor(
    private readonly opts: TransportOptions,
    tuning: TlsTuning = {},
  ) {
    this.tuning = { reconnectMs: 200, maxReconnectMs: 5000, connectAttempts: 10, maxQueuedBytes: 1 << 20, ...tuning };
    if (opts.side === "headend" && !opts.tls) throw new Error("anyconnect headend: no certificate and key (TransportOptions.tls)");
    if (opts.side === "client" && !opts.pinSha256) throw new Error("anyconnect client: no headend key pin (TransportOptions.pinSha256)");
  }

  async start(): Promise<void> {
    if (this.opts.side === "headend") return this.listen();
    let last: Error = new Error("no attempt");
    for (let i = 0; i < this.tuning.connectAttempts && !this.closing; i++) {
      try {
        this.attach(await this.connectOnce());
        return;
      } catch (e) {
        last = e as Error;
        // a wrong key will not become right by asking again
        if (e instanceof PinMismatchError) throw e;
        await new Promise((r) => setTimeout(r, this.tuning.reconnectMs));
      }
    }
    throw new Error(`anyconnect: could not connect to ${this.opts.headendIp}:${this.opts.port}: ${last.message}`);
  }

  private listen(): Promise<void> {
    const { certPem, keyPem } = this.opts.tls as { certPem: string; keyPem: string };
    const server = tls.createServer({ cert: certPem, key: keyPem, minVersion: "TLSv1.2" }, (sock) => {
      const conn: Conn = { sock, key: `${sock.remoteAddress}:${sock.remotePort}`, n: ++this.accepted };
      this.counters.connections++;
      this.conns.set(conn.key, conn);
      this.attach(conn.sock, conn);
    });
    server.on("tlsClientError", (e) => {
      // a client that refused our key (pin mismatch) aborts the handshake: counted here
      this.counters.handshakeFailures++;
      this.opts.log(`anyconnect headend: TLS handshake failed: ${e.message}`);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.port, "0.0.0.0", () => {
        server.off("error", reject);
        server.on("error", (e) => this.opts.log(`anyconnect headend: ${e.message}`));
        const addr = server.address();
        this.localPort = typeof addr === "object" && addr ? addr.port : this.opts.port;
        resolve();
      });
    });
  }

  /** One TLS connection to the headend whose key matches the pin; nothing is written or read before the check. */
  private connectOnce(): Promise<tls.TLSSocket> {
    const pin = this.opts.pinSha256 as string;
    return new Promise((resolve, reject) => {
      // Chain verification is off on purpose: the certificate is self-signed and no CA is trusted. Node calls
      // checkServerIdentity only after a chain verified, so the pin is checked here, on secureConnect.
      const sock = tls.connect({ host: this.opts.headendIp, port: this.opts.port, rejectUnauthorized: false, minVersion: "TLSv1.2" });
      const fail = (e: Error): void => {
        sock.destroy();
        reject(e);
      };
      sock.once("error", fail);
      sock.once("close", () => fail(new Error("connection closed during the TLS handshake")));
      // a proxy in the path accepts the TCP connection at once; if its own leg or our ServerHello is lost, only a
      // deadline ends the wait — and the reconnect loop tries again
      sock.setTimeout(HANDSHAKE_TIMEOUT_MS, () => fail(new Error(`no TLS handshake within ${HANDSHAKE_TIMEOUT_MS} ms`)));
      sock.once("secureConnect", () => {
        sock.setTimeout(0);
        const cert = sock.getPeerX509Certificate();
        const got = cert ? spkiSha256(cert) : "(no certificate)";
        if (got !== pin) {
          this.counters.pinFailures++;
          fail(new PinMismatchError(pin, got));
          return;
        }
        sock.removeAllListeners("error");
        sock.removeAllListeners("close");
        resolve(sock);
      });
    });
  }

  private attach(sock: tls.TLSSocket, headendConn?: Conn): void {
    sock.setNoDelay(true); // an ESP packet is a datagram: never hold it back for Nagle
    const conn = headendConn ?? { sock, key: `${this.opts.headendIp}:${this.opts.port}`, n: 0 };
    if (!headendConn) {
      this.current = conn;
      this.failuresInRow = 0;
    }
    const decoder = new FrameDecoder(this.opts.maxPacket);
    sock.on("data", (chunk: Buffer) => {
      this.counters.bytesReceived += chunk.length;
      const r = decoder.push(chunk);
      this.counters.emptyFrames += r.emptyFrames;
      for (const p of r.packets) {
        this.counters.rxPackets++;
        this.handler(p, conn.key);
      }
      if (r.oversized !== undefined) {
        this.counters.badFrames++;
        this.opts.log(`anyconnect: frame of ${r.oversized} bytes from ${conn.key} exceeds ${this.opts.maxPacket}: closing the connection`);
        sock.destroy();
      }
    });
    sock.on("error", (e) => this.opts.log(`anyconnect ${conn.key}: ${e.message}`));
    sock.on("close", () => {
      if (headendConn) this.conns.delete(conn.key);
      if (this.current === conn) this.current = undefined;
      if (!headendConn && !this.closing) this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    const delay = Math.min(this.tuning.reconnectMs * 2 ** this.failuresInRow, this.tuning.maxReconnectMs);
    this.reconnectTimer = setTimeout(() => {
      this.connectOnce().then(
        (sock) => {
          if (this.closing) {
            sock.destroy();
            return;
          }
          this.counters.reconnects++;
          this.attach(sock);
        },
        (e: Error) => {
          this.counters.connectFailures++;
          this.failuresInRow++;
          this.opts.log(`anyconnect: reconnect failed: ${e.message}`);
          if (!this.closing) this.scheduleReconnect();
        },
      );
    }, delay);
  }

  send(esp: Buffer): void {
    const sock = this.current?.sock;
    if (!sock || sock.destroyed || esp.length === 0 || esp.length > this.opts.maxPacket || sock.writableLength > this.tuning.maxQueuedBytes) {
      this.counters.dropped++;
      return;
    }
    const f = encodeFrame(esp);
    sock.write(f);
    this.counters.txPackets++;
    this.counters.bytesSent += f.length;
  }

  onPacket(handler: (esp: Buffer, peer: string) => void): void {
    this.handler = handler;
  }

  /** Headend: answer on this connection if it is newer than the current one, and close the older ones (a client that reconnected left them). */
  confirmPeer(peer: string): void {
    if (this.opts.side !== "headend") return;
    const conn = this.conns.get(peer);
    if (!conn || (this.current && conn.n <= this.current.n)) return;
    this.current = conn;
    for (const c of this.conns.values()) if (c.n < conn.n) c.sock.destroy();
  }

  stats(): TransportStats {
    return { ...this.counters, localPort: this.localPort || (this.current?.sock.localPort ?? 0), peer: this.current?.key ?? "", open: this.opts.side === "headend" ? this.conns.size : Number(!!this.current) };
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.current?.sock.destroy();
    for (const c of this.conns.values()) c.sock.destroy();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
