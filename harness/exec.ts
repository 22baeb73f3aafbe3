// The one way the harness runs a program: an argv array, never a shell string.
import { spawn, type ChildProcess } from "node:child_process";

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ExecOptions {
  input?: string; // written to stdin, then stdin is closed
  timeoutMs?: number; // killed (SIGKILL, by PID) after this long
  allowFailure?: boolean; // resolve with the exit code instead of throwing
}

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: ExecResult,
  ) {
    const detail = (result.stderr || result.stdout).trim().split("\n").slice(0, 6).join("\n  ");
    super(`command failed (exit ${result.code}): ${argv.join(" ")}${detail ? `\n  ${detail}` : ""}`);
    this.name = "CommandError";
  }
}

export function run(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  if (argv.length === 0) throw new Error("run: empty argv");
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) {
      timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    }
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      reject(e.code === "ENOENT" ? new Error(`${argv[0]} not found: install it (see \`vpnlab doctor\`)`) : e);
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      const result = {
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString() + (signal ? `\nkilled by ${signal}` : ""),
        code: code ?? 128,
      };
      if (result.code !== 0 && !opts.allowFailure) reject(new CommandError(argv, result));
      else resolve(result);
    });
    child.stdin.on("error", () => undefined); // the program may exit before reading its input
    child.stdin.end(opts.input ?? "");
  });
}

/**
 * Stop a child we started: SIGTERM by its PID, SIGKILL after `graceMs`;
 * resolves once it has exited. Never signals anything but that child.
 */
export async function stopProcess(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }, graceMs);
  await exited;
  clearTimeout(timer);
}
