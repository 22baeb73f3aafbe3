// What a set of scenario results adds up to: the counts, the line under the
// table and the exit code (0 all as expected, 1 a verdict mismatch, 2 a lab error).
import type { ScenarioResult } from "../scenario";

export interface RunSummary {
  counts: { scenarios: number; passed: number; mismatches: number; labErrors: number };
  line: string;
  exitCode: number;
}

export function runSummary(results: readonly Pick<ScenarioResult, "outcome" | "passed">[]): RunSummary {
  const labErrors = results.filter((r) => r.outcome === "lab-error").length;
  const mismatches = results.filter((r) => r.outcome === "verdict" && !r.passed).length;
  const passed = results.length - labErrors - mismatches;
  return {
    counts: { scenarios: results.length, passed, mismatches, labErrors },
    line: `${passed} as expected, ${mismatches} not, ${labErrors} lab error(s)`,
    exitCode: labErrors > 0 ? 2 : mismatches > 0 ? 1 : 0,
  };
}

/** "; seed 7 — replay with --seed 7" (each variant's when they differ) when the results were seeded, else "". */
export function seedText(results: readonly Pick<ScenarioResult, "seed" | "variant">[]): string {
  const seeded = results.filter((r) => r.seed !== undefined);
  const seeds = [...new Set(seeded.map((r) => r.seed))];
  if (seeds.length === 0) return "";
  if (seeds.length === 1) return `; seed ${seeds[0]} — replay with --seed ${seeds[0]}`;
  return `; seeds ${seeded.map((r) => `${r.variant} ${r.seed}`).join(", ")} — replay one with --variant NAME --seed N`;
}
