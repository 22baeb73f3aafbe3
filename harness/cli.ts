// The `vpnlab` command: yargs registers one module per subcommand
// (harness/cli/*.ts), each with its own options and --help.
//   vpnlab run FILE [--variant NAME ...] [--json] [--jobs N]
//   vpnlab check FILE [--variant NAME ...] [--json]
//   vpnlab up FILE [--variant NAME] | ls | down LAB|TOPOLOGY|--all | gc | doctor | schema | completion
//   vpnlab impair LAB TARGET <impairment> | heal LAB [TARGET] | sweep FILE --loss 0,1,5 ...
// Exit codes: 0 every verdict equals its expect; 1 some verdict differs;
// 2 bad input (topology, variant, usage) or a lab error.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Argv } from "yargs";
import yargs = require("yargs");
import { teardownOnCrash } from "./cleanup";
import { check } from "./cli/check";
import { UsageError, type Command } from "./cli/command";
import { PACKAGE_ROOT } from "./host/paths";
import { doctor } from "./cli/doctor";
import { heal } from "./cli/heal";
import { image } from "./cli/image";
import { impair } from "./cli/impair";
import { down, gc, ls } from "./cli/labs";
import { merge } from "./cli/merge";
import { nightly } from "./cli/nightly";
import { report } from "./cli/report";
import { err, flushOutput, guardStreams, outputFailed } from "./cli/output";
import { run } from "./cli/run";
import { schema } from "./cli/schema";
import { sweep } from "./cli/sweep";
import { up } from "./cli/up";
import { TopologyError, didYouMean } from "./topology/errors";
import { loadTopology } from "./topology/load";

export { UsageError } from "./cli/command";

/** yargs already printed the message and the help: only the exit code is left to give. */
class Reported extends Error {}

interface Outcome {
  code?: number;
  error?: unknown;
}

function version(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

function register<A>(y: Argv, c: Command<A>, outcome: Outcome): Argv {
  return y.command(c.command, c.describe, c.builder, async (a) => {
    // caught here rather than by yargs: a command's own failure is not a usage error and gets no help text
    try {
      outcome.code = await c.run(a);
    } catch (e) {
      outcome.error = e;
    }
  });
}

/** Words completed by the shell: what follows `--get-yargs-completions` (the first is the program name). */
function completionWords(argv: string[]): string[] {
  const i = argv.indexOf("--get-yargs-completions");
  return i < 0 ? [] : argv.slice(i + 1);
}

const COMMANDS = [run, check, sweep, up, ls, down, impair, heal, gc, merge, doctor, schema, image, report, nightly].map((c) => c.command.split(" ")[0]).concat("completion");

const TAKES_VALUE = new Set(["--variant", "-v", "--jobs", "-j"]);

/** `vpnlab run FILE --variant <TAB>`: the scenario names of FILE ("a,<TAB>" completes the next one of a list). */
function variantCompletions(words: string[]): string[] | undefined {
  const current = words[words.length - 1] ?? "";
  const prev = words[words.length - 2];
  if (prev !== "--variant" && prev !== "-v") return undefined;
  if (!["run", "up", "check", "sweep"].includes(words[1])) return undefined;
  const file = words.slice(2, -1).find((w, i, ws) => !w.startsWith("-") && !TAKES_VALUE.has(ws[i - 1] ?? ""));
  if (!file) return [];
  try {
    // the loader is pure (a file read and a parse): safe to call on every TAB
    const t = loadTopology(file);
    const head = current.includes(",") ? current.slice(0, current.lastIndexOf(",") + 1) : "";
    return ["base", ...t.variants.keys()].map((n) => head + n);
  } catch {
    return []; // an invalid file completes to nothing; `vpnlab check` says why
  }
}

function parser(argv: string[], outcome: Outcome): Argv {
  let y = yargs(argv)
    .scriptName("vpnlab")
    .locale("en") // messages the tests and users can rely on, whatever LANG says
    .usage("usage: $0 <command> [options]\n\nChaos test harness for VPN labs. `$0 <command> --help` shows a command's options.")
    .version(version())
    .help()
    .alias("help", "h")
    .wrap(Math.min(120, process.stdout.columns || 120))
    .exitProcess(false);
  // one line per command: each keeps its own argument type
  y = register(y, run, outcome);
  y = register(y, check, outcome);
  y = register(y, sweep, outcome);
  y = register(y, up, outcome);
  y = register(y, ls, outcome);
  y = register(y, down, outcome);
  y = register(y, impair, outcome);
  y = register(y, heal, outcome);
  y = register(y, gc, outcome);
  y = register(y, merge, outcome);
  y = register(y, doctor, outcome);
  y = register(y, schema, outcome);
  y = register(y, image, outcome);
  y = register(y, report, outcome);
  y = register(y, nightly, outcome);
  return y
    .completion("completion", "print a bash completion script (vpnlab completion >> ~/.bashrc)", (_current: string, _argv: unknown, defaults: () => void, done: (completions: string[]) => void) => {
      const variants = variantCompletions(completionWords(argv));
      if (variants) done(variants);
      else defaults();
    })
    .demandCommand(1, "give a command")
    .strict()
    .fail((msg, e, y2) => {
      // a command's own exception comes through `outcome`; here only yargs' validation (and check()) failures
      if (e && !msg) throw e;
      const first = argv[0];
      if (first === undefined || first.startsWith("-")) {
        // no command at all: the whole usage is the answer
        err(`vpnlab: ${msg}`);
        y2.showHelp((s: string) => err(s));
      } else if (!COMMANDS.includes(first)) {
        err(`vpnlab: unknown command ${first} — ${didYouMean(first, COMMANDS)}commands: ${COMMANDS.join(", ")}`);
      } else {
        err(`vpnlab: ${msg} (see \`vpnlab ${first} --help\`)`);
      }
      throw new Reported(msg);
    });
}

/** Parse and run one command line; the promise holds the exit code. */
export async function dispatch(argv: string[]): Promise<number> {
  const outcome: Outcome = {};
  try {
    await parser(argv, outcome).parseAsync();
  } catch (e) {
    outcome.error = e;
  }
  if (outcome.error === undefined) return outcome.code ?? 0;
  const e = outcome.error;
  if (e instanceof Reported) return 2;
  if (e instanceof UsageError) err(`vpnlab: ${e.message} (see \`vpnlab ${argv[0] ?? ""} --help\`)`);
  else if (e instanceof TopologyError) err(`vpnlab: ${e.message}`);
  else err(`vpnlab: ${e instanceof Error ? e.message : String(e)}`);
  return 2;
}

/** The entry bin/vpnlab calls. */
export function main(argv: string[]): void {
  guardStreams();
  teardownOnCrash();
  void dispatch(argv).then(async (code) => {
    // never exit while output is still queued: a piped reader would get a cut document
    process.exitCode = code;
    await flushOutput();
    // a document cut by a full disk is not a result: whatever the verdicts, the run failed to report them
    if (outputFailed()) process.exitCode = Math.max(code, 2);
    // everything is written; a stray handle (an unref-less timer, a child's pipe) must not keep a finished command alive
    setTimeout(() => process.exit(), 1000).unref();
  });
}
