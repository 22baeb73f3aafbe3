// Test support for the transport and tunnel tests: polling a measured value
// with a deadline (never a fixed sleep), ESP-shaped test packets, and the
// harness side of peer-main.js (a transport run inside a namespace), and
// mocha hooks for blocks that run peers or agents in a namespace pair.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AgentClient } from "../../agent/client";
import { encodeLine, LineReader } from "../../agent/protocol";
import { stopProcess } from "../../exec";
import { createNetnsPair, isRoot, type NetnsPair } from "../../impair/testkit";
import type { Runtime } from "../../runtime/runtime";
import type { PeerEvent, PeerRequest, WireSegment } from "./peer-main";
import { hostHarnessArgv } from "../../runtime/programs";


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

/**
 * Mocha hooks for a block whose every test gets two fresh namespaces joined by
 * a veth pair (createNetnsPair), and stops the Peers it started there; the
 * block is skipped without root (namespaces, raw sockets, nftables).
 */
export function usePeerPair(): { pair: () => NetnsPair; startPeer: (ns: string) => Promise<Peer> } {
  let pair: NetnsPair | undefined;
  let peers: Peer[] = [];
  before(function () {
    if (!isRoot()) this.skip(); // needs root
  });
  beforeEach(async () => {
    pair = await createNetnsPair();
  });
  afterEach(async () => {
    await Promise.all(peers.map((x) => x.stop()));
    peers = [];
    await pair?.destroy();
    pair = undefined;
  });
  return {
    pair: () => pair as NetnsPair,
    startPeer: async (ns) => {
      const x = await Peer.start(ns);
      peers.push(x);
      return x;
    },
  };
}

/**
 * Mocha hooks for a block whose every test runs agents (the program every lab
 * node runs) in two fresh namespaces joined by a veth pair; logs go to a
 * private temp dir, removed with the namespaces. Skipped without root.
 */
export function useAgentPair(): { pair: () => NetnsPair; startAgent: (ns: string, logName: string) => Promise<AgentClient> } {
  let pair: NetnsPair | undefined;
  let children: ChildProcess[] = [];
  let logDir = "";
  before(function () {
    if (!isRoot()) this.skip(); // needs root: namespaces, TUN, nftables
  });
  beforeEach(async () => {
    pair = await createNetnsPair();
    logDir = fs.mkdtempSync(path.join(os.tmpdir(), "vlt-agents-"));
  });
  afterEach(async () => {
    await Promise.all(children.map((c) => stopProcess(c)));
    children = [];
    await pair?.destroy();
    pair = undefined;
    fs.rmSync(logDir, { recursive: true, force: true });
  });
  // AgentClient only ever calls spawn(): a namespace of the pair is the node.
  const runtime = {
    spawn(node: string, argv: readonly string[], opts: { logFile?: string } = {}): ChildProcess {
      const err = fs.openSync(opts.logFile ?? "/dev/null", "a");
      const child = spawn("ip", ["netns", "exec", node, ...argv], { stdio: ["pipe", "pipe", err] });
      fs.closeSync(err);
      child.on("error", () => undefined);
      children.push(child);
      return child;
    },
    harnessArgv: hostHarnessArgv,
  } as Pick<Runtime, "spawn" | "harnessArgv"> as Runtime; // the rest of Runtime (nodes, nets) is never used by AgentClient
  return {
    pair: () => pair as NetnsPair,
    startAgent: (ns, logName) => AgentClient.start(runtime, ns, path.join(logDir, `${logName}.log`)),
  };
}
