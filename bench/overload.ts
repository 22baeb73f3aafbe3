// The overload sentinel under a real overload: N asa-ips labs at once beside
// CPU hogs on this host, then the same at --jobs 3. Prints every scenario's
// outcome and the host's load as the sentinel saw it; asserts nothing. What
// must hold (issue 14): an overloaded run gives lab errors naming the host —
// never a remedy reported as failing — and the quiet run is all as expected.
//   node dist/bench/overload.js [--labs 16] [--hogs 1] [--jobs-after 3] [--hog-after]
import { fork, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { mapPool } from "../harness/pool";
import { runScenario, type ScenarioResult } from "../harness/scenario";
import { loadTopology, selectScenarios } from "../harness/topology/load";

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const LABS = arg("labs", 16);
const HOGS = arg("hogs", 1);
const JOBS_AFTER = arg("jobs-after", 3);
const HOG_AFTER = process.argv.includes("--hog-after");

function startHogs(n: number): ChildProcess[] {
  // a busy loop per hog, in its own process, ended by PID below
  return Array.from({ length: n }, () => fork(__filename, ["--hog"], { stdio: "ignore" }));
}

function line(r: ScenarioResult): string {
  const got = r.outcome === "lab-error" ? "LAB-ERROR" : r.verdict;
  const h = r.evidence.host;
  const host = h ? `sentinel ${h.sentinelStallMs} ms, psi some ${h.cpuSomeShare === undefined ? "-" : `${(h.cpuSomeShare * 100).toFixed(0)}%`}` : "no host measure";
  const e = r.evidence.endpointStall;
  return `  ${r.variant.padEnd(18)} expect ${r.expect.padEnd(8)} got ${String(got).padEnd(9)} ${host}; longest agent stall ${e ? `${e.ms} ms (${e.node})` : "-"}${r.outcome === "lab-error" ? `\n      ${r.error}` : ""}`;
}

async function round(title: string, jobs: number, hogs: number): Promise<void> {
  const all = selectScenarios(loadTopology(path.join(__dirname, "..", "..", "topologies", "asa-ips.yaml")), []);
  const scenarios = Array.from({ length: jobs === JOBS_AFTER ? all.length : LABS }, (_, i) => all[i % all.length]);
  const hogProcs = startHogs(hogs);
  const t0 = Date.now();
  try {
    const rs = await mapPool(scenarios, jobs, (s) => runScenario(s));
    const labErrors = rs.filter((r) => r.outcome === "lab-error");
    const remedyFails = rs.filter((r) => r.outcome === "verdict" && r.expect === "survives" && r.verdict !== "survives");
    const asExpected = rs.filter((r) => r.passed).length;
    console.log(`${title}: ${rs.length} scenarios at --jobs ${jobs} beside ${hogs} CPU hog(s), ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    for (const r of rs) console.log(line(r));
    const namingHost = labErrors.filter((r) => /the host was overloaded/.test(r.error ?? "")).length;
    console.log(`  => ${asExpected} as expected, ${labErrors.length} lab errors (${namingHost} naming the host), ${remedyFails.length} remedies reported short of survives`);
  } finally {
    for (const h of hogProcs) h.kill("SIGKILL");
  }
}

async function main(): Promise<void> {
  await round("overloaded", LABS, HOGS);
  await round("after", JOBS_AFTER, HOG_AFTER ? HOGS : 0);
}

if (process.argv.includes("--hog")) {
  for (;;);
} else {
  main().then(
    () => (process.exitCode = 0),
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
