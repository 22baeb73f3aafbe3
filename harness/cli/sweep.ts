// `vpnlab sweep FILE [--variant V ...] --loss 0,1,2,5,10,20 [--runs N] [-j N]`:
// every selected variant run once per value of one impairment, to find where
// each stops surviving — the tolerance of each remedy. Each run's impairing
// chaos steps keep their target, timing, direction, match and seed; what they
// do is replaced by the swept impairment (the value, plus any single-valued
// impairment option given beside it, e.g. --reorder 0,5,10% --delay 10ms).
// A variant with no impairing step of its own (a "no loss" control) borrows
// the base's steps. Value 0 removes the swept field: a 0 with nothing beside
// it runs the variant's steps without their faults (the undisturbed control).
// Output: a table (variant × value → verdict, and each variant's tolerance),
// a JSON document and an SVG chart under --out.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Impairment } from "../impair/impairment";
import { mixSeed } from "../impair/fault";
import { isNoImpairment } from "../impair/impairment";
import { mapPool } from "../pool";
import type { Harsher } from "../report/sweep";
import { withSeed } from "../topology/chaos";
import { loadTopology } from "../topology/load";
import type { RuntimeKind, Scenario } from "../topology/model";
import { UsageError, selectCells, withRuntime, withSeedOption, withTopology, type Command } from "./command";
import { bandwidthOption, durationOption, impairmentOf, integerOption, percentOption, withImpairOptions, type ImpairArgs, type ValueOption } from "./impair-options";
import { err, out } from "./output";
import { MAX_JOBS } from "./run";

/** The impairments a sweep can step through, each with its unit (how values are read and shown) and the model field it sets. */
export const SWEEP_AXES = ["loss", "delay", "jitter", "duplicate", "reorder", "corrupt", "rate", "every"] as const satisfies readonly ValueOption[];
export type SweepAxis = (typeof SWEEP_AXES)[number];

const UNIT: Record<SweepAxis, "%" | "ms" | "kbit" | ""> = { loss: "%", delay: "ms", jitter: "ms", duplicate: "%", reorder: "%", corrupt: "%", rate: "kbit", every: "" };

/** Which way each axis gets harsher: a lower rate is harsher, and so is a smaller N of every (0 = none at all). */
export const HARSHER: Record<SweepAxis, Harsher> = { loss: "higher", delay: "higher", jitter: "higher", duplicate: "higher", reorder: "higher", corrupt: "higher", rate: "lower", every: "lower" };

/** How harsh a value is on its axis (bigger = harsher): 0 is always none; on a "lower" axis a value's inverse. */
function severity(axis: SweepAxis, v: number): number {
  if (v === 0) return 0;
  return HARSHER[axis] === "higher" ? v : 1 / v;
}

/**
 * "0,1,2,5%" or "0,50,200ms": the values in the axis' unit, each once, in severity order (mildest first:
 * loss 0,1,5; rate 2000,500,100; every 0,50,5,2). A bare number takes
 * the unit of the list's last value written with one (so "0,50,200ms" is milliseconds throughout).
 */
export function parseAxisValues(axis: SweepAxis, text: string): number[] {
  const items = text.split(",").map((s) => s.trim());
  if (items.some((s) => s === "")) throw new UsageError(`--${axis} ${text}: an empty value in the list — write e.g. 0,1,2,5`);
  const units = items.map((s) => /^\d+(?:\.\d+)?\s*([a-z%]+)$/i.exec(s)?.[1]).filter((u): u is string => u !== undefined);
  const unit = units[units.length - 1] ?? "";
  const values = items.map((s) => {
    const t = /^\d+(\.\d+)?$/.test(s) && unit ? `${s}${unit}` : s;
    if (axis === "every") return Number(s) === 0 ? 0 : integerOption(axis, s, 1);
    if (UNIT[axis] === "%") return percentOption(axis, t);
    if (UNIT[axis] === "ms") return durationOption(axis, t);
    // a rate of 0 would stop every packet: not a point on a tolerance curve
    return bandwidthOption(axis, t);
  });
  return [...new Set(values)].sort((a, b) => severity(axis, a) - severity(axis, b));
}

/** The impairment field one axis value sets (nothing for 0). */
export function axisImpairment(axis: SweepAxis, v: number): Impairment {
  if (v === 0) return {};
  switch (axis) {
    case "loss":
      return { loss: { kind: "random", percent: v } };
    case "delay":
      return { delayMs: v };
    case "jitter":
      return { jitterMs: v };
    case "rate":
      return { rateKbit: v };
    case "every":
      return { everyNth: v };
    default:
      return { [axis]: v };
  }
}

export function axisLabel(axis: SweepAxis, v: number): string {
  if (axis === "every") return v === 0 ? "none" : `every ${v}`;
  return `${v}${UNIT[axis]}`;
}

/** Run r's scenario seed: the sweep's seed for the first run (so it replays as `vpnlab run --seed N`), a mix of it for the others. */
export function runSeed(seed: number, run: number): number {
  return run === 0 ? seed : mixSeed(seed, run);
}

/** The scenario run at one point of the sweep: its impairing steps (or the base's) doing `imp` instead. */
export function sweptScenario(s: Scenario, base: Scenario, imp: Impairment): Scenario {
  const own = s.chaos.some((st) => st.fault);
  if (!own && !base.chaos.some((st) => st.fault)) {
    throw new UsageError(`variant ${s.variant} has no chaos step that impairs, nor has the base: nothing to put the swept value on — add a chaos step (e.g. { at: 2s, on: wan.edge, loss: 5% })`);
  }
  const steps = own ? s.chaos : base.chaos;
  const chaos = isNoImpairment(imp) ? steps.filter((st) => !st.fault) : steps.map((st) => (st.fault ? { ...st, fault: { ...st.fault, impairment: structuredClone(imp) } } : st));
  return { ...s, chaos };
}

/**
 * Every run of the sweep: variant × value × run, each its scenario. A seeded sweep (--seed, else the file's seed:)
 * gives run r its own seed, runSeed(seed, r) — N runs of one seed would replay one run N times.
 */
export function sweepCells(variants: readonly Scenario[], base: Scenario, axis: SweepAxis, values: readonly number[], fixed: Impairment, runs: number, seed: number | undefined) {
  const seedOf = (s: Scenario) => seed ?? s.seed;
  const cells = variants.flatMap((s) =>
    values.flatMap((value) =>
      Array.from({ length: runs }, (_, run) => {
        const swept = sweptScenario(s, base, { ...fixed, ...axisImpairment(axis, value) });
        const vs = seedOf(s);
        return { variant: s.variant, value, run, scenario: vs === undefined ? swept : withSeed(swept, runSeed(vs, run)) };
      }),
    ),
  );
  // the seeds line of the table: when one seed governs every variant (else each run's seed is in the JSON)
  const seeds = new Set(variants.map(seedOf));
  const one = seeds.size === 1 ? [...seeds][0] : undefined;
  const runSeeds = one === undefined ? undefined : Array.from({ length: runs }, (_, run) => runSeed(one, run));
  return { runSeeds, cells };
}

const atPoint = (axis: SweepAxis, v: number): string => (axis === "every" ? axisLabel(axis, v) : `${axis} ${axisLabel(axis, v)}`);

interface SweepArgs extends Omit<ImpairArgs, "seed"> {
  seed: number | undefined;
  file: string;
  variant: string[] | undefined;
  runtime: RuntimeKind | undefined;
  runs: number;
  jobs: number | undefined;
  json: boolean;
  out: string;
  config: string | undefined;
}

export const sweep = {
  command: "sweep <file>",
  describe: "run variants once per value of one impairment (e.g. --loss 0,1,2,5,10,20) and report where each stops surviving: a table, JSON and an SVG chart",
  builder: (y) =>
    withImpairOptions(withSeedOption(withRuntime(withTopology(y, 'sweep only this scenario ("base" names the base); repeat it or give a comma list; default every one'))), {
      options: SWEEP_AXES,
      note: "(sweep: a comma list, e.g. 0,1,2,5)",
    })
      .option("runs", { type: "number", default: 1, requiresArg: true, describe: "runs per variant and value (a cell is survives only when every run is)" })
      .option("jobs", { alias: "j", type: "number", requiresArg: true, describe: `labs side by side (1..${MAX_JOBS}); default: the config file's jobs:, else 1` })
      .option("json", { type: "boolean", default: false, describe: "print the JSON document instead of the table" })
      .option("out", { type: "string", default: "reports/sweep", requiresArg: true, describe: "where the chart (TOPOLOGY-AXIS.svg) and the JSON (TOPOLOGY-AXIS.json) go" })
      .option("config", { type: "string", requiresArg: true, describe: "the host's settings file (engines:, runtime:, jobs:); default VPNLAB_CONFIG" })
      .check((a) => {
        if (a.jobs !== undefined && (!Number.isInteger(a.jobs) || a.jobs < 1 || a.jobs > MAX_JOBS)) throw new Error(`--jobs needs a whole number from 1 to ${MAX_JOBS}`);
        if (!Number.isInteger(a.runs) || a.runs < 1 || a.runs > 100) throw new Error("--runs needs a whole number from 1 to 100");
        return true;
      })
      .example("$0 sweep topologies/asa-ips.yaml -v base,natt,esp --loss 0,1,2,5,10,20 -j 2", "the loss tolerance of cTCP behind the proxy and two remedies")
      .example("$0 sweep topologies/asa-ips.yaml -v natt --delay 0,50,200ms --runs 3", "three runs per delay")
      .example("$0 sweep topologies/asa-ips.yaml --reorder 0,5,10% --delay 10ms", "reorder swept over a fixed 10ms delay (one list: the swept impairment; single values: added at every point)"),
  run: async (a) => {
    const axes = SWEEP_AXES.filter((x) => a[x] !== undefined && a[x]!.includes(","));
    const listed = axes.length ? axes : SWEEP_AXES.filter((x) => a[x] !== undefined).slice(0, 1);
    if (listed.length !== 1) {
      throw new UsageError(axes.length > 1 ? `sweep one impairment at a time: --${axes.join(" and --")} both have lists` : `give the impairment to sweep with its values, e.g. --loss 0,1,2,5,10,20 (one of --${SWEEP_AXES.join(", --")})`);
    }
    const axis = listed[0];
    const values = parseAxisValues(axis, a[axis]!);
    const fixed = impairmentOf({ ...a, seed: undefined, [axis]: undefined });
    // every point is checked before a lab is built: a bad combination must not surface half-way
    const { validateImpairment, InvalidImpairment } = await import("../impair/impairment");
    for (const v of values) {
      try {
        validateImpairment({ ...fixed, ...axisImpairment(axis, v) });
      } catch (e) {
        if (e instanceof InvalidImpairment) throw new UsageError(`--${axis} ${axisLabel(axis, v)}: ${e.message}`);
        throw e;
      }
    }
    const seed = a.seed;
    const topology = loadTopology(a.file);
    const { configPath, loadConfig } = await import("../config");
    const { placement, withRuntimes } = await import("../runtime");
    const cfgFile = configPath(a.config);
    const cfg = cfgFile ? loadConfig(cfgFile) : undefined;
    const variants = withRuntimes(selectCells(topology, a), a.runtime, cfg?.runtime);
    const base = topology.base;
    const { runSeeds, cells } = sweepCells(variants, base, axis, values, fixed, a.runs, seed);
    // a point no backend here can serve is refused before any lab is built
    const { chaosRefusal } = await import("../impair/preflight");
    for (const c of cells) {
      const why = await chaosRefusal(c.scenario);
      if (why) throw new UsageError(`${c.scenario.name}/${c.variant} at ${atPoint(axis, c.value)}: ${why}`);
    }
    const jobs = a.jobs ?? cfg?.jobs ?? 1;
    const place = await placement(cells.map((c) => c.scenario), cfg, undefined).catch((e: Error) => {
      throw new UsageError(e.message);
    });
    const { runScenario } = await import("../scenario");
    const fixedText = isNoImpairment(fixed) ? "" : ` with ${(await import("../impair/impairment")).describeImpairment(fixed)}`;
    if (!a.json) err(`sweep ${topology.name}: ${variants.length} variant(s) × ${values.length} ${axis} value(s)${fixedText}${a.runs > 1 ? ` × ${a.runs} runs` : ""} = ${cells.length} run(s), ${jobs} at a time`);
    const results = await mapPool(cells, jobs, async (c, i) => {
      const r = await place.on(c.scenario, (where) => runScenario(c.scenario, where.options));
      if (!a.json) {
        const what = r.outcome === "lab-error" ? `LAB ERROR: ${r.error ?? r.reasons.join("; ")}` : `${r.verdict} — ${r.reasons.join("; ")}`;
        err(`  [${i + 1}/${cells.length}] ${c.variant} at ${atPoint(axis, c.value)}${a.runs > 1 ? ` (run ${c.run + 1}${c.scenario.seed !== undefined ? `, seed ${c.scenario.seed}` : ""})` : ""}: ${what}`);
      }
      return r;
    });
    const { sweepReport } = await import("../report/sweep");
    const report = sweepReport(
      { topology: topology.name, file: a.file, axis, unit: UNIT[axis], values, harsher: HARSHER[axis], show: (v) => axisLabel(axis, v), fixed, ...(seed !== undefined ? { seed } : {}), runs: a.runs, ...(runSeeds && a.runs > 1 ? { runSeeds } : {}) },
      variants,
      cells.map((c, i) => ({ variant: c.variant, value: c.value, run: c.run, result: results[i] })),
    );
    fs.mkdirSync(a.out, { recursive: true });
    const stem = path.join(a.out, `${topology.name}-${axis}`);
    fs.writeFileSync(`${stem}.json`, JSON.stringify(report.json, null, 2) + "\n");
    const { renderSweepChart } = await import("../report/sweep-chart");
    fs.writeFileSync(`${stem}.svg`, renderSweepChart(report.chart));
    if (a.json) out(JSON.stringify(report.json, null, 2));
    else {
      out(report.table);
      out(`chart: ${stem}.svg; data: ${stem}.json`);
    }
    return results.some((r) => r.outcome === "lab-error") ? 2 : 0;
  },
} satisfies Command<SweepArgs>;

