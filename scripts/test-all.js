#!/usr/bin/env node
// `npm test`: every test group (.mocharc.js: unit, root, lab) in mocha
// processes side by side — the lab suites mostly wait on their timelines, so
// on 2 cores two lanes take about half the time of one — with one combined
// summary and JSON report at the end, as one mocha run would give them.
//
//   node scripts/test-all.js [--jobs N] [GROUP...] [SUITE...]
//     GROUP: unit, root, lab (default: all three); SUITE: a lab suite's name
//     (sweep, suites/sweep.spec.ts): only those lab suites
//   --plan: run nothing; print the order and the wall time the known
//     durations give under these rules (reports/test-durations.json)
//
// Jobs: the unit group in two halves, the root group, and each lab suite file
// on its own; the longest first (by the durations the last run recorded in
// reports/test-durations.json, else the estimates below), each free lane
// taking the next. Two rules keep the measurements honest:
//  - MEASURING jobs (they hold fine timings to tolerances: a delay within
//    10 %, a 300 ms window) never run beside each other (VPNLAB_TEST_MEASURING
//    allows more), only beside the other jobs;
//  - EXCLUSIVE jobs (they check the host has no lab namespace at all, or
//    snapshot the host) run first, one at a time, beside the unit jobs only
//    (which create nothing); nothing else starts until they are done.
// Each job's output is printed whole when it ends (never interleaved), under a
// line naming it; logs in reports/test-logs/. VPNLAB_MOCHA_JSON=FILE: the
// merged JSON report (stats, tests, passes, failures, pending) goes there.
// VPNLAB_TEST_JOBS=N: the lanes (default 2); VPNLAB_TEST_MEASURING=N: measuring
// jobs allowed at once (default 1). Exit 1 when anything failed.
"use strict";
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const ROOT = path.join(__dirname, "..");
const LOGS = path.join(ROOT, "reports", "test-logs");
const DURATIONS = path.join(ROOT, "reports", "test-durations.json");
const MOCHA = path.join(ROOT, "node_modules", "mocha", "bin", "mocha.js");

/**
 * Jobs that hold fine timings to tolerances (a delay within 10 %, a 300 ms window, a frozen agent's
 * 3 s): at most VPNLAB_TEST_MEASURING of them at once. The verdict suites (matrix, asa-ips, captures,
 * sweep, docker-parity) already run their labs side by side and are not among them.
 */
const MEASURING = new Set([
  "root",
  "suites/chaos.spec.js",
  "suites/impair-cli.spec.js",
  "suites/lab-faults.spec.js",
  "suites/wire-schedule.spec.js",
  "suites/wire.spec.js",
]);
const MAX_MEASURING = Number(process.env.VPNLAB_TEST_MEASURING || 1);
/**
 * Suites that look at the whole host (no lab namespace at all, a snapshot of it), or need it quiet (overload:
 * a frozen endpoint must read `degraded` with the sentinel on time): beside the unit jobs only, which create nothing.
 */
const EXCLUSIVE = new Set(["suites/lifecycle.spec.js", "suites/host-unchanged.spec.js", "suites/isolation.spec.js", "suites/overload.spec.js"]);
/**
 * Seconds on 2 cores, for the order of a first run (later runs use reports/test-durations.json):
 * rough, from single-suite runs and commit notes, scaled so that they add up to CI's serial 1104 s.
 */
const ESTIMATES = {
  "unit-1": 25, "unit-2": 25, root: 120,
  "suites/cli.spec.js": 125, "suites/matrix.spec.js": 125, "suites/docker-parity.spec.js": 95, "suites/lifecycle.spec.js": 80,
  "suites/chaos.spec.js": 55, "suites/asa-ips.spec.js": 50, "suites/runtime-conformance.spec.js": 45, "suites/sweep.spec.js": 30,
  "suites/nightly.spec.js": 30, "suites/docker-engines.spec.js": 30, "suites/lab-faults.spec.js": 30, "suites/impair-cli.spec.js": 25,
  "suites/captures.spec.js": 25, "suites/report-browser.spec.js": 25, "suites/firewall-counters.spec.js": 25, "suites/wire.spec.js": 25,
  "suites/docker-runtime.spec.js": 25, "suites/isolation.spec.js": 18, "suites/down.spec.js": 16, "suites/host-unchanged.spec.js": 16,
  "suites/docker-image.spec.js": 16, "suites/test-containers.spec.js": 12, "suites/wire-schedule.spec.js": 10, "suites/cli-select.spec.js": 7,
  "suites/shard.spec.js": 6, "suites/overload.spec.js": 50, "suites/dockerd-script.spec.js": 4, "suites/merge.spec.js": 3,
};

/** Seconds of the slow unit files, for a first run's halves (a 10 s timeout, Java, fuzzing, real timers). */
const UNIT_ESTIMATES = {
  "harness/report/generate.test.js": 12, "harness/runtime/docker/engine-reach.test.js": 10, "harness/topology/fuzz.test.js": 8,
  "harness/impair/backends/wire/engine.test.js": 5, "harness/firewall/proxy.test.js": 3, "harness/cli/lock.test.js": 3,
  "harness/runtime/docker/image.test.js": 2, "harness/topology/schema.test.js": 2, "harness/wait.test.js": 1.5, "harness/cli/seed.test.js": 1.5,
};

function parseArgs(argv) {
  let jobs = Number(process.env.VPNLAB_TEST_JOBS || 2);
  let plan = false;
  const groups = [];
  const suites = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--jobs") jobs = Number(argv[++i]);
    else if (argv[i] === "--plan") plan = true;
    else if (["unit", "root", "lab"].includes(argv[i])) groups.push(argv[i]);
    else {
      const name = path.basename(argv[i]).replace(/(\.spec)?\.[jt]s$/, "");
      if (!fs.existsSync(path.join(ROOT, "dist", "suites", `${name}.spec.js`))) throw new Error(`test-all: ${argv[i]} is neither --jobs N, unit, root, lab nor a lab suite (dist/suites/${name}.spec.js)`);
      suites.push(`suites/${name}.spec.js`);
    }
  }
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`test-all: --jobs/VPNLAB_TEST_JOBS must be a positive integer, got ${jobs}`);
  if (suites.length && !groups.includes("lab")) groups.push("lab");
  // no group named: VPNLAB_TESTS's (as `VPNLAB_TESTS=lab npm test` meant before), else all three
  const fromEnv = process.env.VPNLAB_TESTS && process.env.VPNLAB_TESTS !== "all" ? [process.env.VPNLAB_TESTS] : [];
  for (const g of fromEnv) if (!["unit", "root", "lab"].includes(g)) throw new Error(`test-all: VPNLAB_TESTS=${g}: expected unit, root, lab or all`);
  return { jobs, plan, groups: groups.length ? groups : fromEnv.length ? fromEnv : ["unit", "root", "lab"], suites };
}

/** The compiled files under dist/DIR ending in SUFFIX, as paths relative to dist/ (sorted: a stable split). */
function files(dir, suffix) {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(path.join(ROOT, "dist", d), { withFileTypes: true })) {
      const rel = path.join(d, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith(suffix)) out.push(rel);
    }
  };
  walk(dir);
  return out.sort();
}

function readDurations() {
  try {
    return JSON.parse(fs.readFileSync(DURATIONS, "utf8"));
  } catch {
    return {};
  }
}

/** The jobs of the groups asked for: { name, group, files, weight, measuring, exclusive }. */
function planJobs(groups, suites, known) {
  const weight = (name) => known[name] ?? ESTIMATES[name] ?? 20;
  const jobs = [];
  const harness = files("harness", ".test.js");
  if (groups.includes("unit")) {
    // two halves, balanced by the last run's per-file seconds (the quick loop's slow files: fuzz, Java, a timeout)
    const halves = [[], []];
    const sum = [0, 0];
    const perFile = (f) => known[`unit:${f}`] ?? UNIT_ESTIMATES[f] ?? 0.3;
    for (const f of [...harness].sort((a, b) => perFile(b) - perFile(a))) {
      const i = sum[0] <= sum[1] ? 0 : 1;
      halves[i].push(f);
      sum[i] += perFile(f);
    }
    halves.forEach((h, i) => jobs.push({ name: `unit-${i + 1}`, group: "unit", files: h }));
  }
  if (groups.includes("root")) jobs.push({ name: "root", group: "root", files: harness });
  if (groups.includes("lab")) for (const f of files("suites", ".spec.js")) if (!suites.length || suites.includes(f)) jobs.push({ name: f, group: "lab", files: [f] });
  for (const j of jobs) {
    j.weight = weight(j.name);
    j.measuring = MEASURING.has(j.name);
    j.exclusive = EXCLUSIVE.has(j.name);
    j.quiet = j.group === "unit";
  }
  // the exclusive ones first (the unit jobs fill the other lanes meanwhile), then the longest first
  return jobs.sort((a, b) => Number(b.exclusive) - Number(a.exclusive) || b.weight - a.weight);
}

/** Mocha on the job's files, its group's title filter from VPNLAB_TESTS; output to a log, JSON to a temp file. */
function runJob(job, tmp) {
  const log = path.join(LOGS, `${job.name.replace(/[/]/g, "_")}.log`);
  const json = path.join(tmp, `${job.name.replace(/[/]/g, "_")}.json`);
  const out = fs.openSync(log, "w");
  const started = Date.now();
  const child = spawn(process.execPath, [MOCHA, ...job.files.map((f) => path.join("dist", f))], {
    cwd: ROOT,
    // colours as mocha would give this terminal (its output goes to a file first)
    env: { ...process.env, VPNLAB_TESTS: job.group, VPNLAB_MOCHA_JSON: json, ...(process.stdout.isTTY && process.env.FORCE_COLOR === undefined ? { FORCE_COLOR: "1" } : {}) },
    stdio: ["ignore", out, out],
    detached: true, // its own process group: an interrupted run ends the job's whole tree
  });
  running.add(child);
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      running.delete(child);
      fs.closeSync(out);
      let report;
      try {
        report = JSON.parse(fs.readFileSync(json, "utf8"));
      } catch {
        report = undefined;
      }
      resolve({ job, code, signal, seconds: (Date.now() - started) / 1000, log, report });
    });
  });
}

const running = new Set();
let tmpDir; // the run's temp dir (the jobs' JSON reports), removed however the run ends
let stopping = false;
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    const code = sig === "SIGINT" ? 130 : sig === "SIGTERM" ? 143 : 129;
    const signalAll = (s) => {
      for (const c of running) {
        try {
          process.kill(-c.pid, s); // the job's whole group: mocha and everything it started
        } catch {
          /* gone */
        }
      }
    };
    // SIGTERM: mocha tears its labs down (harness/cleanup.ts); wait for that, bounded, before the caller
    // (.ci/run's trap) stops what the labs stand on; then SIGKILL whatever is left of the groups
    signalAll("SIGTERM");
    const deadline = Date.now() + 30_000;
    const done = () => {
      if (running.size > 0 && Date.now() < deadline) return void setTimeout(done, 100);
      signalAll("SIGKILL");
      if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
      process.exit(code);
    };
    done();
  });
}

/** Whether JOB may start beside the ACTIVE ones under the two rules above. */
function canStart(job, active) {
  const others = [...active];
  if (job.exclusive) return others.every((j) => j.quiet);
  if (!job.quiet && others.some((j) => j.exclusive)) return false;
  return !(job.measuring && others.filter((j) => j.measuring).length >= MAX_MEASURING);
}

/** The next job to start beside ACTIVE, taken out of QUEUE; undefined when none may start now. */
function take(queue, active) {
  // an exclusive job waits for its turn in order: nothing passes it but the quiet ones
  const i = queue.findIndex((j, k) => canStart(j, active) && (j.quiet || !queue.slice(0, k).some((e) => e.exclusive)));
  return i < 0 ? undefined : queue.splice(i, 1)[0];
}

/** --plan: the same rules on the jobs' weights (seconds) instead of running them. */
function simulate(jobs, lanes) {
  const queue = [...jobs];
  const active = new Map(); // job → its end
  let now = 0;
  const starts = [];
  for (;;) {
    let job;
    while (active.size < lanes && (job = take(queue, new Set(active.keys())))) {
      active.set(job, now + job.weight);
      starts.push(`${String(Math.round(now)).padStart(5)} s  ${job.name} (${job.weight} s)`);
    }
    if (active.size === 0) break;
    const [first, end] = [...active.entries()].sort((a, b) => a[1] - b[1])[0];
    active.delete(first);
    now = end;
  }
  return { starts, wall: now };
}

/** Run the jobs in LANES lanes, in order where the rules allow; print each as it ends. */
async function schedule(jobs, lanes, tmp, onDone) {
  const queue = [...jobs];
  const active = new Set();
  const results = [];
  await new Promise((resolve) => {
    const next = () => {
      let job;
      while (active.size < lanes && (job = take(queue, active))) {
        const started = job;
        active.add(started);
        void runJob(started, tmp).then((r) => {
          active.delete(started);
          results.push(r);
          onDone(r);
          next();
        });
      }
      if (active.size === 0 && queue.length === 0) resolve();
    };
    next();
  });
  return results;
}

const count = (r, k) => (r.report ? r.report.stats[k] ?? 0 : 0);

function printJob(r) {
  const failed = count(r, "failures") + (r.report ? 0 : 1);
  const head = `── ${r.job.name} (${r.seconds.toFixed(0)} s): ${count(r, "passes")} passing, ${failed} failing, ${count(r, "pending")} pending${r.code ? `, exit ${r.code}` : ""}${r.signal ? `, ${r.signal}` : ""}`;
  process.stdout.write(`\n${head}\n`);
  process.stdout.write(fs.readFileSync(r.log, "utf8"));
}

/** One JSON report as mocha's json reporter writes it, of all the jobs. */
function mergeReports(results, started) {
  const merged = { stats: { suites: 0, tests: 0, passes: 0, pending: 0, failures: 0, start: new Date(started).toISOString(), end: new Date().toISOString(), duration: Date.now() - started }, tests: [], pending: [], failures: [], passes: [] };
  for (const r of results) {
    if (!r.report) continue;
    for (const k of ["suites", "tests", "passes", "pending", "failures"]) merged.stats[k] += r.report.stats[k] ?? 0;
    for (const k of ["tests", "pending", "failures", "passes"]) merged[k].push(...(r.report[k] ?? []));
  }
  return merged;
}

/** Seconds per job (and per unit file), for the next run's order. */
function recordDurations(results, known) {
  const next = { ...known };
  for (const r of results) {
    if (!r.report || r.signal) continue;
    next[r.job.name] = Math.round(r.seconds);
    if (r.job.group === "unit") {
      const per = {};
      for (const t of r.report.tests) {
        const f = path.relative(path.join(ROOT, "dist"), t.file ?? "");
        per[f] = (per[f] ?? 0) + (t.duration ?? 0) / 1000;
      }
      for (const [f, s] of Object.entries(per)) next[`unit:${f}`] = Math.round(s * 10) / 10;
    }
  }
  fs.writeFileSync(DURATIONS, JSON.stringify(next, null, 2) + "\n");
}

async function main() {
  const { jobs: lanes, plan, groups, suites } = parseArgs(process.argv.slice(2));
  if (plan) {
    const sim = simulate(planJobs(groups, suites, readDurations()), lanes);
    process.stdout.write(`${sim.starts.join("\n")}\nestimated wall time in ${lanes} lanes: ${Math.round(sim.wall)} s (${(sim.wall / 60).toFixed(1)} min)\n`);
    return;
  }
  fs.mkdirSync(LOGS, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vpnlab-test-all-"));
  tmpDir = tmp;
  const known = readDurations();
  const jobs = planJobs(groups, suites, known);
  const started = Date.now();
  process.stdout.write(`test-all: ${jobs.length} jobs (${groups.join(", ")}) in ${lanes} lanes; logs in ${path.relative(process.cwd(), LOGS)}/\n`);
  const results = await schedule(jobs, lanes, tmp, printJob);
  const merged = mergeReports(results, started);
  const broken = results.filter((r) => !r.report);
  if (process.env.VPNLAB_MOCHA_JSON) fs.writeFileSync(process.env.VPNLAB_MOCHA_JSON, JSON.stringify(merged, null, 2));
  recordDurations(results, known);
  fs.rmSync(tmp, { recursive: true, force: true });

  const failing = merged.stats.failures + broken.length;
  const wall = (Date.now() - started) / 1000;
  process.stdout.write(`\n══ test-all: ${results.length} jobs in ${lanes} lanes, ${wall.toFixed(0)} s\n`);
  for (const r of [...results].sort((a, b) => b.seconds - a.seconds)) process.stdout.write(`   ${r.seconds.toFixed(0).padStart(5)} s  ${r.job.name}${r.job.measuring ? " (measuring)" : ""}${r.job.exclusive ? " (exclusive)" : ""}\n`);
  for (const f of merged.failures) process.stdout.write(`   failed: ${path.relative(ROOT, f.file ?? "")}: ${f.fullTitle}\n`);
  for (const r of broken) process.stdout.write(`   failed: job ${r.job.name} wrote no report (exit ${r.code ?? r.signal}); see ${path.relative(process.cwd(), r.log)}\n`);
  // mocha's own summary lines, for whoever reads counts off the log (.ci/run takes the last ones)
  process.stdout.write(`\n  ${merged.stats.passes} passing (${Math.floor(wall / 60)}m ${Math.round(wall % 60)}s)\n`);
  // always all three: a job's own "N failing" further up must never be the last one a reader finds
  process.stdout.write(`  ${merged.stats.pending} pending\n`);
  process.stdout.write(`  ${failing} failing\n`);
  process.exitCode = failing || results.some((r) => r.code) ? 1 : 0;
}

main().catch((e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(2);
});
