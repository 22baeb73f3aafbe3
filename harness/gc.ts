// The sweeper (Mininet's clean.py): removes what a killed run left behind.
// A lab belongs to a live owner while the owner's PID still has the start
// time recorded at creation; anything else is debris. Each runtime lists and
// removes its own objects (namespaces; containers by their labels), at every
// location the host configures for it (docker: every engine) and every one a
// lab's record names.
import { configPath, loadConfig, type HostConfig } from "./config";
import { allRuntimeModules, runtimeModule } from "./runtime";
import type { Location, RuntimeKind, RuntimeModule } from "./runtime/runtime";
import { listLabIds, ownerAlive, readState, removeState, type LabState } from "./runtime/state";

export interface LabInfo {
  labId: string;
  state?: LabState;
  alive: boolean;
  /** The lab's objects as its runtimes list them ("namespace vl-...", "container vl-..."). */
  objects: string[];
  /** The runtimes that hold something of the lab (its record's, and any that listed objects). */
  runtimes: RuntimeKind[];
  /** Where the lab is, by name (docker: the engines holding its containers, and its record's); empty for this host. */
  locations: string[];
  /** Per runtime, the locations its objects are removed from. */
  places: Partial<Record<RuntimeKind, Location[]>>;
}

export interface GcOptions {
  /** The host's settings: each runtime's locations(config) are looked through (default hostConfig()); those labs' records name are added. */
  config?: HostConfig;
}

/** The host's settings: the config file (--config, else VPNLAB_CONFIG), or none. */
export function hostConfig(config?: string, env: NodeJS.ProcessEnv = process.env): HostConfig | undefined {
  const file = configPath(config, env);
  return file ? loadConfig(file) : undefined;
}

/** A record's location as its runtime names it (normalised), when the record names one and the runtime has such. */
function recordLocation(mod: RuntimeModule, state: LabState | undefined): Location | undefined {
  if (!state?.engine || state.runtime !== mod.kind) return undefined;
  try {
    return mod.locations(undefined, [state.engine])[0];
  } catch {
    return { name: state.engine, options: { engine: state.engine } };
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

/** Every lab this machine knows of: from state records and from every runtime's objects, at each of its locations, named or labelled like a lab's. */
export async function listLabs(opts: GcOptions = {}): Promise<LabInfo[]> {
  const byId = new Map<string, LabInfo>();
  const info = (id: string): LabInfo => {
    let i = byId.get(id);
    if (!i) byId.set(id, (i = { labId: id, alive: false, objects: [], runtimes: [], locations: [], places: {} }));
    return i;
  };
  const config = "config" in opts ? opts.config : hostConfig();
  const place = (i: LabInfo, kind: RuntimeKind, p: Location) => {
    const list = (i.places[kind] ??= []);
    if (!list.some((x) => x.name === p.name)) list.push(p);
    if (p.name !== "" && !i.locations.includes(p.name)) i.locations.push(p.name);
  };
  for (const id of listLabIds()) {
    const state = readState(id);
    const i = info(id);
    i.state = state;
    i.alive = state ? ownerAlive(state) : false;
    if (state) i.runtimes.push(state.runtime);
  }
  for (const mod of await allRuntimeModules()) {
    const places = mod.locations(config);
    // a record's location is searched even when the host's configuration no longer lists it
    for (const i of byId.values()) {
      const p = recordLocation(mod, i.state);
      if (!p) continue;
      place(i, mod.kind, p);
      if (!places.some((x) => x.name === p.name)) places.push(p);
    }
    const listings = new Map(await Promise.all(places.filter((p) => !p.remote).map(async (p) => [p.name, await listOf(mod, p)] as const)));
    for (const [id, found] of engineObjects(listings)) {
      const i = info(id);
      for (const o of found.objects) if (!i.objects.includes(o)) i.objects.push(o);
      for (const name of found.engines) place(i, mod.kind, places.find((p) => p.name === name)!);
      if (!i.runtimes.includes(mod.kind)) i.runtimes.push(mod.kind);
    }
    // nothing tells where a lab of this runtime is (no record, no object only one location lists): its first location
    const here = places.find((p) => !p.remote);
    for (const i of byId.values()) if (here && i.runtimes.includes(mod.kind) && !i.places[mod.kind]?.length) place(i, mod.kind, here);
  }
  return [...byId.values()].sort((a, b) => (a.state?.created ?? "").localeCompare(b.state?.created ?? ""));
}

/** A runtime whose engine is absent holds no objects there (its labs' records still show). */
async function listOf(mod: RuntimeModule, where: Location): Promise<Map<string, string[]>> {
  try {
    return await mod.listObjects(where.options);
  } catch {
    return new Map();
  }
}

/** Remove one lab's objects, through each runtime that holds some (at each of its locations that holds some), and then its record. */
export async function removeLab(info: LabInfo): Promise<{ removed: string[]; left: string[] }> {
  const removed: string[] = [];
  const left: string[] = [];
  for (const kind of info.runtimes) {
    const mod = await runtimeModule(kind);
    const places = info.places[kind]?.length ? info.places[kind]! : [{ name: "", options: {} }];
    for (const where of places) {
      if (where.remote) continue; // another host's: see remoteLocations
      try {
        const r = await mod.removeLab(info.labId, info.state, where.options);
        removed.push(...r.removed.filter((o) => !removed.includes(o)));
        left.push(...r.left);
      } catch (e) {
        left.push(`${kind} objects of lab ${info.labId}${where.name ? ` on ${where.name}` : ""} (${(e as Error).message.split("\n")[0]})`);
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
  /** Locations left alone because they are another host's (tcp:// or ssh:// engines), with why, each once. */
  skippedRemote: string[];
}

/** The configured locations that are another host's, as "NAME: why" (ls, down and gc neither list nor remove anything there). */
export async function remoteLocations(config: HostConfig | undefined): Promise<string[]> {
  const out: string[] = [];
  for (const mod of await allRuntimeModules()) for (const p of mod.locations(config)) if (p.remote && !out.includes(`${p.name}: ${p.remote}`)) out.push(`${p.name}: ${p.remote}`);
  return out;
}

export async function gc(opts: GcOptions = {}): Promise<GcReport> {
  const config = "config" in opts ? opts.config : hostConfig();
  const report: GcReport = { labs: [], removed: [], left: [], skippedLive: [], skippedRemote: await remoteLocations(config) };
  for (const info of await listLabs({ config })) {
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
