// Test support for the netem live suite (netem-live.test.ts): what a stream of
// UDP datagrams from namespace a to b went through, measured at the receiver —
// arrival order and times, duplicates, payloads that changed on the way — and
// by tcpdump on the kernel's clock at points before and after a netem. Programs run with the
// host's node inside the namespaces (argv arrays only); the receiver is killed
// by PID whatever happens. Also the binomial bounds the suite's tolerances
// come from, and the wait for a qdisc to drain (the event a measurement waits
// for instead of a fixed sleep).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { run } from "../exec";
import type { NodeExec } from "../runtime/runtime";
import type { NetnsPair } from "./testkit";

/** One datagram as the receiver saw it. */
export interface Arrival {
  seq: number;
  /** Arrival time, µs since the receiver started. */
  tUs: number;
  /** The payload is exactly what was sent (false: some bit changed on the way). */
  intact: boolean;
}

export interface StreamResult {
  sent: number;
  sendErrors: number;
  /** In arrival order; a duplicated datagram appears twice. */
  arrivals: Arrival[];
  /** Datagrams too damaged to tell which they were (their tag or sequence number changed). */
  garbled: number;
  /**
   * Datagrams b's kernel dropped because the receiver's socket buffer was full
   * (Udp RcvbufErrors): the receiver fell behind, and what it missed says
   * nothing about the impairment. A measurement with any is not valid.
   */
  receiverDropped: number;
}

/** A counter of /proc/net/snmp ("Udp", "RcvbufErrors") in NODE's namespace. */
export async function snmpCounter(exec: NodeExec, node: string, proto: string, name: string): Promise<number> {
  const text = (await exec.exec(node, ["cat", "/proc/net/snmp"])).stdout;
  const lines = text.split("\n").filter((l) => l.startsWith(`${proto}:`));
  const i = lines[0]?.split(/\s+/).indexOf(name) ?? -1;
  if (lines.length < 2 || i < 0) throw new Error(`/proc/net/snmp in ${node} has no ${proto} ${name}`);
  return Number(lines[1].split(/\s+/)[i]);
}

// The payload of datagram SEQ: "TAG:SEQ:" then bytes that depend on SEQ and
// their position, so that any flipped bit shows.
const PAYLOAD = `
function payload(tag, seq, size) {
  const head = Buffer.from(tag + ":" + seq + ":");
  const b = Buffer.alloc(Math.max(size, head.length));
  head.copy(b);
  for (let i = head.length; i < b.length; i++) b[i] = (seq * 31 + i * 7) & 0xff;
  return b;
}
`;

const RECEIVER = `${PAYLOAD}
const dgram = require("node:dgram");
const [tag, host, port, size] = process.argv.slice(1);
const t0 = process.hrtime.bigint();
const arrivals = [];
let garbled = 0;
const s = dgram.createSocket({ type: "udp4", recvBufferSize: 4 << 20 });
s.on("message", (m) => {
  const tUs = Number((process.hrtime.bigint() - t0) / 1000n);
  const t = m.toString("latin1");
  const parts = t.split(":");
  const seq = Number(parts[1]);
  if (parts[0] !== tag || !Number.isInteger(seq) || seq < 0) { garbled++; return; }
  arrivals.push([seq, tUs, payload(tag, seq, Number(size)).equals(m) ? 1 : 0]);
});
s.bind(Number(port), host, () => process.stdout.write("ready\\n"));
process.stdin.resume();
process.stdin.on("end", () => setTimeout(() => {
  process.stdout.write(JSON.stringify({ arrivals, garbled }) + "\\n");
  s.close();
  process.exit(0);
}, 200));
`;

// paced: PER_TICK datagrams every TICK_MS (a burst when TICK_MS is 0)
const STREAM_SENDER = `${PAYLOAD}
const dgram = require("node:dgram");
const [tag, host, port, count, size, perTick, tickMs] = process.argv.slice(1).map((v, i) => (i < 2 ? v : Number(v)));
const s = dgram.createSocket("udp4");
let done = 0, errors = 0, seq = 0;
function finish() { if (++done === count) { s.close(); process.stdout.write(JSON.stringify({ sent: count, errors }) + "\\n"); } }
function batch() {
  for (let i = 0; i < perTick && seq < count; i++, seq++) s.send(payload(tag, seq, size), port, host, (err) => { if (err) errors++; finish(); });
  if (seq < count) setTimeout(batch, tickMs);
}
batch();
`;

const randomPort = (): number => 40000 + Math.floor(Math.random() * 20000);

/** Run RECEIVER in b around BODY; returns BODY's result and what the receiver printed. */
async function withReceiver<T>(pair: NetnsPair, tag: string, port: number, size: number, body: () => Promise<T>): Promise<{ result: T; receiverOut: string }> {
  const receiver = spawn("ip", ["netns", "exec", pair.b, process.execPath, "-e", RECEIVER, tag, pair.ipB, String(port), String(size)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  receiver.stdout.on("data", (d: Buffer) => (out += d.toString()));
  receiver.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => receiver.on("close", (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`receiver not ready within 30 s: ${err}`)), 30_000);
      const check = (): void => {
        if (out.includes("ready\n")) {
          clearTimeout(t);
          resolve();
        }
      };
      receiver.stdout.on("data", check);
      receiver.on("close", () => {
        clearTimeout(t);
        reject(new Error(`receiver exited early: ${err}`));
      });
      check();
    });
    const result = await body();
    receiver.stdin.end();
    const code = await exited;
    if (code !== 0) throw new Error(`receiver failed (exit ${String(code)}): ${err || out}`);
    return { result, receiverOut: out };
  } finally {
    if (receiver.exitCode === null && receiver.signalCode === null) receiver.kill("SIGKILL");
  }
}

export interface StreamOptions {
  count: number;
  /** UDP payload bytes (default 100). */
  size?: number;
  /** Datagrams per tick (default 20) and the pause between ticks in ms (default 2). */
  perTick?: number;
  tickMs?: number;
  port?: number;
  /** Waits until nothing is left in flight (e.g. waitQdiscDrained) before the receiver stops counting. */
  drained?: () => Promise<void>;
  /** The sender's namespace (default a; a Feeder's to cross a's egress after a capture point). */
  from?: string;
}

/** Send a stream from a to b and return what b received, in order, with arrival times. */
export async function udpStream(pair: NetnsPair, o: StreamOptions): Promise<StreamResult> {
  const tag = randomBytes(4).toString("hex");
  const size = o.size ?? 100;
  const port = o.port ?? randomPort();
  const overflowBefore = await snmpCounter(pair.exec, pair.b, "Udp", "RcvbufErrors");
  const { result, receiverOut } = await withReceiver(pair, tag, port, size, async () => {
    const argv = [process.execPath, "-e", STREAM_SENDER, tag, pair.ipB, String(port), String(o.count), String(size), String(o.perTick ?? 20), String(o.tickMs ?? 2)];
    const r = await pair.exec.exec(o.from ?? pair.a, argv, { timeoutMs: 300_000 });
    await o.drained?.();
    return JSON.parse(r.stdout.trim()) as { sent: number; errors: number };
  });
  const line = receiverOut.split("\n").find((l) => l.startsWith("{"));
  if (!line) throw new Error(`receiver printed no result: ${receiverOut}`);
  const parsed = JSON.parse(line) as { arrivals: [number, number, number][]; garbled: number };
  return {
    sent: result.sent,
    sendErrors: result.errors,
    arrivals: parsed.arrivals.map(([seq, tUs, ok]) => ({ seq, tUs, intact: ok === 1 })),
    garbled: parsed.garbled,
    receiverDropped: (await snmpCounter(pair.exec, pair.b, "Udp", "RcvbufErrors")) - overflowBefore,
  };
}

/** Packets queued in DEV's qdiscs now (`tc -s -j qdisc show`: the sum of their qlen). */
export async function qdiscQueued(exec: NodeExec, node: string, dev: string): Promise<number> {
  const r = await exec.exec(node, ["tc", "-s", "-j", "qdisc", "show", "dev", dev]);
  const list = JSON.parse(r.stdout) as { qlen?: number }[];
  return list.reduce((n, q) => n + (q.qlen ?? 0), 0);
}

/** Resolves once DEV's qdiscs hold no packet (throws after LIMIT ms). */
export async function waitQdiscDrained(exec: NodeExec, node: string, dev: string, limitMs = 60_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const q = await qdiscQueued(exec, node, dev);
    if (q === 0) return;
    if (Date.now() - t0 > limitMs) throw new Error(`${node}/${dev}: ${q} packet(s) still queued after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** [lo, hi] for the count of successes in N trials of probability P, Z standard deviations either side (a normal approximation). */
export function binomialBounds(n: number, p: number, z = 4): [number, number] {
  const sd = Math.sqrt(n * p * (1 - p));
  return [n * p - z * sd, n * p + z * sd];
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export function stddev(xs: readonly number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

/** The value below which a fraction Q of XS lies (nearest rank). */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/** Datagrams that arrived before one sent earlier than them (each counted once): what netem's reorder sends ahead. */
export function sentAhead(arrivals: readonly Arrival[]): number {
  const firstPos = new Map<number, number>();
  arrivals.forEach((a, i) => {
    if (!firstPos.has(a.seq)) firstPos.set(a.seq, i);
  });
  const seqs = [...firstPos.keys()].sort((x, y) => x - y);
  let latestEarlier = -1;
  let ahead = 0;
  for (const s of seqs) {
    const pos = firstPos.get(s) ?? 0;
    if (pos < latestEarlier) ahead++;
    latestEarlier = Math.max(latestEarlier, pos);
  }
  return ahead;
}

/** Runs of consecutive lost sequence numbers among 0..N-1 (their lengths). */
export function lossRuns(n: number, received: ReadonlySet<number>): number[] {
  const runs: number[] = [];
  let run = 0;
  for (let i = 0; i < n; i++) {
    if (received.has(i)) {
      if (run > 0) runs.push(run);
      run = 0;
    } else run++;
  }
  if (run > 0) runs.push(run);
  return runs;
}

/** One datagram of the stream as tcpdump saw it: kernel timestamp, device and direction. */
export interface CapturedDatagram {
  tUs: number;
  dev: string;
  /** "In" or "Out" (tcpdump's words on an `-i any` capture). */
  dir: string;
  seq: number;
}

export interface Capture {
  /** Stops tcpdump (SIGINT, by PID) and returns what it saw, in its order. */
  stop(): Promise<CapturedDatagram[]>;
}

/**
 * tcpdump on every device of NODE for UDP to PORT: the kernel's own
 * timestamps of each datagram of a udpStream on each device it crosses (an
 * IFB's too), free of the scheduling noise of the programs that send it.
 */
export async function startCapture(node: string, port: number): Promise<Capture> {
  const child = spawn("ip", ["netns", "exec", node, "tcpdump", "-i", "any", "-l", "-n", "-tt", "-A", "-B", "8192", "--time-stamp-precision=micro", "udp", "dst", "port", String(port)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString("latin1")));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const killTimer = setTimeout(() => child.kill("SIGKILL"), 600_000);
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`tcpdump in ${node} not listening within 30 s: ${err}`)), 30_000);
      const check = (): void => {
        if (err.includes("listening on")) {
          clearTimeout(t);
          resolve();
        }
      };
      child.stderr.on("data", check);
      child.on("close", () => {
        clearTimeout(t);
        reject(new Error(`tcpdump in ${node} exited: ${err}`));
      });
      check();
    });
  } catch (e) {
    clearTimeout(killTimer);
    child.kill("SIGKILL");
    throw e;
  }
  return {
    async stop() {
      child.kill("SIGINT");
      await exited;
      clearTimeout(killTimer);
      if (/[1-9]\d* packets? dropped by kernel/.test(err)) throw new Error(`tcpdump in ${node} lost packets: ${err.trim()}`);
      // "1733544000.123456 vli-b Out IP 10.200.0.1.5000 > 10.200.0.2.41238: UDP, length 100" then the payload as text
      const seen: CapturedDatagram[] = [];
      let head: { tUs: number; dev: string; dir: string } | undefined;
      for (const line of out.split("\n")) {
        const h = line.match(/^(\d+)\.(\d{6}) (\S+)\s+(In|Out|M|B|P)\s+IP /);
        if (h) {
          head = { tUs: Number(h[1]) * 1e6 + Number(h[2]), dev: h[3], dir: h[4] };
          continue;
        }
        const m = head && line.match(/[0-9a-f]{8}:(\d+):/);
        if (head && m) {
          seen.push({ ...head, seq: Number(m[1]) });
          head = undefined;
        }
      }
      return seen;
    },
  };
}

/**
 * A third namespace c behind a (veth c <-> ac, 10.201.0.2 → 10.201.0.1, a
 * forwarding to b): datagrams sent from c cross a's egress qdisc after
 * arriving on ac, so a capture in a timestamps each one before ("ac", In)
 * and after ("a", Out) the netem there — an egress delay measured on the
 * kernel's clock alone.
 */
export interface Feeder {
  ns: string;
  destroy(): Promise<void>;
}

export async function addFeeder(pair: NetnsPair): Promise<Feeder> {
  const ns = `${pair.a.slice(0, -2)}-c`;
  await run(["ip", "netns", "add", ns]);
  // what it added to a and b goes with it: the next feeder (or test) finds them as before
  const destroy = async (): Promise<void> => {
    await run(["ip", "netns", "del", ns], { allowFailure: true });
    await pair.exec.exec(pair.b, ["ip", "route", "del", "10.201.0.0/24"], { allowFailure: true });
    await pair.exec.exec(pair.a, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=0"], { allowFailure: true });
  };
  try {
    // created inside the namespaces from the start: never visible in the host's
    await run(["ip", "link", "add", "name", "c", "netns", ns, "type", "veth", "peer", "name", "ac", "netns", pair.a]);
    const x = pair.exec;
    await x.exec(ns, ["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"]);
    await x.exec(ns, ["ip", "link", "set", "lo", "up"]);
    await x.exec(ns, ["ip", "addr", "add", "10.201.0.2/24", "dev", "c"]);
    await x.exec(ns, ["ip", "link", "set", "dev", "c", "up"]);
    await x.exec(pair.a, ["ip", "addr", "add", "10.201.0.1/24", "dev", "ac"]);
    await x.exec(pair.a, ["ip", "link", "set", "dev", "ac", "up"]);
    await x.exec(pair.a, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    await x.exec(ns, ["ip", "route", "add", "10.200.0.0/24", "via", "10.201.0.1"]);
    await x.exec(pair.b, ["ip", "route", "replace", "10.201.0.0/24", "via", pair.ipA]);
    // no ARP exchange in the middle of a measurement
    const mac = async (node: string, dev: string): Promise<string> => (JSON.parse((await x.exec(node, ["ip", "-j", "link", "show", "dev", dev])).stdout) as { address: string }[])[0].address;
    await x.exec(ns, ["ip", "neigh", "replace", "10.201.0.1", "lladdr", await mac(pair.a, "ac"), "dev", "c", "nud", "permanent"]);
    await x.exec(pair.a, ["ip", "neigh", "replace", "10.201.0.2", "lladdr", await mac(ns, "c"), "dev", "ac", "nud", "permanent"]);
  } catch (e) {
    await destroy();
    throw e;
  }
  return { ns, destroy };
}

/** Per-datagram delay (ms) between two capture points, by sequence number (first sighting at each). */
export function delaysBetween(seen: readonly CapturedDatagram[], from: { dev: string; dir: string }, to: { dev: string; dir?: string }): Map<number, number> {
  const t0 = new Map<number, number>();
  const t1 = new Map<number, number>();
  for (const d of seen) {
    if (d.dev === from.dev && d.dir === from.dir && !t0.has(d.seq)) t0.set(d.seq, d.tUs);
    if (d.dev === to.dev && (to.dir === undefined || d.dir === to.dir) && !t1.has(d.seq)) t1.set(d.seq, d.tUs);
  }
  const out = new Map<number, number>();
  for (const [seq, t] of t1) {
    const start = t0.get(seq);
    if (start !== undefined) out.set(seq, (t - start) / 1000);
  }
  return out;
}
