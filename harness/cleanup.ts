// Teardown is guaranteed: every live lab is registered here, and SIGINT,
// SIGTERM and SIGHUP — and an uncaught exception or unhandled rejection —
// tear them all down before the process exits.
// (SIGKILL cannot be caught: that is what `vpnlab gc` is for.)
type Teardown = () => Promise<void>;

const live = new Set<Teardown>();
let installed = false;
let exiting = false;

async function teardownAndExit(why: string, code: number): Promise<void> {
  if (exiting) return; // a second signal while tearing down: let the first finish
  exiting = true;
  process.stderr.write(`\nvpnlab: ${why}: tearing down ${live.size} lab(s)\n`);
  await Promise.allSettled([...live].map((t) => t()));
  process.exit(code);
}

function onCrash(e: unknown): void {
  const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
  void teardownAndExit(`internal error: ${msg}`, 70);
}

function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  const codes = { SIGINT: 130, SIGHUP: 129, SIGTERM: 143 } as const;
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => void teardownAndExit(sig, codes[sig]));
}

export function registerTeardown(t: Teardown): () => void {
  installSignalHandlers();
  live.add(t);
  return () => live.delete(t);
}

/**
 * For the `vpnlab` command: an uncaught exception or unhandled rejection tears
 * the labs down too. (Under mocha those are mocha's to report, so the library
 * does not install this by itself.)
 */
export function teardownOnCrash(): void {
  // Signals too, from the very start: without a handler the kernel ends the process at once, and a
  // signal landing between a lab's first record and its teardown registration would leave that record.
  installSignalHandlers();
  process.on("uncaughtException", onCrash);
  process.on("unhandledRejection", onCrash);
}
