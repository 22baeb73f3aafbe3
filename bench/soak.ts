// Soak: N consecutive `vpnlab run FILE --jobs J --json`, each a child process
// of its own session, a tally of verdicts per variant, and after every run a
// leak check: lab records and namespaces, processes the run left, and the
// host namespace's interfaces, addresses, routes and nftables tables.
//   npm run soak -- --runs 30 --jobs 3 topologies/asa-ips.yaml
// Exit 0 when every variant got the same verdict in every run, equal to its
// expect, with no lab error and nothing leaked; 1 otherwise; 2 on bad usage.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { listLabs, type LabInfo } from "../harness/gc";
import { formatTable } from "../harness/report/table";
import { NS_PREFIX, processStart } from "../harness/runtime/state";
import { diffHostNetState, hostNetState } from "../suites/host-snapshot";

const ROOT = path.join(__dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "vpnlab");
const NETNS_DIR = "/run/netns";
const VERDICTS = ["survives", "degraded", "fails", "LAB-ERROR", "missing"] as const;
type Outcome = (typeof VERDICTS)[number];

interface RunDoc {
  results: { variant: string; expect: string; outcome: "verdict" | "lab-error"; verdict?: string; error?: string; labId: string }[];
}

interface RunRecord {
  index: number;
  exit: number;
  wallMs: number;
  outcomes: Map<string, Outcome>;
  expects: Map<string, string>;
  labErrors: string[];
  leaks: string[];
  out: string;
}

/** A process still running: its session, start time (clock ticks since boot) and network namespace. */
interface Proc {
  pid: number;
  session: number;
  start: number;
  netns: string;
  cmd: string;
}

function processes(): Proc[] {
  const procs: Proc[] = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (rest[0] === "Z" || rest[0] === "X") continue; // exited, holds nothing
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ").slice(0, 120);
      let netns = "";
      try {
        netns = fs.readlinkSync(`/proc/${d}/ns/net`);
      } catch {
        // the sandbox may hide some processes' namespaces (EACCES even for root): judged by session only
      }
      procs.push({ pid: Number(d), session: Number(rest[3]), start: Number(rest[19]), netns, cmd });
    } catch {
      // gone while we looked
    }
  }
  return procs;
}

/** Network namespaces someone can still find by name: the host's own and every `ip netns` one. */
function namedNetns(): Set<string> {
  // ours is the host's: the soak runs in the host namespace (PID 1's may be unreadable in a sandbox)
  const named = new Set<string>([fs.readlinkSync("/proc/self/ns/net")]);
  let names: string[] = [];
  try {
    names = fs.readdirSync(NETNS_DIR);
  } catch {
    // no named namespaces at all
  }
  for (const n of names) {
    try {
      named.add(`net:[${fs.statSync(path.join(NETNS_DIR, n)).ino}]`);
    } catch {
      // deleted while we looked
    }
  }
  return named;
}

/**
 * What one run left behind. A lab is the run's when the run's JSON names it,
 * or when it is ownerless and was not there before (other labs on a shared
 * machine have live owners). A process is the run's when it is still in the
 * run's session, or when it started during the run inside a network
 * namespace nobody can name any more (a lab namespace deleted under it).
 */
async function leaksOf(runPid: number, runStart: number, ownLabIds: Set<string>, orphansBefore: Set<string>, hostBefore: ReturnType<typeof hostNetState>): Promise<string[]> {
  const leaks: string[] = [];
  const labs: LabInfo[] = await listLabs();
  for (const l of labs) {
    if (!ownLabIds.has(l.labId) && (l.alive || orphansBefore.has(l.labId))) continue;
    const record = l.state ? `record /run/vpnlab/${l.labId}` : "no record";
    leaks.push(`lab ${l.labId} (${l.state?.variant ?? "?"}): ${record}, objects [${l.objects.join(", ")}]`);
  }
  const named = namedNetns();
  for (const p of processes()) {
    const inSession = p.session === runPid;
    const inLostNetns = p.netns !== "" && p.start >= runStart && !named.has(p.netns);
    if (inSession || inLostNetns) leaks.push(`process ${p.pid} (${inSession ? "run's session" : `unnamed ${p.netns}`}): ${p.cmd}`);
  }
  for (const ns of fs.existsSync(NETNS_DIR) ? fs.readdirSync(NETNS_DIR) : []) {
    const id = ns.slice(NS_PREFIX.length, NS_PREFIX.length + 5);
    if (ns.startsWith(NS_PREFIX) && ownLabIds.has(id) && !labs.some((l) => l.objects.includes(`namespace ${ns}`))) leaks.push(`namespace ${ns}`);
  }
  leaks.push(...diffHostNetState(hostBefore, hostNetState()).map((d) => `host ${d}`));
  return leaks;
}

function exited(child: ReturnType<typeof spawn>): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once("close", (code, sig) => resolve(code ?? (sig === "SIGTERM" ? 143 : 128)));
  });
}

let current: ReturnType<typeof spawn> | undefined;

async function runOnce(index: number, file: string, jobs: number, variants: string[], outDir: string): Promise<RunRecord> {
  const orphansBefore = new Set((await listLabs()).filter((l) => !l.alive).map((l) => l.labId));
  const hostBefore = hostNetState();
  const out = path.join(outDir, `run-${String(index).padStart(2, "0")}.json`);
  const errFile = out.replace(/\.json$/, ".stderr");
  const stdout = fs.openSync(out, "w");
  const stderr = fs.openSync(errFile, "w");
  const args = ["run", file, "--jobs", String(jobs), "--json", ...variants.flatMap((v) => ["--variant", v])];
  const t0 = Date.now();
  // a session of its own: whatever it starts and leaves behind is still recognisable by its session id
  const child = spawn(BIN, args, { stdio: ["ignore", stdout, stderr], detached: true });
  current = child;
  fs.closeSync(stdout);
  fs.closeSync(stderr);
  const runStart = Number(processStart(child.pid ?? 0) ?? 0);
  const exit = await exited(child);
  current = undefined;
  const wallMs = Date.now() - t0;

  const rec: RunRecord = { index, exit, wallMs, outcomes: new Map(), expects: new Map(), labErrors: [], leaks: [], out };
  const ownLabIds = new Set<string>();
  try {
    const doc = JSON.parse(fs.readFileSync(out, "utf8")) as RunDoc;
    for (const r of doc.results) {
      ownLabIds.add(r.labId);
      rec.expects.set(r.variant, r.expect);
      const outcome: Outcome = r.outcome === "lab-error" ? "LAB-ERROR" : (r.verdict as Outcome);
      rec.outcomes.set(r.variant, outcome);
      if (r.outcome === "lab-error") rec.labErrors.push(`${r.variant}: ${r.error ?? "?"}`);
    }
  } catch (e) {
    rec.labErrors.push(`no complete JSON document in ${out} (exit ${exit}): ${(e as Error).message}; see ${errFile}`);
  }
  ownLabIds.delete("");
  rec.leaks = await leaksOf(child.pid ?? -1, runStart, ownLabIds, orphansBefore, hostBefore);
  return rec;
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return s.length === 0 ? "-" : `min ${sec(s[0])}  median ${sec(s[Math.floor(s.length / 2)])}  max ${sec(s[s.length - 1])}  total ${sec(s.reduce((a, b) => a + b, 0))}`;
};

function summary(runs: RunRecord[], planned: number): { text: string; ok: boolean } {
  const variants = [...new Set(runs.flatMap((r) => [...r.outcomes.keys()]))];
  const rows: string[][] = [];
  let ok = runs.length === planned;
  for (const v of variants) {
    const counts = new Map<Outcome, number>(VERDICTS.map((x) => [x, 0]));
    for (const r of runs) {
      const o = r.outcomes.get(v) ?? "missing";
      counts.set(o, (counts.get(o) ?? 0) + 1);
    }
    const seen = VERDICTS.filter((x) => (counts.get(x) ?? 0) > 0);
    const expect = runs.find((r) => r.expects.has(v))?.expects.get(v) ?? "?";
    const stable = seen.length === 1 && seen[0] === expect;
    if (!stable) ok = false;
    rows.push([v, expect, ...VERDICTS.map((x) => String(counts.get(x))), seen.length === 1 ? (stable ? "identical" : "identical, NOT expect") : "DIFFER"]);
  }
  const labErrors = runs.reduce((k, r) => k + r.labErrors.length, 0);
  const leaks = runs.map((r) => r.leaks.length);
  if (labErrors > 0 || leaks.some((n) => n > 0)) ok = false;
  const lines = [
    formatTable(rows, ["variant", "expect", ...VERDICTS, "across runs"]),
    "",
    `runs: ${runs.length} of ${planned}; exit codes: ${runs.map((r) => r.exit).join(" ")}`,
    `lab errors: ${labErrors}`,
    `leaks per run: ${leaks.join(" ")} (total ${leaks.reduce((a, b) => a + b, 0)})`,
    `wall time per run: ${stats(runs.map((r) => r.wallMs))}`,
    ok ? "SOAK OK: identical verdicts, as expected, no lab error, nothing leaked" : "SOAK FAILED",
  ];
  return { text: lines.join("\n"), ok };
}

async function main(): Promise<number> {
  const argv = await yargs(hideBin(process.argv))
    .scriptName("npm run soak --")
    .usage("$0 [--runs N] [--jobs J] [--variant NAME ...] FILE")
    .option("runs", { type: "number", default: 30, describe: "consecutive runs" })
    .option("jobs", { type: "number", default: 3, describe: "labs at a time within a run (vpnlab run --jobs)" })
    .option("variant", { type: "string", describe: "only this variant (repeatable; default all)" })
    .option("out", { type: "string", describe: "directory for each run's JSON and stderr (default reports/runs/soak-<time>)" })
    .demandCommand(1, 1, "give one topology FILE", "give one topology FILE")
    .check((a) => {
      if (!Number.isInteger(a.runs) || a.runs < 1) throw new Error("--runs needs a whole number ≥ 1");
      if (!Number.isInteger(a.jobs) || a.jobs < 1 || a.jobs > 16) throw new Error("--jobs needs a whole number from 1 to 16");
      return true;
    })
    .strict()
    .fail((msg, err) => {
      throw new Error(msg ?? err?.message);
    })
    .parse();
  const file = path.resolve(String(argv._[0]));
  // a repeated --variant arrives as an array, a single one as a string
  const variants = ([] as (string | undefined)[]).concat(argv.variant).filter((v): v is string => !!v);
  const outDir = path.resolve(argv.out ?? path.join(ROOT, "reports", "runs", `soak-${new Date().toISOString().replace(/[:.]/g, "-")}`));
  fs.mkdirSync(outDir, { recursive: true });
  console.log(`soak: ${argv.runs} run(s) of ${path.relative(process.cwd(), file)} --jobs ${argv.jobs}${variants.length ? ` --variant ${variants.join(",")}` : ""}; outputs in ${outDir}`);

  const runs: RunRecord[] = [];
  let interrupted = false;
  process.on("SIGINT", () => {
    interrupted = true;
    // our child runs in its own session, so the terminal's ^C did not reach it: pass it on, by PID
    current?.kill("SIGTERM");
  });
  for (let i = 1; i <= argv.runs && !interrupted; i++) {
    const r = await runOnce(i, file, argv.jobs, variants, outDir);
    runs.push(r);
    const verdicts = [...r.outcomes].map(([v, o]) => `${v} ${o}`).join(", ") || "no results";
    console.log(`run ${i}/${argv.runs}: ${(r.wallMs / 1000).toFixed(1)} s, exit ${r.exit}: ${verdicts}; leaks: ${r.leaks.length}`);
    for (const e of r.labErrors) console.log(`  lab error: ${e}`);
    for (const l of r.leaks) console.log(`  LEAK ${l}`);
  }
  const s = summary(runs, argv.runs);
  console.log(`\n${s.text}`);
  return s.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(`soak: ${e.message}`);
    process.exit(2);
  },
);
