// The harness's own programs that run on lab nodes, by where they lie in the
// package (dist/ beside package.json). A runtime places the package — the
// host's checkout for netns, the image's copy for docker — and names the Node
// binary that runs them there.
import { PACKAGE_ROOT } from "../host/paths";
import * as path from "node:path";
import type { HarnessProgram } from "./runtime";

const ENTRY: Record<Exclude<HarnessProgram, "node">, string> = {
  agent: "dist/harness/agent/main.js",
  proxy: "dist/harness/firewall/proxy-main.js",
  wire: "dist/harness/impair/backends/wire/main.js",
};

/** This checkout's package root. */
export const HOST_PACKAGE_ROOT = PACKAGE_ROOT;

/** argv of a harness program run by `nodeBinary` from the package at `packageRoot`. Pure, for tests. */
export function programArgv(nodeBinary: string, packageRoot: string, program: HarnessProgram, args: readonly string[] = []): string[] {
  return program === "node" ? [nodeBinary, ...args] : [nodeBinary, path.posix.join(packageRoot, ENTRY[program]), ...args];
}

/** A harness program run by this host's Node from this checkout (the netns runtime, and tests on the host). */
export function hostHarnessArgv(program: HarnessProgram, args: readonly string[] = []): string[] {
  return programArgv(process.execPath, HOST_PACKAGE_ROOT, program, args);
}
