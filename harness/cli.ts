// The `vpnlab` command.
//   vpnlab run FILE [--variant NAME ...] [--json]   run scenarios, print verdicts
//   vpnlab up FILE [--variant NAME]                 hold one lab up until Ctrl-C / `vpnlab down`
//   vpnlab ls | down NAME|--all | gc | doctor
// Exit codes: 0 every verdict equals its expect; 1 some verdict differs;
// 2 bad input or a lab error.
import { teardownOnCrash } from "./cleanup";
import { doctor } from "./doctor";
import { gc, listLabs, removeLab } from "./gc";
import { Lab } from "./lab";
import { formatTable, resultRow } from "./report/table";
import { processStart } from "./runtime/state";
import { runScenario, type ScenarioResult } from "./scenario";
import { loadTopology, selectScenarios, TopologyError } from "./topology/load";

export class UsageError extends Error {}

const USAGE = `usage:
  vpnlab run FILE [--variant NAME ...] [--json] [--jobs N]
                                                  run the base scenario and every variant (or the named ones),
                                                  N labs at a time (default 1)
  vpnlab up FILE [--variant NAME]                 build one lab, bring the tunnel up, hold it until Ctrl-C or \`vpnlab down\`
  vpnlab ls                                       labs on this machine
  vpnlab down LAB|TOPOLOGY|--all                  tear labs down
  vpnlab gc                                       remove what killed runs left behind
  vpnlab doctor                                   what this host can do`;

interface Args {
  positional: string[];
  variants: string[];
  json: boolean;
  all: boolean;
  jobs: number;
}

export function parseArgs(argv: string[]): Args {
  const a: Args = { positional: [], variants: [], json: false, all: false, jobs: 1 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--variant" || arg === "-v") {
      const v = argv[++i];
      if (!v) throw new UsageError("--variant needs a name");
      a.variants.push(...v.split(",").filter(Boolean));
    } else if (arg.startsWith("--variant=")) a.variants.push(...arg.slice(10).split(",").filter(Boolean));
    else if (arg === "--json") a.json = true;
    else if (arg === "--jobs" || arg === "-j") {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1 || n > 16) throw new UsageError("--jobs needs a whole number from 1 to 16");
      a.jobs = n;
    }
    else if (arg === "--all") a.all = true;
    else if (arg.startsWith("-")) throw new UsageError(`unknown option ${arg}`);
    else a.positional.push(arg);
  }
  return a;
}

const err = (s: string) => process.stderr.write(s.endsWith("\n") ? s : s + "\n");
const out = (s: string) => process.stdout.write(s.endsWith("\n") ? s : s + "\n");

async function cmdRun(args: Args): Promise<number> {
  const file = args.positional[0];
  if (!file) throw new UsageError("run needs a topology FILE");
  const scenarios = selectScenarios(loadTopology(file), args.variants);
  // each scenario is a lab of its own (own id, own namespaces): they may run side by side
  const results: ScenarioResult[] = new Array(scenarios.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < scenarios.length; i = next++) {
      const s = scenarios[i];
      if (!args.json) err(`running ${s.name}/${s.variant} ...`);
      const r = await runScenario(s);
      results[i] = r;
      if (!args.json) {
        const verdict = r.outcome === "lab-error" ? `LAB ERROR: ${r.error ?? r.reasons.join("; ")}` : `${r.verdict} (expected ${r.expect}) — ${r.reasons.join("; ")}`;
        err(`  ${s.variant}: ${verdict}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(args.jobs, scenarios.length) }, worker));
  const labErrors = results.filter((r) => r.outcome === "lab-error").length;
  const mismatches = results.filter((r) => r.outcome === "verdict" && !r.passed).length;
  if (args.json) {
    out(JSON.stringify({ topology: scenarios[0]?.name, file, results, summary: { scenarios: results.length, passed: results.length - labErrors - mismatches, mismatches, labErrors } }, null, 2));
  } else {
    out(formatTable(results.map(resultRow)));
    out(`${results.length - labErrors - mismatches} as expected, ${mismatches} not, ${labErrors} lab error(s)`);
  }
  return labErrors > 0 ? 2 : mismatches > 0 ? 1 : 0;
}

async function cmdUp(args: Args): Promise<number> {
  const file = args.positional[0];
  if (!file) throw new UsageError("up needs a topology FILE");
  if (args.variants.length > 1) throw new UsageError("up holds one lab: give at most one --variant");
  const [scenario] = selectScenarios(loadTopology(file), args.variants.length ? args.variants : ["base"]);
  const lab = await Lab.up(scenario, { log: err, holder: "up" });
  try {
    const up = await lab.tunnelUp();
    out(`lab ${lab.labId} (${scenario.name}/${scenario.variant}) is up; tunnel inner address ${up.inner}`);
    for (const n of scenario.nodes) out(`  ${n.name.padEnd(10)} ip netns exec ${lab.runtime.netnsName(n.name)} bash`);
    out(`stop it with Ctrl-C or \`vpnlab down ${lab.labId}\``);
  } catch (e) {
    await lab.down();
    throw e;
  }
  // held until a signal: harness/cleanup.ts tears the lab down and exits
  await new Promise(() => undefined);
  return 0;
}

async function cmdLs(): Promise<number> {
  const labs = await listLabs();
  if (labs.length === 0) {
    out("no labs");
    return 0;
  }
  out(formatTable(labs.map((l) => [l.labId, l.state?.topology ?? "?", l.state?.variant ?? "?", l.alive ? `pid ${l.state?.ownerPid}` : "orphaned (vpnlab gc)", String(l.namespaces.length), l.state?.created ?? "-"]), ["lab", "topology", "variant", "owner", "namespaces", "created"]));
  return 0;
}

async function cmdDown(args: Args): Promise<number> {
  const name = args.positional[0];
  if (!name && !args.all) throw new UsageError("down needs a lab id, a topology name or --all");
  const labs = (await listLabs()).filter((l) => args.all || l.labId === name || l.state?.topology === name);
  if (labs.length === 0) throw new UsageError(`no lab named ${name}; see \`vpnlab ls\``);
  let refused = 0;
  for (const l of labs) {
    if (l.alive && l.state && l.state.holder !== "up") {
      // a run holds several labs and reports on them: stopping it is the user's call, not a side effect
      err(`lab ${l.labId} belongs to a running \`vpnlab run\` or test (pid ${l.state.ownerPid}): stop that run (Ctrl-C, or kill -TERM ${l.state.ownerPid}); it tears its labs down`);
      refused++;
      continue;
    }
    if (l.alive && l.state) {
      // the owner holds the agents and tears the lab down itself; we only ask, by the PID it recorded
      process.kill(l.state.ownerPid, "SIGTERM");
      for (let i = 0; i < 100 && processStart(l.state.ownerPid) === l.state.ownerStart; i++) await new Promise((r) => setTimeout(r, 100));
    }
    const left = (await listLabs()).find((x) => x.labId === l.labId);
    if (left) await removeLab(left);
    out(`lab ${l.labId} down`);
  }
  return refused ? 2 : 0;
}

async function cmdGc(): Promise<number> {
  const r = await gc();
  out(`removed ${r.labs.length} lab(s), ${r.namespaces.length} namespace(s)${r.skippedLive.length ? `; left ${r.skippedLive.length} live lab(s): ${r.skippedLive.join(", ")}` : ""}`);
  for (const ns of r.namespaces) out(`  ${ns}`);
  if (r.left.length) {
    err(`could not remove (processes inside would not die): ${r.left.join(", ")}`);
    return 1;
  }
  return 0;
}

async function cmdDoctor(): Promise<number> {
  const checks = await doctor();
  for (const c of checks) {
    out(`${c.ok ? "ok     " : c.required ? "MISSING" : "absent "} ${c.name.padEnd(12)} ${c.detail}${c.ok ? "" : `\n        ${"".padEnd(12)} → ${c.fix}`}`);
  }
  return checks.some((c) => c.required && !c.ok) ? 2 : 0;
}

export async function dispatch(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const args = parseArgs(rest);
  switch (cmd) {
    case "run":
      return cmdRun(args);
    case "up":
      return cmdUp(args);
    case "ls":
      return cmdLs();
    case "down":
      return cmdDown(args);
    case "gc":
      return cmdGc();
    case "doctor":
      return cmdDoctor();
    case undefined:
    case "help":
    case "--help":
    case "-h":
      out(USAGE);
      return cmd ? 0 : 2;
    default:
      throw new UsageError(`unknown command ${cmd}`);
  }
}

export function main(argv: string[]): void {
  teardownOnCrash();
  dispatch(argv).then(
    (code) => process.exit(code),
    (e: Error) => {
      if (e instanceof TopologyError) err(`vpnlab: ${e.message}`);
      else if (e instanceof UsageError) err(`vpnlab: ${e.message}\n${USAGE}`);
      else err(`vpnlab: ${e.message}`);
      process.exit(2);
    },
  );
}
