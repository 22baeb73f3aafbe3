// `vpnlab nightly [FILES...] [--out DIR] [--jobs N] [--runtime R ...]`: the
// regression a lab runs every night, with no test runner — every scenario of
// every topology given (default: all of topologies/) on every runtime this
// host offers, Allure results written, the last report's history carried on,
// the HTML report generated and a summary printed.
// Exit: see NIGHTLY_EXIT (a report that could not be generated is 2, but the
// summary still names every mismatch: it never hides one, nor passes).
import type { HostConfig } from "../config";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ScenarioResult } from "../scenario";
import type { RuntimeKind, Scenario } from "../topology/model";
import { RUNTIME_KINDS } from "../topology/model";
import { PACKAGE_ROOT } from "../host/paths";
import { UsageError, knownList, seeded, selectCells, withSeedOption, type Command } from "./command";
import { err, out } from "./output";
import { runSummary, seedText } from "./summary";

export const DEFAULT_NIGHTLY_OUT = "reports/nightly";
const MAX_JOBS = 16;

/** Where a nightly keeps its run: fresh results each night, the report (whose history is the trend), the results as JSON. */
export function nightlyPaths(outDir: string) {
  return { results: path.join(outDir, "allure-results"), report: path.join(outDir, "allure-report"), json: path.join(outDir, "results.json") };
}

/** Every topology file of a directory (*.yaml, *.yml), sorted: the default set of a nightly. */
export function topologyFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/** topologies/ of the working directory when there is one (a lab's own checkout), else the package's. */
export function defaultTopologyDir(cwd = process.cwd()): string {
  const here = path.join(cwd, "topologies");
  return fs.existsSync(here) ? here : path.join(PACKAGE_ROOT, "topologies");
}

/** One line per topology and runtime (as expected / not / lab errors), then each scenario that did not come out as expected. */
export function nightlySummary(results: readonly ScenarioResult[]): string[] {
  const groups = new Map<string, ScenarioResult[]>();
  for (const r of results) {
    const key = `${r.topology} on ${r.runtime}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const w = Math.max(0, ...[...groups.keys()].map((k) => k.length));
  const lines = [...groups.entries()].map(([k, rs]) => `${k.padEnd(w)}  ${runSummary(rs).line}`);
  for (const r of results) {
    if (r.outcome === "lab-error") lines.push(`  LAB ERROR  ${r.topology}/${r.variant} on ${r.runtime}: ${r.error ?? r.reasons.join("; ")}`);
    else if (!r.passed) lines.push(`  MISMATCH   ${r.topology}/${r.variant} on ${r.runtime}: expected ${r.expect}, got ${r.verdict ?? "?"} — ${r.reasons.join("; ")}`);
  }
  return lines;
}

/** The exit rule, as --help and the README say it. */
export const NIGHTLY_EXIT =
  "Exit: 2 on a lab error; else 2 when the report could not be generated (Java missing, allure failed) — the summary still names every mismatch; else 1 when a verdict differs from its expect; else 0.";

/** Nightly's exit code (NIGHTLY_EXIT): a lab error, then a missing report (a nightly nobody can read has failed), then a mismatch. */
export function nightlyExit(o: { labErrors: number; mismatches: number; reportFailed: boolean }): number {
  if (o.labErrors > 0) return 2;
  if (o.reportFailed) return 2;
  return o.mismatches > 0 ? 1 : 0;
}

/** How a finished scenario reads on its own line. */
export function verdictLine(r: ScenarioResult): string {
  if (r.outcome === "lab-error") return `LAB ERROR: ${r.error ?? r.reasons.join("; ")}`;
  return `${r.verdict} (expected ${r.expect})${r.passed ? "" : " — MISMATCH"}`;
}

/** The runtimes to run on: the ones named (each must be available: asked for, so its absence is an error), else every one this host offers. */
async function offeredRuntimes(named: RuntimeKind[] | undefined, cfg: HostConfig | undefined): Promise<RuntimeKind[]> {
  const { runtimeModule } = await import("../runtime");
  const kinds: RuntimeKind[] = [];
  for (const k of named && named.length > 0 ? named : RUNTIME_KINDS) {
    // offered when any of its locations can carry a lab (docker: any configured engine, not only DOCKER_HOST)
    const mod = await runtimeModule(k);
    let why: string | undefined = "it has no location here";
    for (const loc of mod.locations(cfg).filter((l) => !l.remote)) {
      why = await mod.unavailable(loc.options);
      if (why === undefined) break;
    }
    if (why === undefined) kinds.push(k);
    else if (named && named.length > 0) throw new UsageError(`--runtime ${k} is not available here: ${why}`);
    else err(`nightly: runtime ${k} skipped: ${why}`);
  }
  if (kinds.length === 0) throw new UsageError("no runtime is available on this host (see `vpnlab doctor`)");
  return kinds;
}

export const nightly = {
  command: "nightly [files..]",
  describe: "run every topology (default: all of topologies/) on every runtime this host offers, write Allure results, carry the history, generate the report, print a summary",
  builder: (y) =>
    withSeedOption(y)
      .positional("files", { type: "string", array: true, describe: "topology files (default: every *.yaml of topologies/)" })
      .option("out", { type: "string", requiresArg: true, default: DEFAULT_NIGHTLY_OUT, describe: "where the run goes: allure-results/ (fresh each run), allure-report/ (kept: its history is the trend), results.json" })
      .option("jobs", { alias: "j", type: "number", requiresArg: true, describe: `labs side by side (1..${MAX_JOBS}); default: the config file's jobs:, else 1` })
      .option("runtime", {
        type: "string",
        requiresArg: true,
        describe: `only these runtimes (${RUNTIME_KINDS.join(", ")}); repeat it or give a comma list; default: every one this host offers`,
        coerce: knownList("runtime", RUNTIME_KINDS),
      })
      .option("config", { type: "string", requiresArg: true, describe: "the host's settings file (engines:, jobs:); default VPNLAB_CONFIG" })
      .check((a) => {
        if (a.jobs !== undefined && (!Number.isInteger(a.jobs) || a.jobs < 1 || a.jobs > MAX_JOBS)) throw new Error(`--jobs needs a whole number from 1 to ${MAX_JOBS}, not ${a.jobs}`);
        return true;
      })
      .epilog(NIGHTLY_EXIT)
      .example("$0 nightly", "every topology on every runtime here; the report in reports/nightly/allure-report")
      .example("$0 nightly topologies/asa-ips.yaml -j 3 --out /srv/vpnlab", "one topology, three labs at a time, published from /srv/vpnlab/allure-report"),
  run: async (a) => {
    const { loadTopology } = await import("../topology/load");
    const files = a.files && a.files.length > 0 ? a.files : topologyFiles(defaultTopologyDir());
    if (files.length === 0) throw new UsageError(`no topology file given and none in ${defaultTopologyDir()}`);
    // every file loads before any lab is built: a typo in the last file must not cost a night's run
    const topologies = files.map((f) => loadTopology(f));
    const { configPath, loadConfig } = await import("../config");
    const cfgFile = configPath(a.config);
    const cfg = cfgFile ? loadConfig(cfgFile) : undefined;
    const kinds = await offeredRuntimes(a.runtime, cfg);
    const { placement, withRuntimes } = await import("../runtime");
    const scenarios: Scenario[] = kinds.flatMap((k) => topologies.flatMap((t) => seeded(withRuntimes(selectCells(t, {}), k, undefined), a.seed)));
    const jobs = a.jobs ?? cfg?.jobs ?? 1;
    const place = await placement(scenarios, cfg, undefined).catch((e: Error) => {
      throw new UsageError(e.message);
    });
    const { findJava } = await import("../report/generate");
    // said now, not after an hour of labs; the results are written all the same
    if (!findJava()) err("nightly: Java is missing (apt-get install default-jre-headless): the scenarios run and their Allure results are written, but no HTML report");
    const paths = nightlyPaths(a.out);
    // last night's results are already in the report (and its history): tonight's start empty, or Allure would show both as retries
    fs.rmSync(paths.results, { recursive: true, force: true });
    fs.mkdirSync(paths.results, { recursive: true });
    const publish = await resultsWriter(paths.results, kinds);
    await publish.run();
    const { runScenario } = await import("../scenario");
    const { mapPool } = await import("../pool");
    const { stderrProgress } = await import("./progress");
    const progress = stderrProgress(scenarios.map((s) => ({ label: `${s.name}/${s.variant} (${s.runtime})`, phases: s.phases })), jobs);
    progress.print(`nightly: ${scenarios.length} scenario(s) of ${files.length} topology file(s) on ${kinds.join(", ")}, ${jobs} at a time`);
    progress.tickEvery();
    const t0 = Date.now();
    let results: ScenarioResult[];
    try {
      results = await mapPool(scenarios, jobs, async (s, i) => {
        progress.start(i);
        const r = await place.on(s, (where) => runScenario(s, where.options));
        progress.finish(i, verdictLine(r), r.timing.setupMs + r.timing.tunnelUpMs);
        // written as each scenario ends: a night cut short keeps what it finished
        publish.scenario(r, s);
        return r;
      });
    } finally {
      progress.end();
    }
    const s = runSummary(results);
    fs.writeFileSync(paths.json, JSON.stringify({ startedAt: new Date(t0).toISOString(), files, runtimes: kinds, results, summary: s.counts }, null, 2));
    let reportFailed = false;
    let where = `no report (results in ${paths.results})`;
    const { generateReport, JavaMissing } = await import("../report/generate");
    try {
      const g = await generateReport({ results: paths.results, out: paths.report });
      where = `${g.index} (trend of ${g.trend} run(s); generated in ${(g.ms / 1000).toFixed(1)} s)`;
    } catch (e) {
      err(`vpnlab: ${e instanceof JavaMissing ? e.message : `the report could not be generated: ${(e as Error).message}`}`);
      reportFailed = true;
    }
    for (const line of nightlySummary(results)) out(line);
    out(`${s.line} in ${Math.round((Date.now() - t0) / 1000)} s${seedText(results)}`);
    out(`report: ${where}`);
    out(`results: ${paths.json}`);
    const code = nightlyExit({ ...s.counts, reportFailed });
    // exit 2 says "no report"; the mismatches must not drown in it
    if (reportFailed && s.counts.mismatches > 0 && s.counts.labErrors === 0) out(`exit 2: no report — and ${s.counts.mismatches} verdict(s) differ from their expect (MISMATCH above)`);
    return code;
  },
} satisfies Command<{ files: string[] | undefined; out: string; jobs: number | undefined; runtime: RuntimeKind[] | undefined; config: string | undefined; seed: number | undefined }>;

/**
 * What each finished scenario leaves in the Allure results directory (its result, steps and attachments), and the
 * run's own files there (environment, categories, executor): the one place the Allure writer is plugged in.
 */
async function resultsWriter(dir: string, runtimes: readonly RuntimeKind[]) {
  const files = await import("../report/allure-files");
  return {
    run: () => files.writeRunFiles(dir, runtimes),
    scenario: (r: ScenarioResult, s: Scenario) => void files.writeScenarioResult(dir, r, s),
  };
}
