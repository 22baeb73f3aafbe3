// The overload sentinel, from the harness's side: one process per vpnlab
// process (shared by the labs it runs side by side), started with the first
// scenario and stopped after the last. A scenario opens a window when its
// probe starts and closes it after recovery; the host was overloaded when the
// sentinel stalled in that window, or when the kernel's CPU pressure says
// tasks waited for a CPU most of it. Nothing under test runs in the sentinel,
// so a VPN endpoint that freezes (its own loop held, SIGSTOP) can never make
// the host look overloaded — its stall is evidence about the endpoint.
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { pressureShare, readCpuPressure, type CpuPressure } from "./pressure";
import { stallsIn, type Stall } from "./stalls";

export type { Stall } from "./stalls";

/** What the host did to the lab during one window, judged apart from the lab. */
export interface HostLoad {
  /** The sentinel's longest stall overlapping the window (ms; 0 when it ran on time throughout). */
  sentinelStallMs: number;
  /** When that stall began (ms since the epoch). */
  sentinelStallAt?: number;
  sentinelPid?: number;
  /** The sentinel ended during the window (killed from outside): the host could not be judged. */
  sentinelExited?: string;
  /** The share of the window (0..1) during which some task waited for a CPU (PSI cpu some); absent without PSI. */
  cpuSomeShare?: number;
  /** PSI cpu some avg10 at the window's end (%). */
  cpuSomeAvg10?: number;
}

export interface SentinelWindow {
  from: number; // ms since the epoch
  pressure?: CpuPressure;
}

const READY_MS = 10_000;
/** Stalls kept (the oldest go first): a long-lived vpnlab process on a pathological host stays bounded. */
const MAX_STALLS = 20_000;
/** How long a window's close waits for a heartbeat proving the sentinel ran past the window's end. */
const BEAT_WAIT_MS = 2_000;

class SentinelProcess {
  readonly stalls: Stall[] = [];
  lastBeat = 0;
  exited?: string;
  /** The scenarios holding this process. */
  users = 0;
  private readonly waiters = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    let buf = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.onLine(line);
      }
    });
    child.on("exit", (code, signal) => {
      this.exited = `exited (${signal ?? `code ${code}`})`;
      this.wake();
    });
    child.stdin!.on("error", () => undefined);
  }

  private onLine(line: string): void {
    let m: { stall?: Stall; hb?: number };
    try {
      m = JSON.parse(line) as typeof m;
    } catch {
      return;
    }
    if (m.stall) {
      this.stalls.push(m.stall);
      if (this.stalls.length > MAX_STALLS) this.stalls.splice(0, this.stalls.length - MAX_STALLS);
    }
    if (typeof m.hb === "number") this.lastBeat = m.hb;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters) w();
  }

  /** Resolves once a heartbeat at or after `t` arrived (true), or after `ms` / the sentinel's exit (false). */
  beatAfter(t: number, ms: number): Promise<boolean> {
    if (this.lastBeat >= t) return Promise.resolve(true);
    if (this.exited) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(ok);
      };
      const check = () => {
        if (this.lastBeat >= t) done(true);
        else if (this.exited) done(false);
      };
      const timer = setTimeout(() => done(false), ms);
      this.waiters.add(check);
    });
  }
}

let shared: SentinelProcess | undefined;
let starting: Promise<SentinelProcess> | undefined;

async function startProcess(): Promise<SentinelProcess> {
  const child = spawn(process.execPath, [path.join(__dirname, "main.js")], { stdio: ["pipe", "pipe", "ignore"] });
  const p = new SentinelProcess(child);
  // it must not keep a finished vpnlab (or mocha) alive; its stdin closing with us ends it
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  const ok = await p.beatAfter(0, READY_MS);
  if (!ok) {
    child.kill("SIGKILL");
    throw new Error(`the overload sentinel did not start within ${READY_MS} ms${p.exited ? ` (${p.exited})` : ""}`);
  }
  return p;
}

/** A scenario's hold on the shared sentinel. */
export class Sentinel {
  private released = false;
  private constructor(private readonly p: SentinelProcess) {}

  /** Start the sentinel if no scenario of this process runs one yet. */
  static async acquire(): Promise<Sentinel> {
    if (!shared || shared.exited) {
      starting ??= startProcess().finally(() => (starting = undefined));
      shared = await starting;
    }
    shared.users++;
    return new Sentinel(shared);
  }

  get pid(): number | undefined {
    return this.p.child.pid;
  }

  open(): SentinelWindow {
    const pressure = readCpuPressure();
    return { from: Date.now(), ...(pressure ? { pressure } : {}) };
  }

  /**
   * The host's load over the window, ending now. Waits for a heartbeat from after now, so that a
   * sentinel stopped or starved at this very moment counts its stall; one that never beats again is
   * reported as stalled since its last beat.
   */
  async close(w: SentinelWindow): Promise<HostLoad> {
    const to = Date.now();
    const endPressure = readCpuPressure();
    const ran = await this.p.beatAfter(to, BEAT_WAIT_MS);
    const stalls = stallsIn(this.p.stalls, w.from, to);
    if (!ran && !this.p.exited) stalls.unshift({ at: this.p.lastBeat, ms: Date.now() - this.p.lastBeat });
    const worst = stalls.sort((a, b) => b.ms - a.ms)[0];
    return {
      sentinelStallMs: worst?.ms ?? 0,
      ...(worst ? { sentinelStallAt: worst.at } : {}),
      ...(this.pid !== undefined ? { sentinelPid: this.pid } : {}),
      ...(this.p.exited && this.p.lastBeat < to ? { sentinelExited: this.p.exited } : {}),
      ...(w.pressure && endPressure ? { cpuSomeShare: pressureShare(w.pressure, endPressure), cpuSomeAvg10: endPressure.someAvg10 } : {}),
    };
  }

  /** Let go; the last holder stops the process and waits for its exit. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (--this.p.users > 0) return;
    if (shared === this.p) shared = undefined;
    const child = this.p.child;
    if (this.p.exited) return;
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.stdin!.end();
    const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
    await gone;
    clearTimeout(timer);
  }
}
