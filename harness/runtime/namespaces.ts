// Named network namespaces (`ip netns`): listing, the processes inside, and
// removal. Both runtimes name their namespaces `vl-<labId>-...`; the netns
// runtime's nodes and every runtime's net bridges are namespaces of their own.
import * as fs from "node:fs";
import { run } from "../exec";
import { processStart, type LinkOwner } from "./state";

export const NETNS_DIR = "/run/netns";

/** Create a named namespace with its loopback up. */
export async function createNamespace(ns: string): Promise<void> {
  await run(["ip", "netns", "add", ns]);
  await run(["ip", "-n", ns, "link", "set", "dev", "lo", "up"]);
}

/** PIDs of every process living in a namespace (all of them are the lab's: nothing else runs there). */
export async function namespacePids(ns: string): Promise<number[]> {
  const r = await run(["ip", "netns", "pids", ns], { allowFailure: true });
  if (r.code !== 0) return [];
  return r.stdout.split(/\s+/).filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 1);
}

/** A process as seen once: a PID is signalled only while its start time is still this one (never a recycled PID). */
export interface SeenProcess {
  pid: number;
  start: string;
}

/** The processes of a namespace with their start times, as seen now. */
export async function namespaceProcesses(ns: string): Promise<SeenProcess[]> {
  return (await namespacePids(ns)).flatMap((pid) => {
    const start = processStart(pid);
    return start === undefined ? [] : [{ pid, start }];
  });
}

/** The ones of `seen` that are still the same processes. */
export function stillAlive(seen: readonly SeenProcess[]): SeenProcess[] {
  return seen.filter((p) => processStart(p.pid) === p.start);
}

/** True when the path is (a link to, or a mount of) the host's network namespace: PID 1's or this process's. */
export function isHostNamespace(nsPath: string): boolean {
  let st: fs.Stats;
  try {
    st = fs.statSync(nsPath);
  } catch {
    return false;
  }
  return ["/proc/1/ns/net", "/proc/self/ns/net"].some((h) => {
    try {
      const hs = fs.statSync(h);
      return hs.ino === st.ino && hs.dev === st.dev;
    } catch {
      return false;
    }
  });
}

/**
 * Why the link `ns` under /run/netns may not be used, or undefined when it still names
 * the namespace of the process recorded when it was made. A container that died (its
 * engine stopped) leaves its link pointing at /proc/<pid>/ns/net of whatever process
 * gets that PID next — often one in the host's namespace, whose processes a teardown
 * would then take for the lab's.
 */
export function staleLink(ns: string, owner: LinkOwner | undefined): string | undefined {
  const link = `${NETNS_DIR}/${ns}`;
  let target: string;
  try {
    target = fs.readlinkSync(link);
  } catch {
    return `${link} is not a link`;
  }
  if (!owner) return `${link}: no record of the process it was made for`;
  if (target !== `/proc/${owner.pid}/ns/net`) return `${link} points at ${target}, not at pid ${owner.pid}`;
  if (processStart(owner.pid) !== owner.start) return `${link}: pid ${owner.pid} is no longer the process it was made for`;
  if (owner.container !== undefined && !cgroupNames(owner.pid, owner.container)) return `${link}: pid ${owner.pid} is not in container ${owner.container.slice(0, 12)}`;
  if (isHostNamespace(link)) return `${link} names the host's network namespace`;
  return undefined;
}

/** True when the process's cgroup path names the container id (with either cgroup driver). */
export function cgroupNames(pid: number, containerId: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").includes(containerId);
  } catch {
    return false;
  }
}

/**
 * Kill what still runs inside the namespaces, by PID, then delete them. Idempotent.
 * A namespace whose processes would not die is left in place (named, so gc can retry),
 * never unmounted under them: that would hide a live namespace nobody could find again.
 */
export async function removeNamespaces(namespaces: readonly string[]): Promise<{ removed: string[]; left: string[] }> {
  const existing = new Set(await listNamespaces());
  const present = namespaces.filter((ns) => existing.has(ns));
  const removed: string[] = [];
  const left: string[] = [];
  const seen = new Map<string, SeenProcess[]>();
  for (const ns of present) {
    // a name mounted on the host's namespace holds none of the lab's processes: only the name goes
    const procs = isHostNamespace(`${NETNS_DIR}/${ns}`) ? [] : await namespaceProcesses(ns);
    seen.set(ns, procs);
    for (const p of procs) killPid(p.pid, "SIGTERM", p.start);
  }
  for (const ns of present) {
    const procs = seen.get(ns) ?? [];
    const alive = await untilGone(async () => stillAlive(procs));
    if (alive.length > 0) {
      left.push(ns);
      continue;
    }
    const r = await run(["ip", "netns", "del", ns], { allowFailure: true });
    (r.code === 0 ? removed : left).push(ns);
  }
  return { removed, left };
}

/**
 * Poll `alive` (the PIDs still there) until it is empty: SIGKILL for what is left after
 * a second, give up after two. What is still alive then.
 */
export async function untilGone(alive: () => Promise<SeenProcess[]>): Promise<SeenProcess[]> {
  let left = await alive();
  for (let i = 0; i < 40 && left.length > 0; i++) {
    if (i === 20) left.forEach((p) => killPid(p.pid, "SIGKILL", p.start));
    await new Promise((r) => setTimeout(r, 50));
    left = await alive();
  }
  return left;
}

/** Signal a PID, only while it is alive and (when `start` is given) still the process seen then. */
export function killPid(pid: number, sig: NodeJS.Signals, start?: string): void {
  const now = processStart(pid);
  if (now === undefined || (start !== undefined && now !== start)) return;
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export async function listNamespaces(): Promise<string[]> {
  const r = await run(["ip", "netns", "list"], { allowFailure: true });
  return r.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0])
    .filter(Boolean);
}

/**
 * True when the name is a link to a process's namespace (how the docker runtime
 * names a container's namespace), not a namespace of its own (`ip netns add`).
 */
export function isNamespaceLink(ns: string): boolean {
  try {
    return fs.lstatSync(`${NETNS_DIR}/${ns}`).isSymbolicLink();
  } catch {
    return false;
  }
}
