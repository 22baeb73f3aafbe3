// The sweeper (Mininet's clean.py): removes what a killed run left behind.
// A lab belongs to a live owner while the owner's PID still has the start
// time recorded at creation; anything else is debris. Each runtime lists and
// removes its own objects (namespaces; containers by their labels).
import { allRuntimeModules, runtimeModule } from "./runtime";
import type { RuntimeKind, RuntimeModule, RuntimeOptions } from "./runtime/runtime";
import { listLabIds, ownerAlive, readState, removeState, type LabState } from "./runtime/state";

export interface LabInfo {
  labId: string;
  state?: LabState;
  alive: boolean;
  /** The lab's objects as its runtimes list them ("namespace vl-...", "container vl-..."). */
  objects: string[];
  /** The runtimes that hold something of the lab (its record's, and any that listed objects). */
  runtimes: RuntimeKind[];
}

/** Options of the runtimes to look through (e.g. the Docker engine). */
export type GcOptions = RuntimeOptions;

/** Every lab this machine knows of: from state records and from every runtime's objects named or labelled like a lab's. */
export async function listLabs(opts: GcOptions = {}): Promise<LabInfo[]> {
  const byId = new Map<string, LabInfo>();
  const info = (id: string): LabInfo => {
    let i = byId.get(id);
    if (!i) byId.set(id, (i = { labId: id, alive: false, objects: [], runtimes: [] }));
    return i;
  };
  for (const id of listLabIds()) {
    const state = readState(id);
    const i = info(id);
    i.state = state;
    i.alive = state ? ownerAlive(state) : false;
    if (state) i.runtimes.push(state.runtime);
  }
  for (const mod of await allRuntimeModules()) {
    for (const [id, objects] of await listOf(mod, opts)) {
      const i = info(id);
      for (const o of objects) if (!i.objects.includes(o)) i.objects.push(o);
      if (!i.runtimes.includes(mod.kind)) i.runtimes.push(mod.kind);
    }
  }
  return [...byId.values()].sort((a, b) => (a.state?.created ?? "").localeCompare(b.state?.created ?? ""));
}

/** A runtime whose engine is absent holds no objects here (its labs' records still show). */
async function listOf(mod: RuntimeModule, opts: GcOptions): Promise<Map<string, string[]>> {
  try {
    return await mod.listObjects({ ...opts, ...engineOf(undefined, opts) });
  } catch {
    return new Map();
  }
}

function engineOf(state: LabState | undefined, opts: GcOptions): RuntimeOptions {
  const engine = opts.engine ?? state?.engine;
  return engine ? { engine } : {};
}

/** Remove one lab's objects, through each runtime that holds some, and then its record. */
export async function removeLab(info: LabInfo, opts: GcOptions = {}): Promise<{ removed: string[]; left: string[] }> {
  const removed: string[] = [];
  const left: string[] = [];
  for (const kind of info.runtimes) {
    try {
      const r = await (await runtimeModule(kind)).removeLab(info.labId, info.state, engineOf(info.state, opts));
      removed.push(...r.removed);
      left.push(...r.left);
    } catch (e) {
      left.push(`${kind} objects of lab ${info.labId} (${(e as Error).message.split("\n")[0]})`);
    }
  }
  // keep the record while something is left, so the next gc tries again
  if (left.length === 0) removeState(info.labId);
  return { removed, left };
}

export interface GcReport {
  labs: string[];
  /** What was removed, in words: "namespace vl-...", "container vl-...". */
  removed: string[];
  left: string[]; // objects that could not be removed (processes that would not die, an engine that refused)
  skippedLive: string[];
}

export async function gc(opts: GcOptions = {}): Promise<GcReport> {
  const report: GcReport = { labs: [], removed: [], left: [], skippedLive: [] };
  for (const info of await listLabs(opts)) {
    if (info.alive) {
      report.skippedLive.push(info.labId);
      continue;
    }
    const r = await removeLab(info, opts);
    report.removed.push(...r.removed);
    report.left.push(...r.left);
    report.labs.push(info.labId);
  }
  return report;
}

/** "5 namespace(s), 5 container(s)": what a list of removed objects holds, by kind (the first word). */
export function countByKind(objects: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const o of objects) {
    const kind = o.split(" ")[0];
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  if (!counts.has("namespace")) counts.set("namespace", 0);
  return [...counts].map(([k, n]) => `${n} ${k}(s)`).join(", ");
}
