// Every lab leaves a record under /run/vpnlab/<labId>/ so that `vpnlab ls`,
// `vpnlab down` and `vpnlab gc` can find it even after the owner was killed.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ImpairBackend } from "../impair/backends/types";
import type { Direction, Fault } from "../impair/fault";
import type { RuntimeKind } from "../topology/model";

export const STATE_ROOT = process.env.VPNLAB_STATE_DIR ?? "/run/vpnlab";
/** Every namespace a lab creates is named `vl-<labId>-...`; gc relies on this. */
export const NS_PREFIX = "vl-";
export const LAB_ID_RE = /^[0-9a-f]{5}$/;

export interface LabState {
  labId: string;
  runtime: RuntimeKind; // which runtime's module removes it (gc, down)
  engine?: string; // the Docker engine URL the lab lives on (docker runtime)
  topology: string; // topology name
  variant: string;
  file: string;
  ownerPid: number; // the vpnlab process that owns the lab
  holder: "up" | "run"; // `vpnlab up` holds one lab; a run (or a test) may hold several
  ownerStart: string; // /proc/<pid>/stat start time, so a recycled PID is not mistaken for the owner
  created: string; // ISO time
  namespaces: string[];
  pids: number[]; // processes the lab started (agents, proxies, daemons)
  /** Whose namespace each link under /run/netns names (docker runtime), so a link left by a dead container is never used. */
  links?: Record<string, LinkOwner>;
  /** Faults `vpnlab impair` put in place on this lab (held by `vpnlab up`), one per (node, dev, direction): what `ls` shows and `heal` clears. */
  faults?: HeldFault[];
}

/** One fault in place on a held lab, as `vpnlab impair` applied it (possibly from another process than the lab's owner). */
export interface HeldFault {
  /** As the user wrote it: NODE.NET or NODE (a NODE target has one entry per interface). */
  target: string;
  node: string;
  dev: string;
  direction: Direction;
  fault: Fault;
  backend: ImpairBackend;
  at: string; // ISO time of the apply
}

/** The process a namespace link points at (/proc/<pid>/ns/net), as it was when the link was made. */
export interface LinkOwner {
  pid: number;
  start: string; // its start time (processStart), so a recycled PID is told apart
  container?: string; // the container id its cgroup names (docker)
}

export function newLabId(): string {
  for (;;) {
    const id = randomBytes(3).toString("hex").slice(0, 5);
    if (!fs.existsSync(path.join(STATE_ROOT, id))) return id;
  }
}

export function labDir(labId: string): string {
  if (!LAB_ID_RE.test(labId)) throw new Error(`bad lab id ${JSON.stringify(labId)}`);
  return path.join(STATE_ROOT, labId);
}

/** Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), or undefined when it is gone (or a zombie). */
export function processStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // the command name (field 2) may contain spaces and parentheses: split after the last ')'
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // a zombie has exited: only its parent's wait() is missing, it holds nothing of the lab
    if (rest[0] === "Z" || rest[0] === "X") return undefined;
    return rest[19];
  } catch {
    return undefined;
  }
}

export function writeState(state: LabState): void {
  const dir = labDir(state.labId);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, "state.json.tmp");
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2));
  fs.renameSync(tmp, path.join(dir, "state.json"));
}

export function readState(labId: string): LabState | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(labDir(labId), "state.json"), "utf8")) as LabState;
  } catch {
    return undefined;
  }
}

export function listLabIds(): string[] {
  try {
    return fs.readdirSync(STATE_ROOT).filter((d) => LAB_ID_RE.test(d));
  } catch {
    return [];
  }
}

/** True while the process that created the lab is still the same process. */
export function ownerAlive(state: LabState): boolean {
  return processStart(state.ownerPid) === state.ownerStart;
}

export function removeState(labId: string): void {
  fs.rmSync(labDir(labId), { recursive: true, force: true });
}
