// The userspace wire backend: serves every field of the model, seeded, for a
// flow match and either direction, on any node with a TUN device — the
// backend of hosts without netem. Per (node, device, direction) one wire
// program (main.ts) runs in the node; an nftables table of its own marks the
// fault's packets, policy routing sends them into the wire's TUN A, and the
// wire writes what survives into TUN B, from where the kernel routes them on.
//
// Stateless towards its caller: the wire is found by its control socket and
// state file in the lab's run directory, so a later process (`vpnlab heal`)
// can read, reconfigure or remove a wire another one (`vpnlab impair`)
// started. Lab teardown and gc remove it with the node's namespace.
import { randomInt } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import { describeSelection, type Direction, type Fault } from "../../fault";
import { describeImpairment, ImpairmentUnsupported } from "../../impairment";
import { nftDeleteTable, nftReplaceScript } from "../../nftables";
import type { NodeExec } from "../../../runtime/runtime";
import { processStart } from "../../../runtime/state";
import type { WireStats } from "./engine";
import { LOCAL_PREF, RULE_PREF, isWireTable, nodeSysctls, steeringRuleset, tunSysctls, wireDetail, wireNames, type WireNames, type WireReply, type WireRequest, type WireState } from "./plan";
import type { BackendContext, ImpairBackendImpl } from "../types";

const REQUEST_TIMEOUT_MS = 3000;
const START_TIMEOUT_MS = 10_000;

/** One request to a wire's control socket; rejects when nothing answers. */
export function wireRequest(socket: string, req: WireRequest, timeoutMs = REQUEST_TIMEOUT_MS): Promise<WireReply> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(socket);
    let buf = "";
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`wire ${socket}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    conn.setEncoding("utf8");
    conn.on("connect", () => conn.write(JSON.stringify(req) + "\n"));
    conn.on("data", (chunk: string) => {
      buf += chunk;
      const i = buf.indexOf("\n");
      if (i < 0) return;
      clearTimeout(timer);
      conn.end();
      try {
        resolve(JSON.parse(buf.slice(0, i)) as WireReply);
      } catch (e) {
        reject(e as Error);
      }
    });
    conn.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** The counters of the wire on (node, dev, direction) in the lab's run directory; undefined when none answers. */
export async function wireStats(dir: string, node: string, dev: string, direction: Direction = "egress"): Promise<WireStats | undefined> {
  try {
    const r = await wireRequest(wireNames(dir, node, dev, direction).socket, { op: "stats" });
    return r.ok ? r.stats : undefined;
  } catch {
    return undefined;
  }
}

function readState(file: string): WireState | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as WireState;
  } catch {
    return undefined;
  }
}

function writeState(file: string, s: WireState): void {
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(s, null, 2));
  fs.renameSync(`${file}.tmp`, file);
}

async function set(exec: NodeExec, node: string, values: Record<string, string>): Promise<void> {
  const kv = Object.entries(values).map(([k, v]) => `${k}=${v}`);
  if (kv.length) await exec.exec(node, ["sysctl", "-q", "-w", ...kv]);
}

interface RuleRow {
  priority?: number;
  table?: string;
  fwmark?: string;
}

async function rules(exec: NodeExec, node: string): Promise<RuleRow[]> {
  const r = await exec.exec(node, ["ip", "-j", "-4", "rule", "show"], { allowFailure: true });
  if (r.code !== 0) return [];
  try {
    return JSON.parse(r.stdout) as RuleRow[];
  } catch {
    return [];
  }
}

// node-global state (the `local` rule, node sysctls) is changed under a lock per node: clearAll clears wires
// in parallel. Across processes the held lab's lock serializes (`vpnlab impair` / `heal`).
const nodeLocks = new Map<string, Promise<void>>();

async function withNodeLock<T>(ctx: BackendContext, node: string, fn: () => Promise<T>): Promise<T> {
  const k = `${ctx.dir ?? ""}\u0000${node}`;
  const prev = nodeLocks.get(k) ?? Promise.resolve();
  const run = prev.then(fn);
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  nodeLocks.set(k, tail);
  void tail.then(() => {
    if (nodeLocks.get(k) === tail) nodeLocks.delete(k);
  });
  return run;
}

/** The other wires of the node that have a state file in the run directory. */
function otherWires(dir: string, node: string, n: WireNames): { names: WireNames; state: WireState }[] {
  const out: { names: WireNames; state: WireState }[] = [];
  for (const f of fs.readdirSync(dir)) {
    if (!f.startsWith(`wire-${node}-`) || !f.endsWith(".json")) continue;
    const state = readState(`${dir}/${f}`);
    if (!state || state.node !== node || (state.dev === n.dev && state.direction === n.direction)) continue;
    out.push({ names: wireNames(dir, node, state.dev, state.direction), state });
  }
  return out;
}

/**
 * Refuse a wire whose fwmark/table number another device's wire on the node already uses (the number
 * comes from a hash of the device name: two devices may collide) — they would steer into each other.
 */
async function checkCollision(ctx: BackendContext, node: string, n: WireNames): Promise<void> {
  const clash = otherWires(ctx.dir!, node, n).find((o) => o.names.mark === n.mark);
  const routes = await ctx.exec.exec(node, ["ip", "-j", "-4", "route", "show", "table", String(n.mark)], { allowFailure: true });
  let devs: string[] = [];
  try {
    devs = routes.code === 0 ? (JSON.parse(routes.stdout || "[]") as { dev?: string }[]).map((r) => r.dev ?? "") : [];
  } catch {
    /* no table */
  }
  const foreign = devs.find((d) => d !== n.tunA);
  if (clash || foreign !== undefined) {
    const who = clash ? `the wire of ${clash.state.dev} (${clash.state.direction})` : `a route via ${foreign}`;
    throw new Error(`${node}: the wire for ${n.dev} (${n.direction}) would use fwmark/table ${n.mark}, which ${who} already uses (the device names' hashes collide): refused`);
  }
}

/** Start the wire program in the node and wait until its control socket answers. */
async function startWire(ctx: BackendContext, node: string, n: WireNames): Promise<void> {
  const runtime = ctx.runtime!;
  const child = runtime.spawn(node, runtime.harnessArgv("wire", ["--tun-a", n.tunA, "--tun-b", n.tunB, "--socket", n.socket]), {
    logFile: n.logFile,
    capabilities: ["net_admin"],
  });
  const state: WireState = { node, dev: n.dev, direction: n.direction, saved: {} };
  if (child.pid !== undefined) {
    state.hostPid = child.pid;
    state.hostStart = processStart(child.pid);
  }
  writeState(n.stateFile, state);
  // it must outlive a `vpnlab impair` that exits: no pipe of ours keeps it, nor keeps us
  child.stdin?.destroy();
  child.stdout?.destroy();
  child.stderr?.destroy();
  child.unref();
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      const r = await wireRequest(n.socket, { op: "stats" }, 500);
      if (r.ok) return;
    } catch {
      /* not listening yet */
    }
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      const tail = fs.existsSync(n.logFile) ? fs.readFileSync(n.logFile, "utf8").trim().split("\n").slice(-5).join(" | ") : "no log";
      throw new Error(`${node}: the wire for ${n.dev} (${n.direction}) did not start (${child.exitCode !== null ? `exit ${child.exitCode}` : "no answer on its socket"}): ${tail}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The device's MTU (the TUNs get it: what fits DEV fits the wire). */
async function mtuOf(exec: NodeExec, node: string, dev: string): Promise<number> {
  const r = await exec.exec(node, ["ip", "-j", "link", "show", "dev", dev]);
  const mtu = (JSON.parse(r.stdout) as { mtu?: number }[])[0]?.mtu;
  if (mtu === undefined) throw new Error(`${node}: no MTU for ${dev}`);
  return mtu;
}

/** Put the `local` rule in front (pref 0) or behind the wires (LOCAL_PREF), then check it is so. */
async function placeLocal(exec: NodeExec, node: string, front: boolean): Promise<void> {
  const [want, other] = front ? [0, LOCAL_PREF] : [LOCAL_PREF, 0];
  let rs = await rules(exec, node);
  if (!rs.some((r) => r.priority === want && r.table === "local")) await exec.exec(node, ["ip", "rule", "add", "pref", String(want), "lookup", "local"]);
  rs = await rules(exec, node);
  if (rs.some((r) => r.priority === other && r.table === "local")) await exec.exec(node, ["ip", "rule", "del", "pref", String(other), "lookup", "local"]);
  rs = await rules(exec, node);
  const at = rs.filter((r) => r.table === "local").map((r) => r.priority);
  if (at.length !== 1 || at[0] !== want) throw new Error(`${node}: the local rule should be at pref ${want} only, found ${JSON.stringify(at)}`);
}

/** TUN devices up (DEV's MTU), sysctls, the routing table and fwmark rule; an ingress wire moves the `local` rule behind it. */
async function steer(ctx: BackendContext, node: string, n: WireNames): Promise<void> {
  const exec = ctx.exec;
  const mtu = String(await mtuOf(exec, node, n.dev));
  for (const t of [n.tunA, n.tunB]) await exec.exec(node, ["ip", "link", "set", "dev", t, "mtu", mtu, "up"]);
  await set(exec, node, tunSysctls(n));
  await withNodeLock(ctx, node, async () => {
    const state = readState(n.stateFile) ?? { node, dev: n.dev, direction: n.direction, saved: {} };
    const change: Record<string, string> = {};
    for (const [k, v] of Object.entries(nodeSysctls(n))) {
      const now = (await exec.exec(node, ["sysctl", "-n", k])).stdout.trim();
      if (now === v) continue;
      state.saved[k] ??= now;
      change[k] = v;
    }
    writeState(n.stateFile, state);
    await set(exec, node, change);
    const t = String(n.mark);
    await exec.exec(node, ["ip", "route", "replace", "default", "dev", n.tunA, "table", t]);
    await deleteRules(exec, node, n);
    await exec.exec(node, ["ip", "rule", "add", "pref", String(RULE_PREF), "fwmark", t, "lookup", t]);
    if (n.direction === "ingress") {
      // packets for the node's own addresses would be delivered by the `local` table before any fwmark rule
      if ((await rules(exec, node)).some((r) => r.priority === 0 && r.table === "local")) {
        state.movedLocal = true;
        writeState(n.stateFile, state);
      }
      await placeLocal(exec, node, false);
    }
  });
}

async function deleteRules(exec: NodeExec, node: string, n: WireNames): Promise<void> {
  for (const r of await rules(exec, node)) {
    if (Number(r.table) !== n.mark || r.priority === undefined) continue;
    await exec.exec(node, ["ip", "rule", "del", "pref", String(r.priority), "lookup", String(n.mark)], { allowFailure: true });
  }
}

/** A stop waits this long for the program to end: its drain (main.ts DRAIN_MAX_MS, 3 s) and then some. */
const STOP_TIMEOUT_MS = 6000;
/** Not answering its socket: SIGTERM after this; still there: SIGKILL after the drain could have ended. */
const TERM_AFTER_MS = 1000;
const KILL_AFTER_MS = 4000;

/** Whether the program the state file recorded is still that process (a PID reused by another is not it). */
function programAlive(state: WireState | undefined): boolean {
  return state?.hostPid !== undefined && processStart(state.hostPid) === state.hostStart;
}

/** What of the wire still exists: its program and either TUN device (the kernel removes each when the program's fd closes). */
async function wireRemains(exec: NodeExec, node: string, n: WireNames, state: WireState | undefined): Promise<string[]> {
  const left: string[] = [];
  if (programAlive(state)) left.push(`its program (PID ${state!.hostPid})`);
  const r = await exec.exec(node, ["ip", "-j", "link", "show"], { allowFailure: true });
  let links: string[] = [];
  try {
    links = r.code === 0 ? (JSON.parse(r.stdout || "[]") as { ifname?: string }[]).map((l) => l.ifname ?? "") : [];
  } catch {
    /* unreadable: judged by the next look */
  }
  for (const t of [n.tunA, n.tunB]) if (links.includes(t)) left.push(`device ${t}`);
  return left;
}

/**
 * Stop the wire program (by its socket, else by the PID the state file recorded, only while it is still
 * that process) and return once it has ended and both its TUN devices are gone — not when it was asked:
 * a caller checks the node right after. Throws naming what is left when that takes over STOP_TIMEOUT_MS.
 */
async function stopWire(ctx: BackendContext, node: string, n: WireNames, state: WireState | undefined): Promise<void> {
  let asked = false;
  try {
    asked = (await wireRequest(n.socket, { op: "stop" }, 1500)).ok;
  } catch {
    /* not answering: gone, or hung */
  }
  // asked, it first delivers what it holds (up to DRAIN_MAX_MS); not answering: SIGTERM, then SIGKILL
  const t0 = Date.now();
  let signalled: NodeJS.Signals | undefined;
  for (;;) {
    const left = await wireRemains(ctx.exec, node, n, state);
    if (left.length === 0) return;
    const waited = Date.now() - t0;
    if (waited > STOP_TIMEOUT_MS) throw new Error(`${node}: the wire for ${n.dev} (${n.direction}) did not stop within ${STOP_TIMEOUT_MS} ms (${signalled ? `${signalled} sent` : asked ? "asked on its socket" : "not answering"}): ${left.join(", ")} still there`);
    const sig: NodeJS.Signals | undefined = waited >= KILL_AFTER_MS ? "SIGKILL" : waited >= TERM_AFTER_MS && !asked ? "SIGTERM" : undefined;
    if (sig && sig !== signalled && programAlive(state)) {
      process.kill(state!.hostPid!, sig);
      signalled = sig;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The fault off: no steering (the fwmark rule and table stay; nothing is marked for them). */
async function unsteer(ctx: BackendContext, node: string, n: WireNames): Promise<void> {
  await ctx.exec.exec(node, ["nft", "-f", "-"], { input: nftDeleteTable(n.table) });
}

async function clearWire(ctx: BackendContext, node: string, n: WireNames): Promise<void> {
  const exec = ctx.exec;
  // steering off first: no packet is routed into a TUN that is about to go
  await unsteer(ctx, node, n);
  await deleteRules(exec, node, n);
  await exec.exec(node, ["ip", "route", "flush", "table", String(n.mark)], { allowFailure: true });
  const state = readState(n.stateFile);
  await stopWire(ctx, node, n, state);
  await withNodeLock(ctx, node, async () => {
    // a node sysctl another wire of the node still needs stays; that wire restores it when it goes
    const others = otherWires(ctx.dir!, node, n);
    const restore: Record<string, string> = {};
    // read again under the lock: a wire cleared meanwhile may have handed its saved values to this one
    for (const [k, v] of Object.entries((readState(n.stateFile) ?? state)?.saved ?? {})) {
      const heir = others.find((o) => k in nodeSysctls(o.names));
      if (!heir) restore[k] = v;
      else {
        heir.state.saved[k] ??= v;
        writeState(heir.names.stateFile, heir.state);
      }
    }
    await set(exec, node, restore);
    // the `local` rule goes back in front once no ingress wire of the node needs it behind
    const rs = await rules(exec, node);
    const ingressLeft = rs.some((r) => isWireTable(Number(r.table)) && Number(r.table) % 2 === 1);
    if (!ingressLeft && rs.some((r) => r.priority === LOCAL_PREF && r.table === "local")) await placeLocal(exec, node, true);
    for (const f of [n.stateFile, n.socket]) fs.rmSync(f, { force: true });
  });
}

/** Whether the wire's program answers on its socket. */
async function running(n: WireNames): Promise<boolean> {
  return wireRequest(n.socket, { op: "stats" }, 1000).then(
    (r) => r.ok,
    () => false,
  );
}

/** The program started and the routes in place, no steering yet; what fails on the way is removed again. */
async function startAndSteer(ctx: BackendContext, node: string, n: WireNames): Promise<void> {
  await checkCollision(ctx, node, n);
  try {
    await clearWire(ctx, node, n); // whatever a crashed wire left
    await startWire(ctx, node, n);
    await steer(ctx, node, n);
  } catch (e) {
    await clearWire(ctx, node, n).catch(() => undefined);
    throw e;
  }
}

function names(ctx: BackendContext, node: string, dev: string, direction: Direction | undefined): WireNames {
  if (!ctx.dir) throw new Error("the wire needs the lab's run directory (its control socket and state live there)");
  return wireNames(ctx.dir, node, dev, direction);
}

export const wireBackend: ImpairBackendImpl = {
  name: "wire",
  unsupported(fault) {
    // everything else: the wire serves the whole model
    const imp = fault.impairment;
    return imp.reorder !== undefined && !(imp.delayMs && imp.delayMs > 0)
      ? [new ImpairmentUnsupported("reorder", "wire", "reorder sends packets ahead of delayed ones: it needs delayMs > 0")]
      : [];
  },
  async available(ctx, node) {
    if (!ctx.runtime || !ctx.dir) return { available: false, reason: "the wire runs a program on the node: it needs the lab's runtime and run directory, not a bare NodeExec" };
    const r = await ctx.exec.exec(node, ["test", "-c", "/dev/net/tun"], { allowFailure: true });
    if (r.code !== 0) return { available: false, reason: "no /dev/net/tun on the node (modprobe tun)" };
    return { available: true };
  },
  async apply(ctx, node, dev, fault) {
    const n = names(ctx, node, dev, fault.direction);
    // a seed always: an unseeded run is replayable from the seed the record shows
    const seed = fault.seed ?? randomInt(0, 0x100000000);
    if (!(await running(n))) await startAndSteer(ctx, node, n);
    try {
      // the engine applies the match itself: packets the old steering still sends pass uncounted
      const r = await wireRequest(n.socket, { op: "set", fault, seed });
      if (!r.ok) throw new Error(`${node}: the wire for ${dev} refused its configuration: ${r.error}`);
      await ctx.exec.exec(node, ["nft", "-f", "-"], { input: nftReplaceScript(n.table, steeringRuleset(n, fault)) });
    } catch (e) {
      // never half a wire: a program without steering, or steering into a TUN nobody reads
      await clearWire(ctx, node, n).catch(() => undefined);
      throw e;
    }
    const sel = describeSelection({ ...fault, seed: undefined });
    return { detail: wireDetail(n, fault, seed, describeImpairment(fault.impairment) + (sel ? ` [${sel}]` : "")), seed };
  },
  async prepare(ctx, node, dev, direction) {
    const n = names(ctx, node, dev, direction);
    if (!(await running(n))) await startAndSteer(ctx, node, n);
  },
  async harvest(ctx, node, dev, fault) {
    if (!ctx.dir) return undefined;
    const s = await wireStats(ctx.dir, node, dev, fault.direction);
    return s ? { packets: s.dropped, bytes: s.droppedBytes } : undefined;
  },
  async clear(ctx, node, dev, direction, opts = {}) {
    // without a run directory no wire can have been started (apply needs one)
    if (!ctx.dir) return;
    const n = names(ctx, node, dev, direction);
    // cheap when there is none: no state file, no socket, no table (one command)
    if (!fs.existsSync(n.stateFile) && !fs.existsSync(n.socket)) {
      const t = await ctx.exec.exec(node, ["nft", "list", "table", "inet", n.table], { allowFailure: true });
      if (t.code !== 0) return;
    }
    if (opts.keep && (await running(n))) {
      // the fault ends: no steering, and the engine passes everything on — what it holds still goes when due
      await unsteer(ctx, node, n);
      const r = await wireRequest(n.socket, { op: "set", fault: { impairment: {} }, seed: 0 });
      if (r.ok) return;
    }
    await clearWire(ctx, node, n);
  },
};
