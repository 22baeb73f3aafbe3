// Test support shared by the tests that need real namespaces: throwaway
// network namespaces (vlt-<hex>-<tag>, never a lab's vl-<id>- name), small
// node programs run inside them, killed by PID, and every namespace deleted in
// destroy(), also after a failed test. Nothing here touches the host's own
// interfaces or firewall.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { run, stopProcess, type ExecOptions, type ExecResult } from "../exec";
import type { NodeExec } from "../runtime/runtime";

export const isRoot = (): boolean => typeof process.getuid === "function" && process.getuid() === 0;

/** NodeExec whose node names are namespace names. */
export const netnsExec: NodeExec = {
  exec(node: string, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return run(["ip", "netns", "exec", node, ...argv], { timeoutMs: 30_000, ...opts });
  },
};

export class Netns {
  private readonly children = new Set<ChildProcess>();
  private constructor(readonly name: string) {}

  static async create(tag: string, hex = randomBytes(3).toString("hex")): Promise<Netns> {
    const ns = new Netns(`vlt-${hex}-${tag}`);
    await run(["ip", "netns", "add", ns.name]);
    try {
      await ns.exec(["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"]);
      await ns.exec(["ip", "link", "set", "lo", "up"]);
    } catch (e) {
      await ns.destroy();
      throw e;
    }
    return ns;
  }

  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return netnsExec.exec(this.name, argv, opts);
  }

  /** A long-running program in the namespace; `ip netns exec` execs it, so child.pid is its PID. */
  spawn(argv: readonly string[], logFile?: string): ChildProcess {
    const stderr = logFile ? fs.openSync(logFile, "a") : "pipe";
    const child = spawn("ip", ["netns", "exec", this.name, ...argv], { stdio: ["pipe", "pipe", stderr] });
    if (typeof stderr === "number") fs.closeSync(stderr);
    this.children.add(child);
    child.on("exit", () => this.children.delete(child));
    child.stdin?.on("error", () => undefined);
    return child;
  }

  /** `node -e script args...` in the namespace; resolves once it prints a JSON line with event "ready". */
  async node(script: string, args: readonly string[] = []): Promise<{ child: ChildProcess; ready: Record<string, unknown> }> {
    const child = this.spawn([process.execPath, "-e", script, "--", ...args]);
    const ready = await waitEvent(child, "ready", 10_000);
    return { child, ready };
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.children].map((c) => stopProcess(c)));
    await run(["ip", "netns", "del", this.name], { allowFailure: true });
  }
}

/** Resolve with the first stdout JSON line whose `event` is `event`; reject on exit or timeout (with stderr). */
export function waitEvent(child: ChildProcess, event: string, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const onErr = (b: Buffer): void => {
      err += b.toString();
    };
    const done = (): void => {
      clearTimeout(timer);
      child.stdout?.off("data", onOut);
      child.stderr?.off("data", onErr);
      child.off("exit", onExit);
    };
    const onExit = (code: number | null, signal: string | null): void => {
      done();
      reject(new Error(`process exited (${signal ?? `code ${code}`}) before "${event}": ${out}${err}`));
    };
    const onOut = (b: Buffer): void => {
      out += b.toString();
      for (const line of out.split("\n")) {
        if (!line.trim().startsWith("{")) continue;
        try {
          const msg = JSON.parse(line) as Record<string, unknown>;
          if (msg.event === event) {
            done();
            resolve(msg);
            return;
          }
        } catch {
          // a partial line: wait for more
        }
      }
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no "${event}" within ${timeoutMs} ms: ${out}${err}`));
    }, timeoutMs);
    child.stdout?.on("data", onOut);
    child.stderr?.on("data", onErr);
    child.on("exit", onExit);
  });
}

