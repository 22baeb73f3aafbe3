// The sweeper (Mininet's clean.py): removes what a killed run left behind.
// A lab belongs to a live owner while the owner's PID still has the start
// time recorded at creation; anything else is debris. Each runtime lists and
// removes its own objects (namespaces; containers by their labels), on every
// Docker engine the host is configured with and every engine a record names.
import { configPath, loadConfig } from "./config";
import { allRuntimeModules, runtimeModule } from "./runtime";
import { chooseEngines, parseEngine } from "./runtime/docker/engines";
import type { RuntimeKind, RuntimeModule } from "./runtime/runtime";
import { listLabIds, ownerAlive, readState, removeState, type LabState } from "./runtime/state";

export interface LabInfo {
  labId: string;
  state?: LabState;
  alive: boolean;
  /** The lab's objects as its runtimes list them ("namespace vl-...", "container vl-..."). */
  objects: string[];
  /** The runtimes that hold something of the lab (its record's, and any that listed objects). */
  runtimes: RuntimeKind[];
  /** The Docker engines holding objects of the lab that other engines do not list (its containers), and its record's. */
  engines: string[];
}

export interface GcOptions {
  /** Docker engine URLs to look through; default hostEngines(). Engines named by labs' records are added. */
  engines?: readonly string[];
}

/** The engines this host is configured with: the config file's engines: (--config, else VPNLAB_CONFIG), else VPNLAB_ENGINES, else DOCKER_HOST, else the local socket. */
export function hostEngines(config?: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const file = configPath(config, env);
  return chooseEngines(undefined, file ? loadConfig(file).engines : undefined, env).map((e) => e.url);
}

/** An engine URL as results and --engine name it (a record written from DOCKER_HOST may be spelled otherwise). */
function normalEngine(url: string): string {
  try {
    return parseEngine(url).url;
  } catch {
    return url;
  }
}

/**
 * Which engines hold which lab's objects, from each engine's listing: an object every engine lists is the host's
 * (a namespace), one only some list lives on those (a container). Pure.
 */
export function engineObjects(listings: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>): Map<string, { objects: string[]; engines: string[] }> {
  const out = new Map<string, { objects: string[]; engines: string[] }>();
  const all = [...listings.keys()];
  for (const [engine, byLab] of listings) {
    for (const [id, objects] of byLab) {
      let e = out.get(id);
      if (!e) out.set(id, (e = { objects: [], engines: [] }));
      for (const o of objects) {
        if (!e.objects.includes(o)) e.objects.push(o);
        const everywhere = all.every((x) => listings.get(x)?.get(id)?.includes(o));
        if (!everywhere && !e.engines.includes(engine)) e.engines.push(engine);
      }
    }
  }
  return out;
}

/** Every lab this machine knows of: from state records and from every runtime's objects named or labelled like a lab's. */
export async function listLabs(opts: GcOptions = {}): Promise<LabInfo[]> {
  const byId = new Map<string, LabInfo>();
  const info = (id: string): LabInfo => {
    let i = byId.get(id);
    if (!i) byId.set(id, (i = { labId: id, alive: false, objects: [], runtimes: [], engines: [] }));
    return i;
  };
  const engines = (opts.engines ?? hostEngines()).map(normalEngine);
  for (const id of listLabIds()) {
    const state = readState(id);
    const i = info(id);
    i.state = state;
    i.alive = state ? ownerAlive(state) : false;
    if (state) i.runtimes.push(state.runtime);
    // a record's engine is searched even when the host's configuration no longer lists it
    if (state?.engine) {
      const e = normalEngine(state.engine);
      i.engines.push(e);
      if (!engines.includes(e)) engines.push(e);
    }
  }
  for (const mod of await allRuntimeModules()) {
    const listings = new Map(await Promise.all(engines.map(async (e) => [e, await listOf(mod, e)] as const)));
    for (const [id, found] of engineObjects(listings)) {
      const i = info(id);
      for (const o of found.objects) if (!i.objects.includes(o)) i.objects.push(o);
      for (const e of found.engines) if (!i.engines.includes(e)) i.engines.push(e);
      if (!i.runtimes.includes(mod.kind)) i.runtimes.push(mod.kind);
    }
  }
  // nothing tells which engine holds a lab (no record, no container): the first configured is the default
  for (const i of byId.values()) if (i.engines.length === 0 && engines.length > 0) i.engines.push(engines[0]);
  return [...byId.values()].sort((a, b) => (a.state?.created ?? "").localeCompare(b.state?.created ?? ""));
}

/** A runtime whose engine is absent holds no objects there (its labs' records still show). */
async function listOf(mod: RuntimeModule, engine: string): Promise<Map<string, string[]>> {
  try {
    return await mod.listObjects({ engine });
  } catch {
    return new Map();
  }
}

/** Remove one lab's objects, through each runtime that holds some (on each engine that holds some), and then its record. */
export async function removeLab(info: LabInfo): Promise<{ removed: string[]; left: string[] }> {
  const removed: string[] = [];
  const left: string[] = [];
  for (const kind of info.runtimes) {
    const mod = await runtimeModule(kind);
    for (const engine of info.engines.length ? info.engines : [undefined]) {
      try {
        const r = await mod.removeLab(info.labId, info.state, engine ? { engine } : {});
        removed.push(...r.removed.filter((o) => !removed.includes(o)));
        left.push(...r.left);
      } catch (e) {
        left.push(`${kind} objects of lab ${info.labId}${engine ? ` on ${engine}` : ""} (${(e as Error).message.split("\n")[0]})`);
      }
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
    const r = await removeLab(info);
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
