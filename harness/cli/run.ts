// `vpnlab run FILE [--variant NAME ...] [--json] [--jobs N]`: every scenario
// (or the named ones) from lab up to verdict, N labs side by side.
import type { ScenarioResult } from "../scenario";
import { mapPool } from "../pool";
import { loadTopology } from "../topology/load";
import { UsageError, seeded, selectCells, withRuntime, withSeedOption, withSelectors, withTopology, type Command } from "./command";
import type { FirewallMode, Impl, RuntimeKind, Transport } from "../topology/model";
import type { Shard } from "../topology/select";
import { err, out } from "./output";
import { runSummary, seedText } from "./summary";

export const MAX_JOBS = 16;

export const run = {
  command: "run <file>",
  describe: "run the base scenario and every variant (or the named ones) and print a verdict for each",
  builder: (y) =>
    withSeedOption(withRuntime(withSelectors(withTopology(y, 'run only this scenario ("base" names the base); repeat it or give a comma list'))))
      .option("json", { type: "boolean", default: false, describe: "print one JSON document { topology, file, results, summary } instead of the table" })
      .option("jobs", { alias: "j", type: "number", requiresArg: true, describe: `labs side by side (1..${MAX_JOBS}); default: the config file's jobs:, else 1` })
      .check((a) => {
        if (a.jobs !== undefined && (!Number.isInteger(a.jobs) || a.jobs < 1 || a.jobs > MAX_JOBS)) throw new Error(`--jobs needs a whole number from 1 to ${MAX_JOBS}, not ${Number.isNaN(a.jobs) ? "a non-number" : a.jobs}`);
        if (a["allure-clean"] && !a.allure) throw new Error("--allure-clean needs --allure DIR");
        return true;
      })
      .option("engine", {
        type: "string",
        array: true,
        requiresArg: true,
        describe: "a Docker engine for the docker runtime (unix:///path, tcp://host:port, ssh://user@host); repeat it to spread the scenarios over several; default: the config's engines:, else VPNLAB_ENGINES, else DOCKER_HOST",
      })
      .option("config", { type: "string", requiresArg: true, describe: "the host's settings file (engines:, runtime:, jobs:); default VPNLAB_CONFIG" })
      .option("allure", { type: "string", requiresArg: true, describe: "also write Allure results there: one result per scenario (steps, attachments, timeline.svg), environment, categories, executor" })
      .option("allure-clean", { type: "boolean", default: false, describe: "remove the Allure files of earlier runs from the --allure directory first (its *-result.json, *-container.json, *-attachment.*, environment.properties, categories.json, executor.json; nothing else)" })
      .option("capture", { type: "string", array: true, requiresArg: true, describe: "also capture packets on NODE.NET (a pcap per scenario under reports/captures/); repeatable, merged with the file's capture:" })
      .example("$0 run topologies/asa-ips.yaml --jobs 3", "every scenario, three labs at a time")
      .example("$0 run topologies/asa-ips.yaml --allure reports/allure-results", "every scenario, each an Allure result")
      .example("$0 run topologies/asa-ips.yaml -v base,natt --json", "two scenarios, as JSON")
      .example("$0 run topologies/matrix.yaml --shard 2/4", "the second of four CI jobs' slices")
      .example("$0 run topologies/asa-ips.yaml --runtime docker", "every scenario, each node a container")
      .example("$0 run topologies/matrix.yaml --runtime docker --engine unix:///run/d1.sock --engine unix:///run/d2.sock -j 6", "the matrix over two engines"),
  run: async (a) => {
    const topology = loadTopology(a.file);
    // loaded here: `check` and --help load nothing of the runtimes (suites/cli.spec checks it)
    const { configPath, loadConfig } = await import("../config");
    const { placement, withRuntimes } = await import("../runtime");
    const cfgFile = configPath(a.config);
    const cfg = cfgFile ? loadConfig(cfgFile) : undefined;
    const scenarios = seeded(withRuntimes(selectCells(topology, a), a.runtime, cfg?.runtime), a.seed);
    // a fault no backend here can serve is refused before any lab is built
    const { chaosRefusal } = await import("../impair/preflight");
    for (const sc of scenarios) {
      const why = await chaosRefusal(sc);
      if (why) throw new UsageError(`${sc.name}/${sc.variant}: ${why}`);
    }
    const jobs = a.jobs ?? cfg?.jobs ?? 1;
    // each lab goes whole to one location of its runtime (docker: an engine), the least busy one
    const place = await placement(scenarios, cfg, a.engine).catch((e: Error) => {
      throw new UsageError(e.message);
    });
    // loaded here, not at the top: building labs needs root and the native addon, parsing does not
    // (capture.ts brings the process helpers; `check` and --help must not load them)
    const { captureArgs, withCaptures } = await import("../capture");
    const extraCaptures = captureArgs(a, scenarios); // refused before any lab is built
    const { runScenario } = await import("../scenario");
    const { formatTable, resultRow } = await import("../report/table");
    const allure = a.allure ? { dir: a.allure, ...(await import("../report/allure-files")) } : undefined;
    if (allure) {
      // results of earlier runs in the same directory would show in the report as retries of these scenarios
      if (a.allureClean) {
        const removed = allure.cleanResults(allure.dir);
        if (removed.length) err(`Allure results: removed ${removed.length} file(s) of earlier runs from ${allure.dir}`);
      } else {
        const n = allure.earlierResults(allure.dir);
        if (n > 0) err(`vpnlab: warning: ${allure.dir} already holds ${n} Allure result(s) of earlier runs: the report will show them beside these (as retries); --allure-clean removes them first`);
      }
    }
    // on a terminal one rewritten progress line; elsewhere (CI, pipes) the plain lines below, unchanged
    const { stderrProgress } = await import("./progress");
    const progress = !a.json && process.stderr.isTTY ? stderrProgress(scenarios.map((s) => ({ label: `${s.name}/${s.variant}`, phases: s.phases })), jobs) : undefined;
    progress?.tickEvery();
    // each scenario is a lab of its own (own id, own namespaces): they may run side by side
    const results: ScenarioResult[] = await mapPool(scenarios, jobs, async (s, i) => {
      const r = await place.on(s, (where, several) => {
        if (progress) progress.start(i);
        else if (!a.json) err(`running ${s.name}/${s.variant}${several ? ` on ${where.name}` : ""} ...`);
        return runScenario(withCaptures(s, extraCaptures), where.options);
      });
      if (!a.json) {
        const verdict = r.outcome === "lab-error" ? `LAB ERROR: ${r.error ?? r.reasons.join("; ")}` : `${r.verdict} (expected ${r.expect}) — ${r.reasons.join("; ")}`;
        if (progress) progress.finish(i, verdict, r.timing.setupMs + r.timing.tunnelUpMs);
        else err(`  ${s.variant}: ${verdict}`);
      }
      // written as each scenario ends: a run cut short keeps what it finished
      allure?.writeScenarioResult(allure.dir, r, s);
      return r;
    });
    progress?.end();
    if (allure) {
      await allure.writeRunFiles(allure.dir, results.map((r) => r.runtime));
      if (!a.json) err(`Allure results: ${results.length} scenario(s) in ${allure.dir}`);
    }
    const s = runSummary(results);
    if (a.json) {
      out(JSON.stringify({ topology: topology.name, file: a.file, ...(a.shard ? { shard: a.shard } : {}), results, summary: s.counts }, null, 2));
    } else {
      out(formatTable(results.map(resultRow)));
      out(s.line + seedText(results));
    }
    return s.exitCode;
  },
} satisfies Command<{ file: string; variant: string[] | undefined; transport: Transport[] | undefined; mode: FirewallMode[] | undefined; impl: Impl[] | undefined; shard: Shard | undefined; runtime: RuntimeKind | undefined; engine: string[] | undefined; config: string | undefined; allure: string | undefined; "allure-clean": boolean; json: boolean; jobs: number | undefined; seed: number | undefined }>;
