// The matrix (topologies/matrix.yaml) N times in a row: wall time per run and
// the table of every cell's verdict. Timing lives here, not in the suites.
//   npm run bench:matrix -- --runs 3 --jobs 3 [--transport T --mode M --impl I]
// Exit 0 when every cell's verdict equals its expect in every run; 1 on any
// mismatch or lab error; 2 on bad usage.
import * as path from "node:path";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { UsageError, selectCells, withSelectors } from "../harness/cli/command";
import { mapPool } from "../harness/pool";
import { matrixTable } from "../harness/report/matrix";
import { runScenario } from "../harness/scenario";
import { loadTopology } from "../harness/topology/load";

const FILE = path.join(__dirname, "..", "..", "topologies", "matrix.yaml");

async function main(): Promise<number> {
  const a = await withSelectors(
    yargs(hideBin(process.argv))
      .option("runs", { type: "number", default: 3, describe: "full runs of the matrix, one after the other" })
      .option("jobs", { type: "number", default: Number(process.env.VPNLAB_JOBS ?? 4), describe: "labs side by side" })
      .option("file", { type: "string", default: FILE, describe: "the matrix topology" }),
  )
    .strict()
    // bad usage exits 2 (yargs would exit 1), with the message only
    .fail((msg, e) => {
      throw new UsageError(msg || (e?.message ?? "bad usage"));
    })
    .check((x) => {
      for (const k of ["runs", "jobs"] as const) if (!Number.isInteger(x[k]) || x[k] < 1) throw new Error(`--${k} needs a whole number ≥ 1`);
      return true;
    })
    .parseAsync();
  const scenarios = selectCells(loadTopology(a.file), a);
  const walls: number[] = [];
  let bad = 0;
  for (let run = 1; run <= a.runs; run++) {
    const started = Date.now();
    const rs = await mapPool(scenarios, a.jobs, (s) => runScenario(s));
    const wallMs = Date.now() - started;
    walls.push(wallMs);
    const wrong = rs.filter((r) => r.outcome === "lab-error" || r.verdict !== r.expect);
    bad += wrong.length;
    console.log(`\nrun ${run}/${a.runs}: ${scenarios.length} cells in ${(wallMs / 1000).toFixed(1)} s at ${a.jobs} jobs; ${wrong.length} not as expected${wrong.length ? `: ${wrong.map((r) => r.variant).join(", ")}` : ""}`);
    console.log(matrixTable(scenarios.map((s, i) => ({ s, r: rs[i] }))));
    // why, for each cell that went wrong: a nightly reader needs the reason, not only the name
    for (const r of wrong) console.log(`  ${r.variant}: ${r.outcome === "lab-error" ? `LAB ERROR: ${r.error ?? ""}${r.fault ? ` (fault: ${JSON.stringify(r.fault)})` : ""}` : `${r.verdict}, expected ${r.expect}`} — ${r.reasons.join("; ")}`);
  }
  const secs = walls.map((w) => (w / 1000).toFixed(1));
  console.log(`\nwall time per run (s): ${secs.join(", ")}; max ${(Math.max(...walls) / 1000).toFixed(1)} s; ${bad} cell result(s) not as expected in ${a.runs} run(s)`);
  return bad > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`bench:matrix: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(e instanceof UsageError || (e instanceof Error && e.name === "YError") ? 2 : 1);
  },
);
