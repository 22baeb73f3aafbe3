// The command's own stdout/stderr. Two promises a pipeline relies on:
// everything written reaches the reader however large (the process never
// exits before the pipe has drained), and a reader that goes away early
// (`| head -1`) is not an error: the rest of the output is dropped quietly
// and the run ends with the status it would have had.

const closed = { stdout: false, stderr: false };
let guarded = false;
let failed = false;

/** A write failed for another reason than a reader that left (a full disk, an I/O error): the output is incomplete. */
export function outputFailed(): boolean {
  return failed;
}

/** Treat EPIPE (the reader closed its end) as "nobody is listening" instead of a crash. */
export function guardStreams(): void {
  if (guarded) return;
  guarded = true;
  for (const name of ["stdout", "stderr"] as const) {
    process[name].on("error", (e: NodeJS.ErrnoException) => {
      closed[name] = true;
      // only a gone reader is expected; anything else means a cut document that must not pass as complete
      if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_DESTROYED" && name === "stdout") {
        failed = true;
        if (!closed.stderr) process.stderr.write(`vpnlab: cannot write to stdout: ${e.message}\n`);
      }
    });
  }
}

function write(name: "stdout" | "stderr", s: string): void {
  if (closed[name]) return;
  process[name].write(s.endsWith("\n") ? s : s + "\n");
}

export const out = (s: string): void => write("stdout", s);
export const err = (s: string): void => write("stderr", s);

/** Resolves once everything written so far has been handed to the kernel (or the reader is gone). */
function drained(name: "stdout" | "stderr"): Promise<void> {
  const stream = process[name];
  if (closed[name] || stream.destroyed) return Promise.resolve();
  // an empty write's callback runs after every earlier write has been flushed (or failed)
  return new Promise((resolve) => stream.write("", () => resolve()));
}

export async function flushOutput(): Promise<void> {
  await Promise.all([drained("stdout"), drained("stderr")]);
}
