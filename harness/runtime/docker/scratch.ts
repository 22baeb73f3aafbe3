// What one image build creates besides images — temp dirs under CACHE_DIR and
// child processes (debootstrap with its dpkg/chroot children, tar) — so that a
// failure or a signal removes and ends exactly those, by path and by PID.
import { spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** Build trees (the cached debootstrap tree, temp dirs) live here. */
export const CACHE_DIR = "/var/cache/vpnlab";

/** Temp dirs and children of one build: removed/ended on failure and on SIGINT/SIGTERM/SIGHUP. */
export class Scratch {
  readonly dirs = new Set<string>();
  readonly children = new Set<ChildProcess>();
  readonly abort = new AbortController();

  dir(prefix: string): string {
    fs.mkdirSync(CACHE_DIR, { recursive: true });
    const d = fs.mkdtempSync(path.join(CACHE_DIR, `tmp-${prefix}-`));
    this.dirs.add(d);
    return d;
  }

  async cleanup(): Promise<void> {
    this.abort.abort();
    await Promise.all([...this.children].map((c) => endGroup(c)));
    for (const d of this.dirs) removeTree(d);
    this.dirs.clear();
  }
}

/** End a child we started in its own process group (debootstrap runs dpkg, chroot, wget under it), by its PID. */
function endGroup(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return Promise.resolve();
  const pid = c.pid;
  return new Promise((resolve) => {
    const kill = setTimeout(() => {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // gone
      }
    }, 5000);
    c.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    try {
      process.kill(-pid, "SIGTERM");
    } catch {
      clearTimeout(kill);
      resolve();
    }
  });
}

/** Mount points at or under dir, deepest first (debootstrap mounts proc and sys in its target). */
function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)))
    .map((m) => m.replace(/\\040/g, " "))
    .sort((a, b) => b.length - a.length);
}

/** rm -rf of a build tree, never across a mount: what is still mounted is unmounted first, or the tree is kept. */
export function removeTree(dir: string): void {
  for (const m of mountsUnder(dir)) {
    spawnSyncQuiet(["umount", "-l", m]);
  }
  const left = mountsUnder(dir);
  if (left.length > 0) {
    process.stderr.write(`vpnlab: not removing ${dir}: still mounted: ${left.join(", ")}\n`);
    return;
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

function spawnSyncQuiet(argv: string[]): void {
  spawnSync(argv[0], argv.slice(1), { stdio: "ignore" });
}
