// Named network namespaces (`ip netns`): listing, the processes inside, and
// removal. Both runtimes name their namespaces `vl-<labId>-...`; the netns
// runtime's nodes and every runtime's net bridges are namespaces of their own.
import * as fs from "node:fs";
import { run } from "../exec";
import { processStart } from "./state";

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
  for (const ns of present) {
    for (const pid of await namespacePids(ns)) killPid(pid, "SIGTERM");
  }
  for (const ns of present) {
    const alive = await untilGone(() => namespacePids(ns));
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
export async function untilGone(alive: () => Promise<number[]>): Promise<number[]> {
  let left = await alive();
  for (let i = 0; i < 40 && left.length > 0; i++) {
    if (i === 20) left.forEach((pid) => killPid(pid, "SIGKILL"));
    await new Promise((r) => setTimeout(r, 50));
    left = await alive();
  }
  return left;
}

export function killPid(pid: number, sig: NodeJS.Signals): void {
  if (processStart(pid) === undefined) return;
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
