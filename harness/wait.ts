// One readiness wait for everything the harness starts (Testcontainers' wait
// strategies): a condition polled until it holds, bounded in time, that fails
// at once — with the program's log tail — when the program it waits for exits.
// Conditions: a log line, a stdout line, a unix socket that answers, a command
// that succeeds, a counter that reaches a value.
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";

/** A condition: resolves with a value once it holds, or undefined while it does not (it may throw: it then retries). */
export type Probe<T> = () => Promise<T | undefined>;

export interface WaitOptions {
  /** What is awaited, for the error: "haproxy answering on its stats socket". */
  what: string;
  timeoutMs: number;
  intervalMs?: number; // default 100
  /** Fail as soon as this process (or any of these) exits: it will never become ready. */
  process?: ChildProcess | readonly ChildProcess[];
  /** A log to quote the tail of in the error. */
  log?: string;
}

export class WaitTimeout extends Error {}

export function logTail(file: string, lines = 8): string {
  try {
    return fs.readFileSync(file, "utf8").trim().split("\n").slice(-lines).join("\n  ");
  } catch {
    return "(no log)";
  }
}

export async function waitUntil<T>(probe: Probe<T>, o: WaitOptions): Promise<T> {
  const deadline = Date.now() + o.timeoutMs;
  const tail = (): string => (o.log ? ` (log ${o.log})\n  ${logTail(o.log)}` : "");
  let last = "";
  for (;;) {
    const p = ([] as ChildProcess[]).concat(o.process ?? []).find((c) => c.exitCode !== null || c.signalCode !== null);
    if (p) {
      throw new Error(`${o.what}: the program exited (${p.signalCode ?? `code ${p.exitCode}`}) before it was ready${tail()}`);
    }
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = `: ${(e as Error).message}`;
    }
    if (Date.now() >= deadline) throw new WaitTimeout(`${o.what}: not ready within ${o.timeoutMs} ms${last}${tail()}`);
    await new Promise((r) => setTimeout(r, Math.min(o.intervalMs ?? 100, Math.max(1, deadline - Date.now()))));
  }
}

/** A line matching `re` in a log file (the match). */
export function forLogLine(file: string, re: RegExp): Probe<RegExpMatchArray> {
  return async () => {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      return undefined;
    }
    return text.match(re) ?? undefined;
  };
}

/** A line matching `re` on a child's stdout (collected from the moment this probe is made). */
export function forStdoutLine(child: ChildProcess, re: RegExp): Probe<string> {
  let buf = "";
  child.stdout?.on("data", (b: Buffer) => (buf += b.toString()));
  return async () => buf.split("\n").find((l) => re.test(l));
}

/** A unix socket that accepts a connection. */
export function forUnixSocket(file: string): Probe<true> {
  return () =>
    new Promise((resolve) => {
      const s = net.connect(file);
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(undefined));
    });
}

/** A command that succeeds (e.g. `ss -ltn sport = :443` inside a node, through NodeExec). */
export function forCommand(run: () => Promise<{ code: number; stdout: string }>, accept: (stdout: string) => boolean = () => true): Probe<string> {
  return async () => {
    const r = await run();
    return r.code === 0 && accept(r.stdout) ? r.stdout : undefined;
  };
}

/** A counter that reaches `atLeast` (the value). */
export function forCounter(read: () => Promise<number>, atLeast: number): Probe<number> {
  return async () => {
    const v = await read();
    return v >= atLeast ? v : undefined;
  };
}
