// The sweeper (Mininet's clean.py): removes what a killed run left behind.
// A lab belongs to a live owner while the owner's PID still has the start
// time recorded at creation; anything else is debris.
import { listNamespaces, removeNamespaces } from "./runtime/netns/netns";
import { LAB_ID_RE, NS_PREFIX, listLabIds, ownerAlive, readState, removeState, type LabState } from "./runtime/state";

export interface LabInfo {
  labId: string;
  state?: LabState;
  alive: boolean;
  namespaces: string[];
}

function labIdOfNamespace(ns: string): string | undefined {
  if (!ns.startsWith(NS_PREFIX)) return undefined;
  const id = ns.slice(NS_PREFIX.length, NS_PREFIX.length + 5);
  return LAB_ID_RE.test(id) && ns[NS_PREFIX.length + 5] === "-" ? id : undefined;
}

/** Every lab this machine knows of: from state records and from namespaces named like a lab's. */
export async function listLabs(): Promise<LabInfo[]> {
  const byId = new Map<string, LabInfo>();
  for (const id of listLabIds()) {
    const state = readState(id);
    byId.set(id, { labId: id, state, alive: state ? ownerAlive(state) : false, namespaces: [] });
  }
  for (const ns of await listNamespaces()) {
    const id = labIdOfNamespace(ns);
    if (!id) continue;
    if (!byId.has(id)) byId.set(id, { labId: id, alive: false, namespaces: [] });
    byId.get(id)!.namespaces.push(ns);
  }
  return [...byId.values()].sort((a, b) => (a.state?.created ?? "").localeCompare(b.state?.created ?? ""));
}

/** Remove one lab's namespaces (and with them its interfaces and processes) and its record. */
export async function removeLab(info: LabInfo): Promise<{ removed: string[]; left: string[] }> {
  // only names that carry the lab's prefix: a damaged record must not make gc touch anything else
  const prefix = `${NS_PREFIX}${info.labId}-`;
  const names = new Set([...info.namespaces, ...(info.state?.namespaces ?? [])].filter((n) => n.startsWith(prefix)));
  const r = await removeNamespaces([...names]);
  // keep the record while something is left, so the next gc tries again
  if (r.left.length === 0) removeState(info.labId);
  return r;
}

export interface GcReport {
  labs: string[];
  namespaces: string[];
  left: string[]; // namespaces that could not be removed (processes that would not die)
  skippedLive: string[];
}

export async function gc(): Promise<GcReport> {
  const report: GcReport = { labs: [], namespaces: [], left: [], skippedLive: [] };
  for (const info of await listLabs()) {
    if (info.alive) {
      report.skippedLive.push(info.labId);
      continue;
    }
    const r = await removeLab(info);
    report.namespaces.push(...r.removed);
    report.left.push(...r.left);
    report.labs.push(info.labId);
  }
  return report;
}
