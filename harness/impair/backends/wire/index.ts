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

/** TUN devices up, sysctls, the routing table and fwmark rule; an ingress wire moves the `local` rule behind it. */
async function steer(ctx: BackendContext, node: string, n: WireNames): Promise<void> {
  const exec = ctx.exec;
  for (const t of [n.tunA, n.tunB]) await exec.exec(node, ["ip", "link", "set", "dev", t, "up"]);
  await set(exec, node, tunSysctls(n));
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
    const rs = await rules(exec, node);
    if (rs.some((r) => r.priority === 0 && r.table === "local")) {
      if (!rs.some((r) => r.priority === LOCAL_PREF && r.table === "local")) await exec.exec(node, ["ip", "rule", "add", "pref", String(LOCAL_PREF), "lookup", "local"]);
      await exec.exec(node, ["ip", "rule", "del", "pref", "0", "lookup", "local"]);
      state.movedLocal = true;
      writeState(n.stateFile, state);
    }
  }
}

async function deleteRules(exec: NodeExec, node: string, n: WireNames): Promise<void> {
  for (const r of await rules(exec, node)) {
    if (Number(r.table) !== n.mark || r.priority === undefined) continue;
    await exec.exec(node, ["ip", "rule", "del", "pref", String(r.priority), "lookup", String(n.mark)], { allowFailure: true });
  }
}

/** Stop the wire program: by its socket, else by the PID the state file recorded (only while it is still that process). */
async function stopWire(ctx: BackendContext, node: string, n: WireNames, state: WireState | undefined): Promise<void> {
  let asked = false;
  try {
    asked = (await wireRequest(n.socket, { op: "stop" }, 1500)).ok;
  } catch {
    /* not answering: gone, or hung */
  }
  const alive = async (): Promise<boolean> => (await ctx.exec.exec(node, ["ip", "link", "show", "dev", n.tunA], { allowFailure: true })).code === 0;
  // asked, it first delivers what it holds (up to 3 s, main.ts DRAIN_MAX_MS); not answering: SIGTERM at 1 s
  for (let i = 0; i < 100 && (await alive()); i++) {
    if (i === 20 && !asked && state?.hostPid !== undefined && processStart(state.hostPid) === state.hostStart) process.kill(state.hostPid, "SIGTERM");
    if (i === 80 && state?.hostPid !== undefined && processStart(state.hostPid) === state.hostStart) process.kill(state.hostPid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 50));
  }
  if (await alive()) throw new Error(`${node}: the wire for ${n.dev} (${n.direction}) did not stop (${n.tunA} still exists)`);
}

async function clearWire(ctx: BackendContext, node: string, n: WireNames): Promise<void> {
  const exec = ctx.exec;
  // steering off first: no packet is routed into a TUN that is about to go
  await exec.exec(node, ["nft", "-f", "-"], { input: nftDeleteTable(n.table) });
  await deleteRules(exec, node, n);
  await exec.exec(node, ["ip", "route", "flush", "table", String(n.mark)], { allowFailure: true });
  const state = readState(n.stateFile);
  await stopWire(ctx, node, n, state);
  if (state && Object.keys(state.saved).length) await set(exec, node, state.saved);
  // the `local` rule goes back in front once no ingress wire of the node needs it behind
  const rs = await rules(exec, node);
  const ingressLeft = rs.some((r) => isWireTable(Number(r.table)) && Number(r.table) % 2 === 1);
  if (!ingressLeft && rs.some((r) => r.priority === LOCAL_PREF && r.table === "local")) {
    if (!rs.some((r) => r.priority === 0 && r.table === "local")) await exec.exec(node, ["ip", "rule", "add", "pref", "0", "lookup", "local"]);
    await exec.exec(node, ["ip", "rule", "del", "pref", String(LOCAL_PREF), "lookup", "local"], { allowFailure: true });
  }
  for (const f of [n.stateFile, n.socket]) fs.rmSync(f, { force: true });
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
    const running = await wireRequest(n.socket, { op: "stats" }, 1000).then(
      (r) => r.ok,
      () => false,
    );
    try {
      if (!running) {
        await clearWire(ctx, node, n); // whatever a crashed wire left
        await startWire(ctx, node, n);
        await steer(ctx, node, n);
      }
      const r = await wireRequest(n.socket, { op: "set", fault, seed });
      if (!r.ok) throw new Error(`${node}: the wire for ${dev} refused its configuration: ${r.error}`);
      await ctx.exec.exec(node, ["nft", "-f", "-"], { input: nftReplaceScript(n.table, steeringRuleset(n, fault)) });
    } catch (e) {
      // never half a wire: a program without steering, or steering into a TUN nobody reads
      await clearWire(ctx, node, n).catch(() => undefined);
      throw e;
    }
    const sel = describeSelection({ ...fault, seed: undefined });
    return { detail: wireDetail(n, fault, seed, describeImpairment(fault.impairment) + (sel ? ` [${sel}]` : "")) };
  },
  async harvest(ctx, node, dev, fault) {
    if (!ctx.dir) return undefined;
    const s = await wireStats(ctx.dir, node, dev, fault.direction);
    return s ? { packets: s.dropped, bytes: s.droppedBytes } : undefined;
  },
  async clear(ctx, node, dev, direction) {
    // without a run directory no wire can have been started (apply needs one)
    if (!ctx.dir) return;
    const n = names(ctx, node, dev, direction);
    // cheap when there is none: no state file, no socket, no table (one command)
    if (!fs.existsSync(n.stateFile) && !fs.existsSync(n.socket)) {
      const t = await ctx.exec.exec(node, ["nft", "list", "table", "inet", n.table], { allowFailure: true });
      if (t.code !== 0) return;
    }
    await clearWire(ctx, node, n);
  },
};
