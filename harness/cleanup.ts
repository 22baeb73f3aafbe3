// Teardown is guaranteed: every live lab is registered here, and SIGINT,
// SIGTERM and SIGHUP tear them all down before the process exits.
// (SIGKILL cannot be caught: that is what `vpnlab gc` is for.)
type Teardown = () => Promise<void>;

const live = new Set<Teardown>();
let installed = false;
let exiting = false;

async function onSignal(sig: NodeJS.Signals): Promise<void> {
  if (exiting) return; // a second signal while tearing down: let the first finish
  exiting = true;
  process.stderr.write(`\nvpnlab: ${sig}: tearing down ${live.size} lab(s)\n`);
  await Promise.allSettled([...live].map((t) => t()));
  process.exit(sig === "SIGINT" ? 130 : sig === "SIGHUP" ? 129 : 143);
}

export function registerTeardown(t: Teardown): () => void {
  if (!installed) {
    installed = true;
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => void onSignal(sig));
  }
  live.add(t);
  return () => live.delete(t);
}
