// Test support for the wire: three throwaway namespaces x — r — y (r routes
// between them), a stand-in for a lab's runtime that starts the wire program
// in a namespace, and a UDP meter that records, per datagram, how often and
// how late it arrived (one-way, on the host's monotonic clock that every
// namespace shares). Nothing here touches the host's own namespace.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { run } from "../../../exec";
import { hostHarnessArgv } from "../../../runtime/programs";
import type { NodeExec, Runtime, SpawnOptions } from "../../../runtime/runtime";
import { namespacePids } from "../../../runtime/namespaces";
import { processStart } from "../../../runtime/state";
import { Netns } from "../../../testkit/netns";
import type { BackendContext } from "../types";
import { netnsExec } from "../../testkit";

export interface Chain {
  x: Netns;
  r: Netns;
  y: Netns;
  /** x's address (dev "x"), r's on x's side (dev "rx") and y's side (dev "ry"), y's (dev "y"). */
  ipX: string;
  ipRX: string;
  ipRY: string;
  ipY: string;
  ctx: BackendContext;
  /** Every process the stand-in runtime started (wires), for the test's checks and cleanup. */
  started: ChildProcess[];
  dir: string;
  destroy(): Promise<void>;
}

export async function createChain(): Promise<Chain> {
  const hex = randomBytes(3).toString("hex");
  const made: Netns[] = [];
  const started: ChildProcess[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vpnlab-wire-"));
  const destroy = async (): Promise<void> => {
    for (const c of started) {
      // only our own children, by PID, while they are still the same process
      if (c.pid !== undefined && processStart(c.pid) !== undefined) process.kill(c.pid, "SIGKILL");
    }
    // a wire another process started (a test of exactly that) lives in r: every process there is the test's
    for (const n of made) for (const pid of await namespacePids(n.name)) process.kill(pid, "SIGKILL");
    for (const n of made.splice(0)) await n.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const t of ["x", "r", "y"]) made.push(await Netns.create(t, hex));
    const [x, r, y] = made;
    await run(["ip", "link", "add", "name", "x", "netns", x.name, "type", "veth", "peer", "name", "rx", "netns", r.name]);
    await run(["ip", "link", "add", "name", "ry", "netns", r.name, "type", "veth", "peer", "name", "y", "netns", y.name]);
    const conf: [Netns, string, string][] = [
      [x, "x", "10.201.1.1/24"],
      [r, "rx", "10.201.1.254/24"],
      [r, "ry", "10.201.2.254/24"],
      [y, "y", "10.201.2.1/24"],
    ];
    for (const [n, dev, ip] of conf) {
      await n.exec(["ip", "addr", "add", ip, "dev", dev]);
      await n.exec(["ip", "link", "set", "dev", dev, "up"]);
    }
    await x.exec(["ip", "route", "add", "default", "via", "10.201.1.254"]);
    await y.exec(["ip", "route", "add", "default", "via", "10.201.2.254"]);
    await r.exec(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    const ctx = namespaceContext(dir, started);
    return { x, r, y, ipX: "10.201.1.1", ipRX: "10.201.1.254", ipRY: "10.201.2.254", ipY: "10.201.2.1", ctx, started, dir, destroy };
  } catch (e) {
    await destroy();
    throw e;
  }
}

/**
 * A wire's context on throwaway namespaces (node names are namespace names): a stand-in for the
 * lab's runtime that starts programs with `ip netns exec` (the wire uses only spawn and harnessArgv).
 */
export function namespaceContext(dir: string, started: ChildProcess[] = []): BackendContext {
  const runtime = {
    spawn(node: string, argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
      const err = opts.logFile ? fs.openSync(opts.logFile, "a") : "ignore";
      const c = spawn("ip", ["netns", "exec", node, ...argv], { stdio: ["pipe", "pipe", err] });
      if (typeof err === "number") fs.closeSync(err);
      started.push(c);
      return c;
    },
    harnessArgv: hostHarnessArgv,
  };
  return { exec: netnsExec, runtime: runtime as unknown as Runtime, dir };
}

// ends once nothing arrived for QUIET ms after the first datagram (or after LIMIT ms)
const RECEIVER = `
const dgram = require("node:dgram");
const [host, port, quiet, limit] = process.argv.slice(1);
const arrivals = [];
let last = 0;
const s = dgram.createSocket("udp4");
s.on("message", (m) => {
  const now = process.hrtime.bigint();
  const [seq, sent] = m.toString().split(":");
  arrivals.push([Number(seq), Number(now - BigInt(sent)) / 1e6]);
  last = Date.now();
});
const started = Date.now();
s.bind(Number(port), host);
setInterval(() => {
  if ((last && Date.now() - last > Number(quiet)) || Date.now() - started > Number(limit)) {
    process.stdout.write(JSON.stringify({ arrivals }) + "\\n");
    process.exit(0);
  }
}, 50);
`;

// after WAIT ms (the receiver binds meanwhile), one datagram per tick: seq:monotonic-ns (padded to SIZE bytes)
const SENDER = `
const dgram = require("node:dgram");
const [host, port, count, gapMs, size, sport, wait] = process.argv.slice(1);
const s = dgram.createSocket("udp4");
let seq = 0, errors = 0, pending = 0;
s.bind(Number(sport) || 0, () => setTimeout(() => {
  const tick = () => {
    const body = seq + ":" + process.hrtime.bigint();
    const m = Buffer.alloc(Math.max(Number(size), body.length), 32); m.write(body);
    pending++;
    s.send(m, Number(port), host, (e) => { if (e) errors++; if (--pending === 0 && seq >= Number(count)) { s.close(); process.stdout.write(JSON.stringify({ sent: Number(count), errors }) + "\\n"); } });
    if (++seq < Number(count)) setTimeout(tick, Number(gapMs));
  };
  tick();
}, Number(wait)));
`;

export interface UdpRun {
  sent: number;
  /** [seq, one-way ms] per arrival, in arrival order. */
  arrivals: [number, number][];
  /** seqs that never arrived. */
  missing: number[];
  lossPercent: number;
  /** extra copies, in percent of sent. */
  duplicatePercent: number;
  /** arrivals with a lower seq than one already seen, in percent of arrivals. */
  outOfOrderPercent: number;
  meanDelayMs: number;
  /** The middle one-way delay: a host that holds the sender or the receiver up now and then moves the mean, not this. */
  medianDelayMs: number;
}

export interface UdpOptions {
  gapMs?: number;
  port?: number;
  sport?: number;
  size?: number;
}

/**
 * Send COUNT datagrams from node `from` to ip:port on node `to` (through `exec`: namespaces or a lab's runtime),
 * one every gapMs, and see what arrived, when, and in which order.
 */
export async function udpRun(exec: NodeExec, from: string, to: string, ip: string, count: number, opts: UdpOptions = {}): Promise<UdpRun> {
  const port = opts.port ?? 30000 + Math.floor(Math.random() * 20000);
  const gap = opts.gapMs ?? 1;
  const receiving = exec.exec(to, [process.execPath, "-e", RECEIVER, "--", ip, String(port), "1500", String(20_000 + count * gap * 5)], { timeoutMs: 180_000 });
  await exec.exec(from, [process.execPath, "-e", SENDER, "--", ip, String(port), String(count), String(gap), String(opts.size ?? 64), String(opts.sport ?? 0), "700"], { timeoutMs: 180_000 });
  const arrivals = (JSON.parse((await receiving).stdout.trim()) as { arrivals: [number, number][] }).arrivals;
  return summarize(count, arrivals);
}

export function summarize(count: number, arrivals: [number, number][]): UdpRun {
  const seen = new Set(arrivals.map((a) => a[0]));
  const missing: number[] = [];
  for (let i = 0; i < count; i++) if (!seen.has(i)) missing.push(i);
  let max = -1;
  let ooo = 0;
  for (const [s] of arrivals) {
    if (s < max) ooo++;
    max = Math.max(max, s);
  }
  return {
    sent: count,
    arrivals,
    missing,
    lossPercent: (100 * missing.length) / count,
    duplicatePercent: (100 * (arrivals.length - seen.size)) / count,
    outOfOrderPercent: arrivals.length ? (100 * ooo) / arrivals.length : 0,
    meanDelayMs: arrivals.length ? arrivals.reduce((s, a) => s + a[1], 0) / arrivals.length : NaN,
    medianDelayMs: arrivals.length ? [...arrivals].map((a) => a[1]).sort((a, b) => a - b)[Math.floor(arrivals.length / 2)] : NaN,
  };
}

// counts bytes from 1 s after the first one (past slow start) until the sender closes
const TCP_SINK = `
const net = require("node:net");
const [host, port] = process.argv.slice(1);
let first = 0, counted = 0, from = 0, last = 0;
const srv = net.createServer((c) => {
  c.on("data", (d) => {
    const now = Date.now();
    if (!first) { first = now; from = now + 1000; }
    if (now >= from) { counted += d.length; last = now; }
  });
  c.on("end", () => { process.stdout.write(JSON.stringify({ bytes: counted, ms: last - from }) + "\\n"); process.exit(0); });
});
srv.listen(Number(port), host);
setTimeout(() => process.exit(3), 120000);
`;

const TCP_SOURCE = `
const net = require("node:net");
const [host, port, ms] = process.argv.slice(1);
setTimeout(() => {
  const c = net.connect(Number(port), host, () => {
    const buf = Buffer.alloc(65536, 120);
    const end = Date.now() + Number(ms);
    const pump = () => { while (Date.now() < end) { if (!c.write(buf)) return c.once("drain", pump); } c.end(); };
    pump();
  });
}, 700);
`;

/** Bulk TCP from `from` to ip on `to` for ms milliseconds; the goodput the receiver saw after its first second. */
export async function tcpGoodput(exec: NodeExec, from: string, to: string, ip: string, ms: number): Promise<{ kbit: number; bytes: number; ms: number }> {
  const port = String(30000 + Math.floor(Math.random() * 20000));
  const sink = exec.exec(to, [process.execPath, "-e", TCP_SINK, "--", ip, port], { timeoutMs: 180_000 });
  await exec.exec(from, [process.execPath, "-e", TCP_SOURCE, "--", ip, port, String(ms)], { timeoutMs: 180_000 });
  const r = JSON.parse((await sink).stdout.trim()) as { bytes: number; ms: number };
  return { ...r, kbit: (r.bytes * 8) / r.ms };
}

/** What of the wire is left in a namespace: TUN devices, nftables tables, fwmark rules, a moved `local` rule. */
export async function wireLeftovers(ns: Netns): Promise<string[]> {
  const left: string[] = [];
  const links = JSON.parse((await ns.exec(["ip", "-j", "link", "show"])).stdout) as { ifname: string }[];
  left.push(...links.filter((l) => l.ifname.startsWith("vw")).map((l) => `link ${l.ifname}`));
  const tables = (await ns.exec(["nft", "list", "tables"])).stdout;
  left.push(...tables.split("\n").filter((l) => l.includes("vpnlab_wire_")).map((l) => l.trim()));
  const rules = JSON.parse((await ns.exec(["ip", "-j", "-4", "rule", "show"])).stdout) as { priority: number; table: string; fwmark?: string }[];
  left.push(...rules.filter((r) => r.fwmark !== undefined || (r.table === "local" && r.priority !== 0)).map((r) => `rule ${JSON.stringify(r)}`));
  if (!rules.some((r) => r.table === "local" && r.priority === 0)) left.push("no local rule at pref 0");
  return left;
}
