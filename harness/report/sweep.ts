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

/** "survives up to 2%, fails from 5%" over the cells in ascending value order. */
export function tolerance(values: readonly number[], verdicts: readonly CellVerdict[], show: (v: number) => string): { survivesUpTo?: number; firstNot?: { value: number; verdict: CellVerdict }; text: string } {
  const firstBad = verdicts.findIndex((v) => v !== "survives");
  const label = (i: number) => show(values[i]);
  if (firstBad < 0) return { survivesUpTo: values[values.length - 1], text: `survives every value (up to ${label(values.length - 1)})` };
  const firstNot = { value: values[firstBad], verdict: verdicts[firstBad] };
  const how = verdicts[firstBad] === "mixed" ? "not always survives" : verdicts[firstBad] === "lab-error" ? "lab error" : verdicts[firstBad];
  const again = verdicts.slice(firstBad + 1).map((v, k) => (v === "survives" ? label(firstBad + 1 + k) : "")).filter(Boolean);
  const note = again.length ? ` (survives again at ${again.join(", ")})` : "";
  if (firstBad === 0) return { firstNot, text: `${how} from ${label(0)}${note}` };
  return { survivesUpTo: values[firstBad - 1], firstNot, text: `survives up to ${label(firstBad - 1)}, ${how} from ${label(firstBad)}${note}` };
}

/** What was swept: the values of one axis (in its unit), the impairment added at every point, the runs per cell. */
export interface SweepInput {
  topology: string;
  file: string;
  axis: string;
  unit: string;
  values: readonly number[];
  fixed: Impairment;
  seed?: number;
  runs: number;
}

/** Table, JSON and chart of a finished sweep (pure). */
export function sweepReport(
  sw: SweepInput,
  variants: readonly Pick<Scenario, "variant" | "expect" | "chaos">[],
  done: readonly { variant: string; value: number; result: Pick<ScenarioResult, "outcome" | "verdict" | "reasons" | "error" | "labId" | "timing"> & { seed?: number } }[],
) {
  const { topology, file, axis, unit, values, fixed, seed, runs } = sw;
  const show = (v: number) => `${v}${unit}`;
  const rows = variants.map((s) => {
    const cells = values.map((value) => {
      const rs = done.filter((d) => d.variant === s.variant && d.value === value).map((d) => d.result);
      return { value, verdict: cellVerdict(rs), label: cellLabel(rs), runs: rs };
    });
    return { variant: s.variant, expect: s.expect, cells, tolerance: tolerance(values, cells.map((c) => c.verdict), show) };
  });
  const table = formatTable(
    rows.map((r) => [r.variant, ...r.cells.map((c) => c.label), r.tolerance.text]),
    ["variant", ...values.map((v) => show(v)), "tolerance"],
  );
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
    fixed,
    ...(seed !== undefined ? { seed } : {}),
    runs,
    variants: rows.map((r) => ({
      variant: r.variant,
      expect: r.expect,
      tolerance: r.tolerance,
      cells: r.cells.map((c) => ({
        value: c.value,
        verdict: c.verdict,
        runs: c.runs.map((x) => ({ labId: x.labId, outcome: x.outcome, verdict: x.verdict, reasons: x.reasons, ...(x.error ? { error: x.error } : {}), ...(x.seed !== undefined ? { seed: x.seed } : {}), totalMs: x.timing.totalMs })),
      })),
    })),
  };
  return { table, chart, json };
}
