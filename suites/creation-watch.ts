// Proof that a command created nothing, not only that nothing was left: an
// inotify watch (fs.watch) on the directory of named namespaces and on the
// lab records' directory sees every entry that appears, however briefly.
//   const watch = CreationWatch.start();
//   const r = await watch.run(BIN, ["run", "bad.yaml"]);   // r.created: lab entries that appeared meanwhile
//   watch.stop();
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { LAB_ID_RE, STATE_ROOT } from "../harness/runtime/state";

/** Where `ip netns add` mounts named namespaces. */
export const NETNS_DIR = "/run/netns";
const LAB_NS_RE = /^vl-([0-9a-f]{5})-/;
const RUN_TIMEOUT_MS = 60000;

export interface Created {
  dir: string;
  name: string;
  labId: string;
  /** ms since the run started */
  atMs: number;
  /** the lab's owner PID from its record, when it could be read */
  ownerPid?: number;
}

export interface WatchedRun {
  code: number;
  stdout: string;
  stderr: string;
  /** lab namespaces and lab records that appeared while the command ran and belong to it (or to nobody we can name) */
  created: Created[];
  /** entries of labs that other processes own (other labs on a shared dev machine; none in a serial CI run) */
  foreign: Created[];
}

export class CreationWatch {
  private readonly seen: { dir: string; name: string; at: number }[] = [];
  private readonly owners = new Map<string, number | undefined>();
  private readonly flushed = new Set<string>();
  private flushes = 0;

  private constructor(private readonly watchers: fs.FSWatcher[]) {}

  /** Watch both directories (created first if missing: `ip netns` and vpnlab create them the same way). */
  static start(): CreationWatch {
    const dirs = [NETNS_DIR, STATE_ROOT];
    const watchers: fs.FSWatcher[] = [];
    const w = new CreationWatch(watchers);
    for (const dir of dirs) {
      fs.mkdirSync(dir, { recursive: true });
      const watcher = fs.watch(dir, { persistent: false }, (_event, name) => {
        if (name) w.onEntry(dir, name.toString());
      });
      watcher.on("error", (e) => w.seen.push({ dir, name: `<watch error: ${e.message}>`, at: Date.now() }));
      watchers.push(watcher);
    }
    return w;
  }

  stop(): void {
    for (const w of this.watchers) w.close();
  }

  private onEntry(dir: string, name: string): void {
    if (dir === STATE_ROOT && name.startsWith(".watch-")) {
      this.flushed.add(name);
      return;
    }
    this.seen.push({ dir, name, at: Date.now() });
    const labId = labIdOf(dir, name);
    // read the owner while the record most likely still exists (a failed run removes it at once)
    if (labId && this.owners.get(labId) === undefined) this.owners.set(labId, readOwner(labId));
  }

  /**
   * Wait until every event queued before now has been delivered: inotify keeps
   * one queue per instance (libuv has one per event loop), so once an entry we
   * create ourselves is reported, everything created before it has been too.
   */
  private async flush(): Promise<void> {
    const name = `.watch-${process.pid}-${++this.flushes}`;
    const file = path.join(STATE_ROOT, name);
    fs.writeFileSync(file, "");
    fs.rmSync(file, { force: true });
    for (let i = 0; i < 500 && !this.flushed.has(name); i++) await new Promise((r) => setTimeout(r, 10));
    if (!this.flushed.has(name)) throw new Error(`the watch on ${STATE_ROOT} did not report ${name} within 5 s`);
  }

  /** Run argv asynchronously (the watch needs the event loop) and report the lab entries that appeared meanwhile. */
  async run(bin: string, args: string[]): Promise<WatchedRun> {
    await this.flush();
    const from = this.seen.length;
    const t0 = Date.now();
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_TIMEOUT_MS);
    const code = await new Promise<number>((resolve) => child.on("close", (c, sig) => resolve(c ?? (sig ? 128 : -1))));
    clearTimeout(timer);
    await this.flush();

    const created: Created[] = [];
    const foreign: Created[] = [];
    for (const e of this.seen.slice(from)) {
      const labId = labIdOf(e.dir, e.name);
      if (!labId) continue;
      const ownerPid = this.owners.get(labId) ?? readOwner(labId);
      const entry: Created = { dir: e.dir, name: e.name, labId, atMs: e.at - t0, ownerPid };
      // only a record naming another live owner excuses an entry: unknown owners count as ours
      (ownerPid !== undefined && ownerPid !== child.pid ? foreign : created).push(entry);
    }
    return { code, stdout, stderr, created, foreign };
  }
}

function labIdOf(dir: string, name: string): string | undefined {
  if (dir === NETNS_DIR) return LAB_NS_RE.exec(name)?.[1];
  return LAB_ID_RE.test(name) ? name : undefined;
}

function readOwner(labId: string): number | undefined {
  try {
    const state = JSON.parse(fs.readFileSync(path.join(STATE_ROOT, labId, "state.json"), "utf8")) as { ownerPid?: unknown };
    return typeof state.ownerPid === "number" ? state.ownerPid : undefined;
  } catch {
    return undefined;
  }
}
