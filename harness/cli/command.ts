// What every subcommand module exports, and the options several share.
// A subcommand module imports only what parsing needs at the top; whatever
// touches the system (labs, runtime, the native addon) it imports inside
// `run`, so `vpnlab check` and `--help` load none of it and need no root.
import type { ArgumentsCamelCase, Argv } from "yargs";
import { didYouMean } from "../topology/errors";
import { selectScenarios } from "../topology/load";
import { FIREWALL_MODES, IMPLS, RUNTIME_KINDS, TRANSPORTS, type FirewallMode, type Impl, type RuntimeKind, type Scenario, type Topology, type Transport } from "../topology/model";
import { describeFilter, filterScenarios, parseShard, shardScenarios, type Shard } from "../topology/select";
import { withSeed } from "../topology/chaos";

/** Bad usage: exit 2 with the message (yargs' own validation failures end the same way). */
export class UsageError extends Error {}

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

/** `--runtime NAME` (run, up and check): where the nodes run; it wins over the file's and the config's `runtime:`. */
export function withRuntime<A>(y: Argv<A>) {
  return y.option("runtime", {
    type: "string",
    requiresArg: true,
    describe: `where the lab's nodes run (${RUNTIME_KINDS.join(", ")}); default: the file's runtime:, else the config file's, else VPNLAB_RUNTIME, else netns`,
    coerce: (v: string | string[]) => knownList("runtime", RUNTIME_KINDS)(Array.isArray(v) ? v[v.length - 1] : v)[0],
  });
}

/** `--transport a,b --transport c` → each value once, every one of `known` (else a UsageError with a did-you-mean). */
export function knownList<T extends string>(option: string, known: readonly T[]) {
  return (v: string | string[] | undefined): T[] => {
    const values = (v === undefined ? [] : Array.isArray(v) ? v : [v]).flatMap((s) => String(s).split(",")).map((s) => s.trim());
    for (const x of values) {
      if (!(known as readonly string[]).includes(x)) {
        throw new UsageError(`--${option} ${x === "" ? "needs a value" : `\`${x}\` is not known`} — ${didYouMean(x, known)}use one of: ${known.join(", ")}`);
      }
    }
    return [...new Set(values)] as T[];
  };
}

/** --transport, --mode and --impl (run and check): select scenarios by what they are, on top of --variant. */
export function withSelectors<A>(y: Argv<A>) {
  const opt = <T extends string>(name: string, known: readonly T[], what: string) =>
    ({ type: "string", requiresArg: true, describe: `only scenarios with this ${what} (${known.join(", ")}); repeat it or give a comma list`, coerce: knownList(name, known) }) as const;
  return y
    .option("transport", opt("transport", TRANSPORTS, "VPN transport"))
    .option("mode", opt("mode", FIREWALL_MODES, "firewall mode"))
    .option("impl", opt("impl", IMPLS, "VPN implementation"))
    .option("shard", {
      type: "string",
      requiresArg: true,
      describe: "only slice I of N of the selected scenarios (deterministic; shards 1..N together run each scenario once), for a CI matrix",
      coerce: (v: string | string[]) => parseShard(Array.isArray(v) ? v[v.length - 1] : v),
    });
}

/** The scenarios --variant names (all when none), narrowed by --transport/--mode/--impl; none left is a UsageError naming the filters. */
export function selectCells(t: Topology, a: { variant?: string[]; transport?: Transport[]; mode?: FirewallMode[]; impl?: Impl[]; shard?: Shard }): Scenario[] {
  const f = { transports: a.transport, modes: a.mode, impls: a.impl };
  const selected = filterScenarios(selectScenarios(t, a.variant ?? []), f);
  const picked = a.shard ? shardScenarios(selected, a.shard) : selected;
  if (picked.length === 0 && a.shard && selected.length > 0) {
    // more shards than scenarios: an empty slice is a valid, quiet outcome for a CI matrix job
    return picked;
  }
  if (picked.length === 0) {
    const v = a.variant && a.variant.length > 0 ? ` --variant ${a.variant.join(",")}` : "";
    throw new UsageError(`no scenario of ${t.file} matches${v} ${describeFilter(f)}`);
  }
  return picked;
}

/** `--seed N` (run, check, nightly, sweep): the scenario seed, over the file's `seed:` — a failing run replays with it. */
export function withSeedOption<A>(y: Argv<A>) {
  return y.option("seed", {
    type: "string",
    requiresArg: true,
    describe: "seed every chaos step's random decisions from N (0..4294967295; wins over the file's seed:, a step's own seed: stays); the summary line names the seed a run used",
    coerce: parseSeedOption,
  });
}

export function parseSeedOption(v: string | string[]): number {
  const s = String(Array.isArray(v) ? v[v.length - 1] : v).trim();
  if (!/^\d{1,10}$/.test(s) || Number(s) > 0xffffffff) throw new UsageError(`--seed needs a whole number from 0 to 4294967295, not ${JSON.stringify(s)}`);
  return Number(s);
}

/** The scenarios with --seed applied (unchanged without it). */
export function seeded(scenarios: Scenario[], seed: number | undefined): Scenario[] {
  return seed === undefined ? scenarios : scenarios.map((s) => withSeed(s, seed));
}
