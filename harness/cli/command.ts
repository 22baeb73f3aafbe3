// What every subcommand module exports, and the options several share.
// A subcommand module imports only what parsing needs at the top; whatever
// touches the system (labs, runtime, the native addon) it imports inside
// `run`, so `vpnlab check` and `--help` load none of it and need no root.
import * as path from "node:path";
import type { ArgumentsCamelCase, Argv } from "yargs";

/** Bad usage: exit 2 with the message (yargs' own validation failures end the same way). */
export class UsageError extends Error {}

/** The repository / package root (this file is dist/harness/cli/command.js once built). */
export const PACKAGE_ROOT = path.join(__dirname, "..", "..", "..");

export interface Command<A> {
  /** yargs command string: name and positionals, e.g. "run <file>". */
  command: string;
  describe: string;
  builder: (y: Argv) => Argv<A>;
  /** The exit code: 0 success, 1 a verdict differs, 2 bad input or a lab error. */
  run: (args: ArgumentsCamelCase<A>) => Promise<number>;
}

/** `--variant a,b --variant c` → ["a", "b", "c"]; each name once; an empty name is refused (an unset shell variable must not mean "all"). */
export function variantList(v: string | string[] | undefined): string[] {
  const names = (v === undefined ? [] : Array.isArray(v) ? v : [v]).flatMap((s) => String(s).split(",")).map((s) => s.trim());
  if (names.some((n) => n === "")) {
    throw new UsageError(`--variant needs a name (got an empty one in ${JSON.stringify((Array.isArray(v) ? v : [v]).join(","))}); leave --variant out to run every scenario`);
  }
  return [...new Set(names)];
}

/** The topology FILE positional and `--variant` (run, up and check share them). */
export function withTopology(y: Argv, variantHelp: string) {
  return y
    .positional("file", { type: "string", describe: "the topology file (YAML)", demandOption: true, normalize: false })
    .option("variant", {
      alias: "v",
      type: "string",
      requiresArg: true,
      describe: variantHelp,
      // not array: true, which would swallow a FILE written after it
      coerce: variantList,
    });
}
