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

export function registerTeardown(t: Teardown): () => void {
  if (!installed) {
    installed = true;
    const codes = { SIGINT: 130, SIGHUP: 129, SIGTERM: 143 } as const;
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => void teardownAndExit(sig, codes[sig]));
  }
  live.add(t);
  return () => live.delete(t);
}

/**
 * For the `vpnlab` command: an uncaught exception or unhandled rejection tears
 * the labs down too. (Under mocha those are mocha's to report, so the library
 * does not install this by itself.)
 */
export function teardownOnCrash(): void {
  process.on("uncaughtException", onCrash);
  process.on("unhandledRejection", onCrash);
}
