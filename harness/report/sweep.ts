// What a finished `vpnlab sweep` says: each cell's verdict over its runs,
// each variant's tolerance ("survives up to 2%, fails from 5%"), the table,
// the JSON document and the chart's input. Pure.
import type { Impairment } from "../impair/impairment";
import { isNoImpairment } from "../impair/impairment";
import type { ScenarioResult } from "../scenario";
import type { Scenario } from "../topology/model";
import type { CellVerdict, SweepChart } from "./sweep-chart";
import { formatTable } from "./table";

type RunVerdict = Pick<ScenarioResult, "outcome" | "verdict">;

/** One cell's verdict over its runs: theirs when they agree, "mixed" when not, "lab-error" when one was. */
export function cellVerdict(runs: readonly RunVerdict[]): CellVerdict {
  if (runs.some((r) => r.outcome === "lab-error" || r.verdict === undefined)) return "lab-error";
  const first = runs[0].verdict!;
  return runs.every((r) => r.verdict === first) ? first : "mixed";
}

export function cellLabel(runs: readonly RunVerdict[]): string {
  const v = cellVerdict(runs);
  if (runs.length === 1 || v === "lab-error") return v;
  if (v === "mixed") return `${runs.filter((r) => r.verdict === "survives").length}/${runs.length} survive`;
  return `${v} ${runs.length}/${runs.length}`;
}

/**
 * Which way an axis gets harsher: "higher" (loss, delay, …: "survives up to 2%, fails from 5%") or "lower"
 * (rate, every: "survives down to 500kbit, fails from 100kbit").
 */
export type Harsher = "higher" | "lower";

/**
 * "survives up to 2%, fails from 5%" over the cells in severity order (mildest first — the caller orders them,
 * e.g. rate 2000, 500, 100kbit); `harsher` only picks the words ("up to" or "down to").
 */
export function tolerance(values: readonly number[], verdicts: readonly CellVerdict[], show: (v: number) => string, harsher: Harsher = "higher"): { survivesUpTo?: number; firstNot?: { value: number; verdict: CellVerdict }; text: string } {
  const firstBad = verdicts.findIndex((v) => v !== "survives");
  const label = (i: number) => show(values[i]);
  const upTo = harsher === "higher" ? "up to" : "down to";
  if (firstBad < 0) return { survivesUpTo: values[values.length - 1], text: `survives every value (${upTo} ${label(values.length - 1)})` };
  const firstNot = { value: values[firstBad], verdict: verdicts[firstBad] };
  const how = verdicts[firstBad] === "mixed" ? "not always survives" : verdicts[firstBad] === "lab-error" ? "lab error" : verdicts[firstBad];
  const again = verdicts.slice(firstBad + 1).map((v, k) => (v === "survives" ? label(firstBad + 1 + k) : "")).filter(Boolean);
  const note = again.length ? ` (survives again at ${again.join(", ")})` : "";
  if (firstBad === 0) return { firstNot, text: `${how} from ${label(0)}${note}` };
  // "down to" a value of none (every 0) reads wrong: it survives only without the impairment
  const upToLast = harsher === "lower" && values[firstBad - 1] === 0 ? "only at" : upTo;
  return { survivesUpTo: values[firstBad - 1], firstNot, text: `survives ${upToLast} ${label(firstBad - 1)}, ${how} from ${label(firstBad)}${note}` };
}

/** What was swept: the values of one axis (in its unit, mildest first), the impairment added at every point, the runs per cell. */
export interface SweepInput {
  topology: string;
  file: string;
  axis: string;
  unit: string;
  /** In severity order, mildest first: the table's and the chart's columns and the tolerance go this way. */
  values: readonly number[];
  /** Which way the axis gets harsher (default higher). */
  harsher?: Harsher;
  /** How a value is shown (default value + unit). */
  show?: (v: number) => string;
  /** Each run's scenario seed (run r's at index r), when the sweep was seeded. */
  runSeeds?: readonly number[];
  fixed: Impairment;
  seed?: number;
  runs: number;
}

/** Table, JSON and chart of a finished sweep (pure). */
export function sweepReport(
  sw: SweepInput,
  variants: readonly Pick<Scenario, "variant" | "expect" | "chaos">[],
  done: readonly { variant: string; value: number; run?: number; result: Pick<ScenarioResult, "outcome" | "verdict" | "reasons" | "error" | "labId" | "timing"> & { seed?: number } }[],
) {
  const { topology, file, axis, unit, values, fixed, seed, runs, runSeeds } = sw;
  const harsher = sw.harsher ?? "higher";
  const show = sw.show ?? ((v: number) => `${v}${unit}`);
  const rows = variants.map((s) => {
    const cells = values.map((value) => {
      const ds = done.filter((d) => d.variant === s.variant && d.value === value);
      const rs = ds.map((d) => d.result);
      return { value, verdict: cellVerdict(rs), label: cellLabel(rs), runs: rs, runIndex: ds.map((d) => d.run) };
    });
    return { variant: s.variant, expect: s.expect, cells, tolerance: tolerance(values, cells.map((c) => c.verdict), show, harsher) };
  });
  const grid = formatTable(
    rows.map((r) => [r.variant, ...r.cells.map((c) => c.label), r.tolerance.text]),
    ["variant", ...values.map((v) => show(v)), "tolerance"],
  );
  // each run's seed, so any run replays alone with `vpnlab run --seed`
  const table = runSeeds?.length ? `${grid}\nseeds: ${runSeeds.map((s, r) => `run ${r + 1} ${s}`).join(", ")}` : grid;
  const target = [...new Set(variants.flatMap((s) => s.chaos.filter((st) => st.fault).map((st) => (st.on.net ? `${st.on.node}.${st.on.net}` : st.on.node))))].join(", ");
  const axisText = `${axis}${isNoImpairment(fixed) ? "" : " (with the fixed impairment)"}${target ? ` on ${target}` : ""}`;
  const chart: SweepChart = {
    title: `${topology}: verdict by ${axis}${runs > 1 ? ` (${runs} runs per cell)` : ""}`,
    axis: axisText,
    values: values.map((v) => show(v)),
    rows: rows.map((r) => ({ variant: r.variant, cells: r.cells.map((c) => ({ verdict: c.verdict, label: c.label })), tolerance: r.tolerance.text })),
  };
  const json = {
    topology,
    file,
    axis,
    unit: unit,
    values,
    harsher,
    fixed,
    ...(seed !== undefined ? { seed } : {}),
    runs,
    ...(runSeeds?.length ? { runSeeds } : {}),
    variants: rows.map((r) => ({
      variant: r.variant,
      expect: r.expect,
      tolerance: r.tolerance,
      cells: r.cells.map((c) => ({
        value: c.value,
        verdict: c.verdict,
        runs: c.runs.map((x, k) => ({ ...(c.runIndex[k] !== undefined ? { run: c.runIndex[k]! + 1 } : {}), labId: x.labId, outcome: x.outcome, verdict: x.verdict, reasons: x.reasons, ...(x.error ? { error: x.error } : {}), ...(x.seed !== undefined ? { seed: x.seed } : {}), totalMs: x.timing.totalMs })),
      })),
    })),
  };
  return { table, chart, json };
}
