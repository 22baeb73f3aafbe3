// The project's own full TCP proxy (`proxy: builtin`). It accepts the
// connections the firewall ruleset redirects to it, asks the kernel where
// each one was going (SO_ORIGINAL_DST), opens its own connection there and
// pipes both ways. Both sides are real kernel TCP sockets: the client's side
// is ACKed by the firewall's stack, and bytes after a lost segment wait in
// that socket's out-of-order queue for a retransmission a cTCP peer never
// sends. That is the failure this harness reproduces; the counters here and
// the socket evidence (evidence.ts) show it.
import * as fs from "node:fs";
import * as net from "node:net";
import { originalDst, socketFd } from "../native";
import { unixRequest } from "./unix-request";

export interface OriginalDst {
  address: string;
  port: number;
}

/** Where an accepted (redirected) connection was originally going. Injectable so tests run without the native addon. */
export type OriginalDstResolver = (socket: net.Socket) => OriginalDst;

/** SO_ORIGINAL_DST through the native addon (which loads itself on the first call, so importing this is free). */
export const nativeOriginalDst: OriginalDstResolver = (socket) => originalDst(socketFd(socket));

export type ProxyConnState = "connecting" | "open" | "half-closed" | "closed";

export interface ProxyConnection {
  id: number;
  client: string; // ip:port of the connecting peer
  server: string; // ip:port of the original destination
  opened: number; // ms since the epoch
  closed?: number; // ms since the epoch
  bytesIn: number; // read from the client
  bytesOut: number; // written to the server (handed to the kernel)
  bytesBack: number; // read from the server
  bytesBackOut: number; // written to the client (handed to the kernel)
  held: number; // read but not yet handed onward, either direction (userspace)
  state: ProxyConnState;
  closeReason?: string; // "idle", "client closed first", "server closed first", "proxy stopped" or an error
}

export interface ProxyStats {
  port: number;
  idleTimeoutMs: number;
  accepted: number; // connections accepted since the start (closed ones included, however many were kept)
  connections: ProxyConnection[];
}

export interface ProxyOptions {
  port: number; // 0: any free port (tests)
  host?: string; // default 0.0.0.0
  idleTimeoutMs: number; // no data either way for this long closes both sides
  connectTimeoutMs?: number; // default 2000, like the HAProxy config
  resolveOriginalDst?: OriginalDstResolver; // default: nativeOriginalDst()
  maxClosedKept?: number; // closed connections kept for the stats (default 1000)
}

interface Entry {
  conn: ProxyConnection;
  client: net.Socket;
  upstream?: net.Socket;
  timer?: NodeJS.Timeout;
}

export class TcpProxy {
  private readonly server: net.Server;
  private readonly entries = new Map<number, Entry>();
  private readonly resolve: OriginalDstResolver;
  private nextId = 1;
  private boundPort = 0;

  constructor(private readonly opts: ProxyOptions) {
    if (!Number.isInteger(opts.idleTimeoutMs) || opts.idleTimeoutMs < 1) {
      throw new Error(`proxy: idleTimeoutMs ${opts.idleTimeoutMs} must be a positive integer`);
    }
    this.resolve = opts.resolveOriginalDst ?? nativeOriginalDst;
    // allowHalfOpen: a FIN from one side is passed on, not answered by closing.
    // pauseOnConnect: nothing is read from the client before the server side exists.
    this.server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => this.accept(s));
  }

  /** Start listening; resolves with the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(new Error(`proxy: cannot listen on ${this.opts.host ?? "0.0.0.0"}:${this.opts.port}: ${e.message}`));
      this.server.once("error", onError);
      this.server.listen(this.opts.port, this.opts.host ?? "0.0.0.0", () => {
        this.server.off("error", onError);
        const addr = this.server.address();
        this.boundPort = typeof addr === "object" && addr ? addr.port : this.opts.port;
        resolve(this.boundPort);
      });
    });
  }

  get port(): number {
    return this.boundPort;
  }

  stats(): ProxyStats {
    const connections = [...this.entries.values()].map(({ conn }) => ({
      ...conn,
      held: conn.bytesIn - conn.bytesOut + (conn.bytesBack - conn.bytesBackOut),
    }));
    return { port: this.boundPort, idleTimeoutMs: this.opts.idleTimeoutMs, accepted: this.nextId - 1, connections };
  }

  /** Stop accepting and tear down every connection. */
  close(): Promise<void> {
    for (const e of this.entries.values()) this.finish(e, "proxy stopped");
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
    });
  }

  private accept(client: net.Socket): void {
    const conn: ProxyConnection = {
      id: this.nextId++,
      client: endpoint(client.remoteAddress, client.remotePort),
      server: "?",
      opened: Date.now(),
      bytesIn: 0,
      bytesOut: 0,
      bytesBack: 0,
      bytesBackOut: 0,
      held: 0,
      state: "connecting",
    };
    const entry: Entry = { conn, client };
    this.entries.set(conn.id, entry);
    this.prune();
    client.on("error", (e: Error) => this.finish(entry, `client error: ${e.message}`));

    let dst: OriginalDst;
    try {
      dst = this.resolve(client);
    } catch (e) {
      this.finish(entry, `no original destination: ${(e as Error).message}`);
      return;
    }
    conn.server = endpoint(dst.address, dst.port);
    // A connection made straight to the proxy (not redirected) has itself as
    // its "original" destination: connecting there would loop forever.
    if (dst.port === client.localPort && unmapped(dst.address) === unmapped(client.localAddress)) {
      this.finish(entry, "not a redirected connection (original destination is the proxy itself)");
      return;
    }

    const upstream = net.connect({ host: dst.address, port: dst.port, allowHalfOpen: true });
    entry.upstream = upstream;
    entry.timer = setTimeout(() => this.finish(entry, "idle"), this.opts.idleTimeoutMs);
    const connectTimer = setTimeout(
      () => this.finish(entry, `connect to ${conn.server} timed out`),
      this.opts.connectTimeoutMs ?? 2000,
    );
    upstream.on("error", (e: Error) => this.finish(entry, `server error: ${e.message}`));
    upstream.on("connect", () => {
      clearTimeout(connectTimer);
      if (conn.state === "closed") return;
      conn.state = "open";
      client.resume();
    });
    upstream.on("close", () => clearTimeout(connectTimer));

    this.pipe(entry, client, upstream, "bytesIn", "bytesOut");
    this.pipe(entry, upstream, client, "bytesBack", "bytesBackOut");

    let firstFin: string | undefined;
    const onEnd = (to: net.Socket, who: "client" | "server"): void => {
      firstFin ??= who;
      if (conn.state !== "closed") conn.state = "half-closed";
      to.end(); // pass the FIN on, after everything before it is written
    };
    client.on("end", () => onEnd(upstream, "client"));
    upstream.on("end", () => onEnd(client, "server"));
    const onClose = (): void => {
      if (client.destroyed && upstream.destroyed) this.finish(entry, firstFin ? `${firstFin} closed first` : "closed");
    };
    client.on("close", onClose);
    upstream.on("close", onClose);
  }

  /** Copy from → to, counting read and written bytes, with backpressure. */
  private pipe(
    entry: Entry,
    from: net.Socket,
    to: net.Socket,
    readKey: "bytesIn" | "bytesBack",
    writtenKey: "bytesOut" | "bytesBackOut",
  ): void {
    const conn = entry.conn;
    from.on("data", (chunk: Buffer) => {
      conn[readKey] += chunk.length;
      entry.timer?.refresh();
      const ok = to.write(chunk, (err?: Error | null) => {
        if (!err) conn[writtenKey] += chunk.length;
      });
      if (!ok) {
        from.pause();
        to.once("drain", () => from.resume());
      }
    });
  }

  private finish(entry: Entry, reason: string): void {
    const conn = entry.conn;
    if (conn.state === "closed") return;
    if (entry.timer) clearTimeout(entry.timer);
    conn.state = "closed";
    conn.closed = Date.now();
    conn.closeReason = reason;
    conn.held = conn.bytesIn - conn.bytesOut + (conn.bytesBack - conn.bytesBackOut);
    entry.client.destroy();
    entry.upstream?.destroy();
  }

  private prune(): void {
    const max = this.opts.maxClosedKept ?? 1000;
    const closed = [...this.entries.values()].filter((e) => e.conn.state === "closed");
    for (const e of closed.slice(0, Math.max(0, closed.length - max))) this.entries.delete(e.conn.id);
  }
}

function unmapped(address: string | undefined): string {
  return (address ?? "").replace(/^::ffff:/, "");
}

function endpoint(address: string | undefined, port: number | undefined): string {
  const a = unmapped(address);
  return a.includes(":") ? `[${a}]:${port ?? "?"}` : `${a}:${port ?? "?"}`;
}

// ---------------------------------------------------------------------------
// Stats over a unix socket: a client writes `stats\n`, gets one JSON line.

export function serveStats(socketPath: string, stats: () => ProxyStats): Promise<net.Server> {
  try {
    fs.unlinkSync(socketPath); // a stale socket from a killed run
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const server = net.createServer((sock) => {
    let buf = "";
    sock.setEncoding("utf8");
    sock.on("error", () => undefined); // a client that went away is no concern
    sock.on("data", (s: string) => {
      buf += s;
      const nl = buf.indexOf("\n");
      if (nl < 0) {
        if (buf.length > 1024) sock.end(`${JSON.stringify({ error: "request too long" })}\n`);
        return;
      }
      const cmd = buf.slice(0, nl).trim();
      sock.end(cmd === "stats" ? `${JSON.stringify(stats())}\n` : `${JSON.stringify({ error: `unknown command ${JSON.stringify(cmd)}; say "stats"` })}\n`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", (e: Error) => reject(new Error(`proxy stats: cannot listen on ${socketPath}: ${e.message}`)));
    server.listen(socketPath, () => {
      fs.chmodSync(socketPath, 0o600);
      resolve(server);
    });
  });
}

export async function queryProxyStats(socketPath: string, timeoutMs = 3000): Promise<ProxyStats> {
  const reply = await unixRequest(socketPath, "stats\n", timeoutMs);
  let parsed: unknown;
  try {
    parsed = JSON.parse(reply);
  } catch {
    throw new Error(`proxy stats ${socketPath}: not JSON: ${reply.slice(0, 200)}`);
  }
  if (typeof parsed !== "object" || parsed === null) throw new Error(`proxy stats ${socketPath}: not an object: ${reply.slice(0, 200)}`);
  if ("error" in parsed) throw new Error(`proxy stats ${socketPath}: ${String((parsed as { error: unknown }).error)}`);
  if (!Array.isArray((parsed as { connections?: unknown }).connections)) {
    throw new Error(`proxy stats ${socketPath}: no connections array: ${reply.slice(0, 200)}`);
  }
  return parsed as ProxyStats;
}
