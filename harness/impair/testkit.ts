// Test support (used by the *.test.ts beside it): two throwaway network
// namespaces joined by a veth pair created directly inside them, a NodeExec
// that runs `ip netns exec NS ...`, and a UDP loss meter. Nothing here
// touches the host namespace's interfaces or firewall.
import { spawn } from "node:child_process";
import { nftListTableArgv, parseNftDrops } from "./counters";
import { netemShowOptions } from "./tcfake";
import { randomBytes } from "node:crypto";
import { CommandError, run, type ExecOptions, type ExecResult } from "../exec";
import type { NodeExec } from "../runtime/runtime";
import { netnsExec } from "../testkit/netns";

export { isRoot, netnsExec } from "../testkit/netns";

export interface NetnsPair {
  /** Namespace names (also the node names for `exec`). */
  a: string;
  b: string;
  /** Interfaces: "a" in namespace a, "b" in namespace b. */
  devA: "a";
  devB: "b";
  ipA: "10.200.0.1";
  ipB: "10.200.0.2";
  exec: NodeExec;
  destroy(): Promise<void>;
}

/** vlt-<hex>-a and vlt-<hex>-b, veth a <-> b, 10.200.0.1/24 and .2/24, IPv6 off (no stray packets), static neighbours. */
export async function createNetnsPair(): Promise<NetnsPair> {
  const hex = randomBytes(3).toString("hex");
  const a = `vlt-${hex}-a`;
  const b = `vlt-${hex}-b`;
  const created: string[] = [];
  const destroy = async (): Promise<void> => {
    for (const ns of created.splice(0)) await run(["ip", "netns", "del", ns], { allowFailure: true });
  };
  try {
    for (const ns of [a, b]) {
      await run(["ip", "netns", "add", ns]);
      created.push(ns);
    }
    // Created inside the namespaces from the start: never visible in the host's.
    await run(["ip", "link", "add", "name", "a", "netns", a, "type", "veth", "peer", "name", "b", "netns", b]);
    for (const [ns, dev, ip] of [
      [a, "a", "10.200.0.1/24"],
      [b, "b", "10.200.0.2/24"],
    ] as const) {
      for (const k of ["all", "default"]) {
        await netnsExec.exec(ns, ["sysctl", "-q", "-w", `net.ipv6.conf.${k}.disable_ipv6=1`]);
      }
      await netnsExec.exec(ns, ["ip", "link", "set", "lo", "up"]);
      await netnsExec.exec(ns, ["ip", "addr", "add", ip, "dev", dev]);
      await netnsExec.exec(ns, ["ip", "link", "set", "dev", dev, "up"]);
    }
    // No ARP exchange in the middle of a measurement.
    const macA = await macOf(a, "a");
    const macB = await macOf(b, "b");
    await netnsExec.exec(a, ["ip", "neigh", "replace", "10.200.0.2", "lladdr", macB, "dev", "a", "nud", "permanent"]);
    await netnsExec.exec(b, ["ip", "neigh", "replace", "10.200.0.1", "lladdr", macA, "dev", "b", "nud", "permanent"]);
  } catch (e) {
    await destroy();
    throw e;
  }
  return { a, b, devA: "a", devB: "b", ipA: "10.200.0.1", ipB: "10.200.0.2", exec: netnsExec, destroy };
}

async function macOf(ns: string, dev: string): Promise<string> {
  const r = await netnsExec.exec(ns, ["ip", "-j", "link", "show", "dev", dev]);
  const parsed: unknown = JSON.parse(r.stdout);
  const first: unknown = Array.isArray(parsed) ? parsed[0] : undefined;
  const mac = typeof first === "object" && first !== null ? (first as { address?: unknown }).address : undefined;
  if (typeof mac !== "string") throw new Error(`no MAC address for ${ns}/${dev}: ${r.stdout}`);
  return mac;
}

export interface UdpMeasurement {
  sent: number;
  /** sendmsg errors: a drop at postrouting of a locally sent packet is reported to the sender (EPERM). */
  sendErrors: number;
  received: number;
  /** Sequence numbers (0-based) that never arrived. */
  missing: number[];
  lossPercent: number;
}

const RECEIVER = `
const dgram = require("node:dgram");
const [tag, host, port] = process.argv.slice(1);
const seen = new Set();
const s = dgram.createSocket("udp4");
s.on("message", (m) => {
  const t = m.toString();
  const i = t.indexOf(":");
  if (t.slice(0, i) === tag) seen.add(Number(t.slice(i + 1)));
});
s.bind(Number(port), host, () => process.stdout.write("ready\\n"));
process.stdin.resume();
process.stdin.on("end", () => setTimeout(() => {
  process.stdout.write(JSON.stringify({ received: [...seen] }) + "\\n");
  s.close();
  process.exit(0);
}, 300));
`;

const SENDER = `
const dgram = require("node:dgram");
const [tag, host, port, count] = process.argv.slice(1).map((v, i) => (i < 2 ? v : Number(v)));
const s = dgram.createSocket("udp4");
let done = 0, errors = 0, seq = 0;
function finish() { if (++done === count) { s.close(); process.stdout.write(JSON.stringify({ sent: count, errors }) + "\\n"); } }
function batch() {
  for (let i = 0; i < 20 && seq < count; i++, seq++) {
    s.send(tag + ":" + seq, port, host, (err) => { if (err) errors++; finish(); });
  }
  if (seq < count) setTimeout(batch, 2);
}
batch();
`;

/** Send COUNT UDP datagrams from namespace a to b (paced, 20 per 2 ms) and count what arrives. */
export async function measureUdpLoss(pair: NetnsPair, count: number, port = 40000 + Math.floor(Math.random() * 20000)): Promise<UdpMeasurement> {
  const tag = randomBytes(4).toString("hex");
  const receiver = spawn("ip", ["netns", "exec", pair.b, process.execPath, "-e", RECEIVER, tag, pair.ipB, String(port)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  receiver.stdout.on("data", (d: Buffer) => (out += d.toString()));
  receiver.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => receiver.on("close", (code) => resolve(code)));
  const killTimer = setTimeout(() => receiver.kill("SIGKILL"), 60_000);
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`receiver not ready: ${err}`)), 15_000);
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
    const sent = await pair.exec.exec(pair.a, [process.execPath, "-e", SENDER, tag, pair.ipB, String(port), String(count)], { timeoutMs: 60_000 });
    const s = JSON.parse(sent.stdout.trim()) as { sent: number; errors: number };
    receiver.stdin.end();
    const code = await exited;
    const line = out.split("\n").find((l) => l.startsWith("{"));
    if (code !== 0 || !line) throw new Error(`receiver failed (exit ${String(code)}): ${err || out}`);
    const received = new Set((JSON.parse(line) as { received: number[] }).received);
    const missing: number[] = [];
    for (let i = 0; i < count; i++) if (!received.has(i)) missing.push(i);
    return {
      sent: s.sent,
      sendErrors: s.errors,
      received: received.size,
      missing,
      lossPercent: (100 * (count - received.size)) / count,
    };
  } finally {
    clearTimeout(killTimer);
    if (receiver.exitCode === null && receiver.signalCode === null) receiver.kill("SIGKILL");
  }
}

/** Packets counted by the drop rules of an nftables table in a namespace (0 when the table is absent). */
export async function nftDropCount(exec: NodeExec, node: string, table: string): Promise<number> {
  const r = await exec.exec(node, nftListTableArgv(table), { allowFailure: true });
  return r.code === 0 ? parseNftDrops(r.stdout).packets : 0;
}

/**
 * A pretend node kernel for unit tests: answers `tc` and `nft -f -` the way
 * iproute2 6.1 / nftables 1.0.6 do, with or without the netem qdisc, and
 * records every call.
 */
export class FakeKernel implements NodeExec {
  readonly calls: { node: string; argv: string[]; input?: string }[] = [];
  /** "node/dev" → the explicit root qdisc kind (absent: the kernel default). */
  readonly roots = new Map<string, string>();
  /** "node/dev" → the root's handle and netem options (from the argv that installed it). */
  readonly rootHandles = new Map<string, string>();
  readonly rootParams = new Map<string, string[]>();
  /** "node/table" → the last ruleset text loaded for it. */
  readonly tables = new Map<string, string>();
  /** "node/table" → packets its drop rules have dropped (what `nft -j list table` reports). */
  readonly drops = new Map<string, number>();
  /** Make the next call matching this predicate fail with stderr. */
  failNext?: { match: (argv: readonly string[]) => boolean; stderr: string };

  constructor(readonly netem: boolean) {}

  exec(node: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    this.calls.push({ node, argv: [...argv], ...(opts.input !== undefined ? { input: opts.input } : {}) });
    let r: ExecResult;
    if (this.failNext?.match(argv)) {
      r = { stdout: "", stderr: this.failNext.stderr, code: 1 };
      this.failNext = undefined;
    } else {
      r = this.answer(node, argv, opts.input ?? "");
    }
    if (r.code !== 0 && !opts.allowFailure) return Promise.reject(new CommandError(argv, r));
    return Promise.resolve(r);
  }

  private answer(node: string, argv: readonly string[], input: string): ExecResult {
    const ok = (stdout = ""): ExecResult => ({ stdout, stderr: "", code: 0 });
    const fail = (stderr: string): ExecResult => ({ stdout: "", stderr, code: 2 });
    const a = argv.join(" ");
    let m: RegExpMatchArray | null;
    if ((m = a.match(/^tc -j qdisc show dev (\S+)(?: root)?$/))) {
      const k = `${node}/${m[1]}`;
      const kind = this.roots.get(k);
      const options = kind === "netem" ? netemShowOptions(this.rootParams.get(k) ?? []) : {};
      return ok(JSON.stringify([kind ? { kind, handle: this.rootHandles.get(k) ?? "8001:", root: true, options } : { kind: "noqueue", handle: "0:", root: true, options: {} }]));
    }
    if ((m = a.match(/^tc qdisc (add|replace) dev (\S+) root (?:handle (\S+) )?(\S+)(.*)$/))) {
      const k = `${node}/${m[2]}`;
      if (m[4] === "netem" && !this.netem) return fail("Error: Specified qdisc kind is unknown.\n");
      if (m[1] === "add" && this.roots.has(k)) return fail("Error: Exclusivity flag on, cannot modify.\n");
      this.roots.set(k, m[4]);
      this.rootHandles.set(k, m[3] ?? "8001:");
      this.rootParams.set(k, m[5].trim() === "" ? [] : m[5].trim().split(" "));
      return ok();
    }
    if ((m = a.match(/^tc qdisc del dev (\S+) root$/))) {
      const k = `${node}/${m[1]}`;
      if (!this.roots.has(k)) return fail("Error: Cannot delete qdisc with handle of zero.\n");
      this.roots.delete(k);
      return ok();
    }
    if ((m = a.match(/^nft -j list table inet (\S+)$/))) {
      const k = `${node}/${m[1]}`;
      if (!this.tables.has(k)) return fail(`Error: No such file or directory\n`);
      const packets = this.drops.get(k) ?? 0;
      const rule = { family: "inet", table: m[1], chain: "egress", handle: 2, expr: [{ counter: { packets, bytes: packets * 100 } }, { drop: null }] };
      return ok(JSON.stringify({ nftables: [{ metainfo: { json_schema_version: 1 } }, { table: { family: "inet", name: m[1] } }, { rule }] }));
    }
    if (a === "nft -f -") {
      const lines = input.split("\n");
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        if ((m = line.match(/^delete table inet (\S+)$/))) {
          if (!this.tables.has(`${node}/${m[1]}`)) return fail(`Error: No such file or directory; did you mean table ‘${m[1]}’?\n`);
          this.tables.delete(`${node}/${m[1]}`);
        } else if ((m = line.match(/^table inet (\S+) \{\}$/))) {
          if (!this.tables.has(`${node}/${m[1]}`)) this.tables.set(`${node}/${m[1]}`, "");
        } else if ((m = line.match(/^table inet (\S+) \{$/))) {
          const end = lines.indexOf("}", i);
          this.tables.set(`${node}/${m[1]}`, lines.slice(i, end + 1).join("\n") + "\n");
          i = end;
        }
      }
      return ok();
    }
    return fail(`FakeKernel: unexpected command ${a}\n`);
  }
}
