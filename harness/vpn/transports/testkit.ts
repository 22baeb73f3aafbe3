// Test support for the transport and tunnel tests: polling a measured value
// with a deadline (never a fixed sleep), ESP-shaped test packets, and the
// harness side of peer-main.js (a transport run inside a namespace).
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { encodeLine, LineReader } from "../../agent/protocol";
import { stopProcess } from "../../exec";
import type { PeerEvent, PeerRequest, WireSegment } from "./peer-main";

const PEER_MAIN = path.join(__dirname, "peer-main.js");
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/** Resolve with f()'s first value that is not undefined; reject after ms with what was last seen. */
export async function until<T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms = 10_000, describe?: () => unknown): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) {
      const seen = describe ? `; last seen: ${JSON.stringify(await describe())}` : "";
      throw new Error(`timed out after ${ms} ms waiting for ${what}${seen}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An ESP-shaped packet: SPI, a sequence number (the index), then filler up to `size` bytes. */
export function espLike(spi: number, index: number, size = 64): Buffer {
  const b = Buffer.alloc(Math.max(size, 8), index & 0xff);
  b.writeUInt32BE(spi >>> 0, 0);
  b.writeUInt32BE(index >>> 0, 4);
  return b;
}

/** peer-main.js (a transport, a TCP sniffer and crafter) running in a namespace, driven over JSON lines. */
export class Peer {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly events: PeerEvent[] = [];
  private exited?: string;
  private stderr = "";

  private constructor(
    readonly ns: string,
    readonly child: ChildProcess,
  ) {
    const reader = new LineReader((m) => {
      const msg = m as { id?: number; ok?: boolean; result?: unknown; error?: string } & Partial<PeerEvent>;
      if (typeof msg.id !== "number") {
        this.events.push(msg as PeerEvent);
        return;
      }
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.ok) p?.resolve(msg.result);
      else p?.reject(new Error(`peer in ${ns}: ${msg.error ?? "failed"}`));
    });
    child.stdout?.on("data", (c: Buffer) => reader.push(c));
    child.stderr?.on("data", (c: Buffer) => (this.stderr += c.toString()));
    child.on("exit", (code, signal) => {
      this.exited = `peer in ${ns} exited (${signal ?? `code ${code}`}): ${this.stderr}`;
      for (const p of this.pending.values()) p.reject(new Error(this.exited));
      this.pending.clear();
    });
    child.stdin?.on("error", () => undefined);
  }

  static async start(ns: string): Promise<Peer> {
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, PEER_MAIN], { stdio: ["pipe", "pipe", "pipe"] });
    child.on("error", () => undefined);
    const peer = new Peer(ns, child);
    await until("peer ready", () => (peer.exited ? Promise.reject(new Error(peer.exited)) : peer.events.find((e) => e.event === "ready")));
    return peer;
  }

  request<T = Record<string, number | string>>(req: DistributiveOmit<PeerRequest, "id">, timeoutMs = 20_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`peer in ${this.ns}: no reply to ${req.cmd} within ${timeoutMs} ms; stderr: ${this.stderr}`));
      }, timeoutMs);
      const settle = (f: () => void) => {
        clearTimeout(timer);
        f();
      };
      this.pending.set(id, { resolve: (v) => settle(() => resolve(v as T)), reject: (e) => settle(() => reject(e)) });
      this.child.stdin?.write(encodeLine({ ...req, id }));
    });
  }

  packets(): Extract<PeerEvent, { event: "packet" }>[] {
    return this.events.filter((e): e is Extract<PeerEvent, { event: "packet" }> => e.event === "packet");
  }

  segments(match: (s: WireSegment) => boolean = () => true): WireSegment[] {
    return this.events.flatMap((e) => (e.event === "segment" && match(e.segment) ? [e.segment] : []));
  }

  stop(): Promise<void> {
    return stopProcess(this.child);
  }
}
