// What every runtime does the same way: building steps that a teardown waits
// for (and that never start after it), and the lab's child processes —
// started with their stderr in a log, their PIDs in the lab's record, and
// stopped (stdin closed, then signals) before the runtime removes anything.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { stopProcess } from "../exec";
import type { SpawnOptions } from "./runtime";
import { writeState, type LabState } from "./state";

export abstract class RuntimeBase {
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    readonly labId: string,
    protected readonly state: LabState,
  ) {}

  /**
   * Run one building step. A teardown that starts meanwhile waits for it to
   * settle before it deletes anything, and no step starts after teardown:
   * a signal in the middle of Lab.up leaves nothing behind.
   */
  protected async step<T>(what: () => Promise<T>): Promise<T> {
    if (this.destroyed) throw new Error(`lab ${this.labId} is being torn down`);
    const p = what();
    this.inFlight.add(p);
    try {
      return await p;
    } finally {
      this.inFlight.delete(p);
    }
  }

  /** Start argv (a host program that ends up as, or in front of, the node's program) as a child of the lab. */
  protected startChild(argv: readonly string[], opts: SpawnOptions): ChildProcess {
    if (this.destroyed) throw new Error(`lab ${this.labId} is already down`);
    let stdio: ("pipe" | number)[] = ["pipe", "pipe", "pipe"];
    if (opts.logFile) {
      const fd = fs.openSync(opts.logFile, "a");
      stdio = ["pipe", "pipe", fd];
    }
    const child = spawn(argv[0], argv.slice(1), { stdio, env: { ...process.env, ...opts.env } });
    // a failed spawn (EAGAIN, ENOMEM) surfaces as the child's exit, never as an uncaught error
    child.on("error", () => undefined);
    if (typeof stdio[2] === "number") fs.closeSync(stdio[2]);
    if (child.pid) {
      this.state.pids.push(child.pid);
      writeState(this.state);
    }
    this.children.add(child);
    child.on("exit", () => this.children.delete(child));
    return child;
  }

  /** The first half of destroy(): no new step or child, the running steps settled, the children stopped. */
  protected async quiesce(): Promise<void> {
    this.destroyed = true;
    await Promise.allSettled([...this.inFlight]);
    const children = [...this.children];
    for (const c of children) c.stdin?.end(); // agents leave by themselves when their stdin closes
    await Promise.all(children.map((c) => stopProcess(c, 1500)));
  }
}
