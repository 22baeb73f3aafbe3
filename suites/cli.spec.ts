// The `vpnlab` command as a pipeline sees it: complete output whatever its
// size, a reader that leaves early ends the run quietly with its status kept,
// labs side by side with --jobs, exit 2 on a lab error with nothing left
// behind, `check` as a normal user, and usage errors that name the culprit.
// Leak checks look at this file's own labs only (other suites may run labs
// on the machine at the same time).
import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadTopology } from "../harness/topology/load";
import { STATE_ROOT, listLabIds, readState } from "../harness/runtime/state";
import { labNamespaces, suiteTmp } from "./host";
import { canRead, packagesLoaded, readableCheckout } from "./readable-copy";

const ROOT = path.join(__dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "vpnlab");
const TOPOLOGIES = path.join(ROOT, "topologies");
const TOPO = path.join(TOPOLOGIES, "asa-ips.yaml");
const BAD = path.join(ROOT, "harness", "topology", "fixtures", "bad");
const PIPE_BUFFER = 65536; // what the old CLI cut its output at: one pipe buffer
const NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
/** Where `vpnlab check` runs from as nobody: the checkout, or a readable copy of what check needs (see readable-copy.ts). */
let nobodyRoot = ROOT;
/** A path of the checkout as nobody's check sees it. */
const forNobody = (p: string): string => path.join(nobodyRoot, path.relative(ROOT, p));

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stdoutBytes: number;
  stderr: string;
  /** Labs whose record named this process as owner, seen while it ran. */
  labIds: string[];
}

interface RunOptions {
  /** Close our end of the child's stdout after the first line (`| head -1`), or before anything is written. */
  closeStdout?: "after-first-line" | "at-once";
  asNobody?: boolean;
  trackLabs?: boolean;
  /** Variables set (a string) or unset (undefined) on top of this process's environment. */
  env?: Record<string, string | undefined>;
}

/** Run bin/vpnlab with its stdout on a pipe we read (or close), as a shell pipeline would. */
function vpnlab(args: string[], opts: RunOptions = {}): Promise<Ran> {
  const argv = opts.asNobody ? [...NOBODY, forNobody(BIN), ...args] : [BIN, ...args];
  const env = { ...process.env, ...opts.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], cwd: opts.asNobody ? nobodyRoot : ROOT, env });
  const chunks: Buffer[] = [];
  let stderr = "";
  const labIds = new Set<string>();
  let poll: NodeJS.Timeout | undefined;
  if (opts.trackLabs) {
    // a lab lives for seconds; a record is written before its first namespace: 50 ms polling sees every one
    poll = setInterval(() => {
      for (const id of listLabIds()) if (readState(id)?.ownerPid === child.pid) labIds.add(id);
    }, 50);
  }
  if (opts.closeStdout === "at-once") child.stdout.destroy();
  else {
    child.stdout.on("data", (b: Buffer) => {
      chunks.push(b);
      if (opts.closeStdout === "after-first-line" && b.includes(10)) child.stdout.destroy();
    });
  }
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (poll) clearInterval(poll);
      const out = Buffer.concat(chunks);
      resolve({ code, signal, stdout: out.toString(), stdoutBytes: out.length, stderr, labIds: [...labIds] });
    });
  });
}

/** What is left of these labs: namespaces and /run/vpnlab records. */
function leftOf(labIds: string[]): string[] {
  const ns = labNamespaces().filter((n) => labIds.some((id) => n.startsWith(`vl-${id}-`)));
  const records = labIds.filter((id) => fs.existsSync(path.join(STATE_ROOT, id))).map((id) => path.join(STATE_ROOT, id));
  return [...ns, ...records];
}

const STACK_TRACE = /^\s+at .+\(.*:\d+:\d+\)$|EPIPE|Error:|internal error/m;

interface RunResult {
  variant: string;
  outcome: string;
  verdict?: string;
  reasons?: string[];
  error?: string;
  phases?: { phase: string; sent: number; delivered: number }[];
  passed: boolean;
  labId: string;
  startedAt: string;
  timing: { totalMs: number };
}
interface RunDocument {
  topology: string;
  file: string;
  results: RunResult[];
  summary: { scenarios: number; passed: number; mismatches: number; labErrors: number };
}

/** A lab's [start, end] in ms since the epoch, as it reported it. */
const window = (r: RunResult): [number, number] => [Date.parse(r.startedAt), Date.parse(r.startedAt) + r.timing.totalMs];
const overlap = (a: RunResult, b: RunResult) => window(a)[0] < window(b)[1] && window(b)[0] < window(a)[1];
const windows = (d: RunDocument) => d.results.map((r) => `${r.variant} ${r.labId} [${r.startedAt} +${r.timing.totalMs} ms]`).join("; ");

/** The exit code a run document calls for: 2 on any lab error, else 1 on any mismatch, else 0. */
const codeOf = (d: RunDocument) => (d.summary.labErrors > 0 ? 2 : d.summary.mismatches > 0 ? 1 : 0);

function tmpTopology(name: string, edit: (text: string) => string): string {
  const file = path.join(suiteTmp(), `cli-${name}.yaml`);
  const original = fs.readFileSync(TOPO, "utf8");
  const text = edit(original);
  if (text === original) throw new Error(`tmpTopology(${name}): the edit changed nothing — asa-ips.yaml changed?`);
  fs.writeFileSync(file, text);
  return file;
}

/** asa-ips with short phases and no faults: a lab in about 7 s, for tests about the command, not the VPN. */
const shortPhases = (t: string) =>
  t.replace(/^phases: .*$/m, "phases:   { baseline: 1s, chaos: 1s, recovery: 2s }").replace(/^chaos: .*$/m, "chaos:    []");

describe("vpnlab command: output, jobs, lab errors", function () {
  this.timeout(120000);
  const tmp: string[] = [];
  after(() => tmp.forEach((f) => fs.rmSync(f, { force: true })));

  it("--json through a pipe: the whole document, > 64 KiB, results in order, summary right, two labs side by side with --jobs 2", async function () {
    // four (two rounds of two): the document passes one pipe buffer (two alone make about 37 kB); base carries the proxy's evidence
    const variants = ["ctcp-no-loss", "natt", "base", "ctcp-state-bypass"];
    const r = await vpnlab(["run", TOPO, "--variant", variants.slice(0, 2).join(","), "-v", variants.slice(2).join(","), "--json", "--jobs", "2"]);
    let doc: RunDocument;
    try {
      doc = JSON.parse(r.stdout) as RunDocument;
    } catch (e) {
      throw new Error(`stdout (${r.stdoutBytes} bytes, exit ${r.code}) is not one JSON document: ${(e as Error).message}\n${r.stderr}`);
    }
    expect(r.stdoutBytes, `bytes on stdout`).to.be.greaterThan(PIPE_BUFFER);
    expect(doc.results.map((x) => x.variant), "results in the order asked").to.deep.equal(variants);
    const labErrors = doc.results.filter((x) => x.outcome === "lab-error").length;
    const mismatches = doc.results.filter((x) => x.outcome === "verdict" && !x.passed).length;
    expect(doc.summary, JSON.stringify(doc.results.map((x) => [x.variant, x.outcome, x.passed]))).to.deep.equal({ scenarios: 4, passed: 4 - labErrors - mismatches, mismatches, labErrors });
    expect(r.code, `exit code for summary ${JSON.stringify(doc.summary)}\n${r.stderr}`).to.equal(codeOf(doc));
    expect(r.code, `every verdict as expected: ${JSON.stringify(doc.summary)}\n${r.stderr}`).to.equal(0);
    expect(overlap(doc.results[0], doc.results[1]), `--jobs 2: the first two labs ran side by side: ${windows(doc)}`).to.equal(true);
    expect(overlap(doc.results[2], doc.results[3]), `--jobs 2: the last two labs ran side by side: ${windows(doc)}`).to.equal(true);
    const ids = doc.results.map((x) => x.labId);
    expect(new Set(ids).size, `one lab per scenario: ${ids.join(", ")}`).to.equal(4);
    expect(leftOf(ids)).to.deep.equal([]);
    console.log(`      (stdout ${r.stdoutBytes} bytes; ${windows(doc)})`);
  });

  it("--jobs 1 runs one lab after the other", async function () {
    const file = tmpTopology("short", shortPhases);
    tmp.push(file);
    const r = await vpnlab(["run", file, "-v", "ctcp-no-loss,natt", "--json", "--jobs", "1"]);
    const doc = JSON.parse(r.stdout) as RunDocument;
    const said = doc.results.map((x) => `${x.variant}: ${x.outcome} ${x.verdict ?? "-"} (${x.error ?? (x.reasons ?? []).join("; ")}); ${(x.phases ?? []).map((p) => `${p.phase} ${p.delivered}/${p.sent}`).join(", ")}`).join("\n");
    expect(r.code, `${JSON.stringify(doc.summary)}\n${said}\n${r.stderr}`).to.equal(codeOf(doc));
    expect(doc.results.map((x) => x.variant)).to.deep.equal(["ctcp-no-loss", "natt"]);
    // real verdicts, not lab errors: no fault at all, so both survive, their probes delivered in every phase
    expect(doc.summary, `${said}\n${r.stderr}`).to.deep.equal({ scenarios: 2, passed: 2, mismatches: 0, labErrors: 0 });
    expect(r.code, said).to.equal(0);
    expect(doc.results.map((x) => [x.outcome, x.verdict]), said).to.deep.equal([["verdict", "survives"], ["verdict", "survives"]]);
    for (const x of doc.results) {
      expect(x.phases?.map((p) => p.phase), said).to.deep.equal(["baseline", "chaos", "recovery"]);
      for (const p of x.phases ?? []) expect(p.delivered, `${x.variant} ${p.phase}: probes delivered\n${said}`).to.be.greaterThan(0);
    }
    expect(overlap(doc.results[0], doc.results[1]), `--jobs 1: windows ${windows(doc)}`).to.equal(false);
    expect(window(doc.results[1])[0], windows(doc)).to.be.at.least(window(doc.results[0])[1]);
    expect(leftOf(doc.results.map((x) => x.labId))).to.deep.equal([]);
  });

  it("a reader that closes stdout early: the run ends quietly with its own exit status, labs torn down", async function () {
    const file = tmpTopology("short-early", shortPhases);
    tmp.push(file);
    // the reader is gone before the first byte: the document's write meets EPIPE (as `vpnlab run ... | true`)
    const r = await vpnlab(["run", file, "-v", "ctcp-no-loss,natt", "--json", "--jobs", "2"], { closeStdout: "at-once", trackLabs: true });
    expect(r.labIds.length, `labs of this run seen in ${STATE_ROOT}: ${r.labIds.join(", ")}`).to.equal(2);
    expect(r.signal, r.stderr).to.equal(null);
    expect(r.code, `exit status (stderr: ${r.stderr || "empty"})`).to.equal(0);
    expect(r.stderr, "nothing on stderr: no EPIPE, no stack trace").to.not.match(STACK_TRACE);
    expect(leftOf(r.labIds), `left of labs ${r.labIds.join(", ")}`).to.deep.equal([]);
  });

  it("--allure into a directory with earlier results: one warning line naming them; --allure-clean removes Allure's files only", async function () {
    const file = tmpTopology("short-allure", shortPhases);
    tmp.push(file);
    const dir = fs.mkdtempSync(path.join(suiteTmp(), "cli-allure-")); // removed with suiteTmp at exit
    // an earlier run's files, and what is not Allure's: a carried history, the user's notes
    fs.writeFileSync(path.join(dir, "00000000-0000-4000-8000-000000000001-result.json"), "{}");
    fs.writeFileSync(path.join(dir, "00000000-0000-4000-8000-000000000002-attachment.txt"), "old");
    fs.mkdirSync(path.join(dir, "history"));
    fs.writeFileSync(path.join(dir, "history", "history-trend.json"), "[]");
    fs.writeFileSync(path.join(dir, "notes.txt"), "mine");
    const results = () => fs.readdirSync(dir).filter((f) => f.endsWith("-result.json")).sort();

    const warned = await vpnlab(["run", file, "-v", "ctcp-no-loss", "--allure", dir]);
    expect(warned.code, warned.stdout + warned.stderr).to.equal(0);
    const warnings = warned.stderr.split("\n").filter((l) => /warning/.test(l));
    expect(warnings, warned.stderr).to.deep.equal([`vpnlab: warning: ${dir} already holds 1 Allure result(s) of earlier runs: the report will show them beside these (as retries); --allure-clean removes them first`]);
    expect(results(), "the earlier result kept, tonight's added").to.have.length(2);

    const cleaned = await vpnlab(["run", file, "-v", "ctcp-no-loss", "--allure", dir, "--allure-clean"]);
    expect(cleaned.code, cleaned.stdout + cleaned.stderr).to.equal(0);
    expect(cleaned.stderr, "no warning after --allure-clean").to.not.match(/warning/);
    // the two earlier results, their attachments and run files removed; this run's written
    expect(cleaned.stderr).to.match(new RegExp(`^Allure results: removed \\d+ file\\(s\\) of earlier runs from ${dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m"));
    const left = results();
    expect(left, "one result: this run's").to.have.length(1);
    expect(left[0]).to.not.match(/^00000000-/);
    expect(JSON.parse(fs.readFileSync(path.join(dir, left[0]), "utf8")).name).to.equal("asa-ips/ctcp-no-loss (netns)");
    expect(fs.existsSync(path.join(dir, "00000000-0000-4000-8000-000000000002-attachment.txt")), "the old attachment").to.equal(false);
    expect(fs.readFileSync(path.join(dir, "notes.txt"), "utf8"), "the user's file").to.equal("mine");
    expect(fs.readdirSync(path.join(dir, "history")), "the carried history").to.deep.equal(["history-trend.json"]);
    expect(fs.readdirSync(dir)).to.include.members(["environment.properties", "categories.json"]);
  });

  it("exit 2 on a lab error: LAB-ERROR in the table, nothing left behind", async function () {
    // the responder has no route back to the tunnel: the loader accepts it, baseline delivery is 0 %
    const file = tmpTopology("no-route-back", (t) => shortPhases(t).replace(/(server: +\{[^}]*ip: 10\.10\.0\.20\/24), gw: 10\.10\.0\.1 \}/, "$1 }"));
    tmp.push(file);
    const r = await vpnlab(["run", file, "-v", "natt"], { trackLabs: true });
    expect(r.code, r.stdout + r.stderr).to.equal(2);
    expect(r.stdout).to.match(/^natt\s+natt\s+full-proxy\/builtin\s+survives\s+-\s+0\.0%.*LAB-ERROR$/m);
    expect(r.stdout).to.contain("0 as expected, 0 not, 1 lab error(s)");
    expect(r.stderr).to.match(/natt: LAB ERROR: baseline delivery 0\.0% \(0\/\d+\)/);
    expect(r.labIds.length, "the run built its lab").to.equal(1);
    expect(leftOf(r.labIds)).to.deep.equal([]);
  });
});

describe("vpnlab check: validate and describe, as a normal user", function () {
  this.timeout(60000);
  const tmp: string[] = [];
  after(() => tmp.forEach((f) => fs.rmSync(f, { force: true })));
  before(function () {
    // a checkout nobody cannot read (a clone under a 0700 `mktemp -d`): check then runs from a readable copy of what it loads
    if (canRead(NOBODY, [BIN, path.join(ROOT, "dist", "harness", "cli.js"), TOPO, path.join(BAD, "bad-cidr.yaml")])) return;
    const probes = [["check", TOPO], ["check", TOPO, "--json"], ["check", path.join(BAD, "bad-cidr.yaml")]];
    const copy = path.join(suiteTmp(), "checkout");
    nobodyRoot = readableCheckout(ROOT, copy, packagesLoaded(ROOT, probes, suiteTmp()), [TOPOLOGIES, BAD]);
    expect(canRead(NOBODY, [forNobody(BIN), forNobody(TOPO)]), `nobody reads the copy in ${copy}`).to.equal(true);
  });
  after(() => {
    nobodyRoot = ROOT;
  });

  it("runs as nobody (uid 65534, no groups)", async function () {
    const id = await new Promise<string>((resolve, reject) => {
      const c = spawn(NOBODY[0], [...NOBODY.slice(1), "id", "-u"], { stdio: ["ignore", "pipe", "inherit"] });
      let s = "";
      c.stdout.on("data", (b: Buffer) => (s += b.toString()));
      c.on("error", reject);
      c.on("close", () => resolve(s.trim()));
    });
    expect(id).to.equal("65534");
  });

  const topologies = fs.readdirSync(TOPOLOGIES).filter((f) => f.endsWith(".yaml")).sort();
  for (const f of topologies) {
    it(`accepts ${f} and names every scenario (text and JSON)`, async function () {
      const file = path.join(TOPOLOGIES, f);
      const t = loadTopology(file);
      const names = ["base", ...t.variants.keys()];
      const text = await vpnlab(["check", forNobody(file)], { asNobody: true });
      expect(text.code, text.stderr).to.equal(0);
      for (const n of names) expect(text.stdout, `scenario ${n}`).to.contain(`${t.name}/${n}: expect `);
      const json = await vpnlab(["check", forNobody(file), "--json"], { asNobody: true });
      expect(json.code, json.stderr).to.equal(0);
      const doc = JSON.parse(json.stdout) as { scenarios: { variant: string; nodes: unknown[]; chaos: unknown[] }[] };
      expect(doc.scenarios.map((s) => s.variant)).to.deep.equal(names);
      expect(doc.scenarios.map((s) => s.nodes.length)).to.deep.equal(names.map((n) => (n === "base" ? t.base : t.variants.get(n)!).nodes.length));
    });
  }

  it("describes only the variants asked for, in that order", async function () {
    const r = await vpnlab(["check", forNobody(TOPO), "-v", "natt", "--variant", "base", "--json"], { asNobody: true });
    expect(r.code, r.stderr).to.equal(0);
    const doc = JSON.parse(r.stdout) as { scenarios: { variant: string; vpn: { transport: string; port: number } }[] };
    expect(doc.scenarios.map((s) => [s.variant, s.vpn.transport, s.vpn.port])).to.deep.equal([["natt", "natt", 4500], ["base", "ctcp", 10000]]);
  });

  it("prints each scenario's runtime, decided as run decides it: --runtime, the file's, the config's, VPNLAB_RUNTIME, netns", async function () {
    const cfg = path.join(suiteTmp(), "cli-runtime-config.yaml");
    fs.writeFileSync(cfg, "runtime: docker\n");
    tmp.push(cfg);
    const runtimeOf = async (args: string[], env: Record<string, string | undefined>) => {
      const r = await vpnlab(["check", TOPO, "-v", "natt", "--json", ...args], { env: { VPNLAB_CONFIG: undefined, ...env } });
      expect(r.code, r.stderr).to.equal(0);
      return (JSON.parse(r.stdout) as { scenarios: { runtime?: string }[] }).scenarios[0].runtime;
    };
    expect(await runtimeOf([], { VPNLAB_RUNTIME: undefined })).to.equal("netns");
    expect(await runtimeOf([], { VPNLAB_RUNTIME: "docker" })).to.equal("docker");
    expect(await runtimeOf(["--config", cfg], { VPNLAB_RUNTIME: "netns" }), "the config's runtime: over VPNLAB_RUNTIME").to.equal("docker");
    expect(await runtimeOf([], { VPNLAB_CONFIG: cfg, VPNLAB_RUNTIME: undefined })).to.equal("docker");
    expect(await runtimeOf(["--config", cfg, "--runtime", "netns"], {})).to.equal("netns");
    const text = await vpnlab(["check", TOPO, "-v", "natt"], { env: { VPNLAB_CONFIG: undefined, VPNLAB_RUNTIME: "docker" } });
    expect(text.stdout).to.match(/^asa-ips\/natt: expect survives, on docker$/m);
  });

  it("rejects every bad fixture with exit 2 and file:line:col", async function () {
    const fixtures = fs.readdirSync(BAD).filter((f) => f.endsWith(".yaml")).sort();
    expect(fixtures.length).to.be.greaterThan(20);
    const wrong: string[] = [];
    // four at a time: each is a process start, not a lab
    for (let i = 0; i < fixtures.length; i += 4) {
      await Promise.all(
        fixtures.slice(i, i + 4).map(async (f) => {
          const r = await vpnlab(["check", forNobody(path.join(BAD, f))], { asNobody: true });
          const at = new RegExp(`^vpnlab: ${forNobody(path.join(BAD, f)).replace(/[.]/g, "\\.")}:\\d+:\\d+: `, "m");
          if (r.code !== 2 || !at.test(r.stderr) || r.stdout !== "") wrong.push(`${f}: exit ${r.code}, stderr ${r.stderr.trim() || "(empty)"}, stdout ${r.stdout.length} bytes`);
        }),
      );
    }
    expect(wrong, wrong.join("\n")).to.deep.equal([]);
  });

  it("loads nothing that touches the system (no lab, runtime, native addon, firewall, VPN)", async function () {
    const script = `
      const cli = require(${JSON.stringify(forNobody(path.join(ROOT, "dist", "harness", "cli.js")))});
      cli.dispatch(["check", ${JSON.stringify(forNobody(TOPO))}]).then((code) => {
        const loaded = Object.keys(require.cache).filter((f) => f.includes("/dist/harness/")).map((f) => f.split("/dist/harness/")[1]);
        process.stderr.write(JSON.stringify({ code, loaded }));
      });`;
    const r = await new Promise<string>((resolve, reject) => {
      const c = spawn(NOBODY[0], [...NOBODY.slice(1), process.execPath, "-e", script], { stdio: ["ignore", "ignore", "pipe"] });
      let s = "";
      c.stderr.on("data", (b: Buffer) => (s += b.toString()));
      c.on("error", reject);
      c.on("close", () => resolve(s));
    });
    const { code, loaded } = JSON.parse(r) as { code: number; loaded: string[] };
    expect(code).to.equal(0);
    expect(loaded, "the check command and the loader were loaded").to.include.members(["cli/check.js", "topology/load.js", "report/describe.js"]);
    // what this build runs is pure declaration (vpn/support.js, the registry, the transports' and each implementation's spec.js): check reads it
    // the runtime registry too: it decides a scenario's runtime and loads no backend until one is asked for
    // and the impairment model (impair/fault.js, impair/impairment.js): the types and checks the chaos steps are read into
    const declarations = (f: string): boolean =>
      f === "impair/fault.js" || f === "impair/impairment.js" || f === "runtime/index.js" || f === "vpn/support.js" || f === "vpn/impls/index.js" || f === "vpn/impls/transports.js" || /^vpn\/impls\/[a-z]+\/spec\.js$/.test(f);
    const system = loaded.filter((f) => !declarations(f) && /^(lab|scenario|native|gc|doctor|exec)\.js$|^(runtime|firewall|impair|vpn|agent|probe)\//.test(f));
    expect(system, `modules loaded by check: ${loaded.join(", ")}`).to.deep.equal([]);
  });

  it("output larger than a pipe buffer arrives whole; a reader that leaves after one line ends it quietly", async function () {
    // forty extra variants: the JSON description passes 64 KiB several times over
    const file = path.join(suiteTmp(), "cli-big.yaml");
    const extra = Array.from({ length: 40 }, (_, i) => `  extra${i}: { vpn: { port: ${20000 + i} }, firewall: { inspect: [{ proto: tcp, port: ${20000 + i} }] } }\n`);
    fs.writeFileSync(file, fs.readFileSync(TOPO, "utf8") + extra.join(""));
    tmp.push(file);
    const whole = await vpnlab(["check", file, "--json"], { asNobody: true });
    expect(whole.code, whole.stderr).to.equal(0);
    expect(whole.stdoutBytes).to.be.greaterThan(2 * PIPE_BUFFER);
    const doc = JSON.parse(whole.stdout) as { scenarios: unknown[] };
    expect(doc.scenarios.length).to.equal(1 + loadTopology(file).variants.size);
    for (const args of [["check", file, "--json"], ["check", file]]) {
      const head = await vpnlab(args, { asNobody: true, closeStdout: "after-first-line" });
      expect(head.code, `${args.join(" ")}: exit after the reader left (stderr: ${head.stderr || "empty"})`).to.equal(0);
      expect(head.stdoutBytes, "the reader took less than the whole output").to.be.lessThan(whole.stdoutBytes);
      expect(head.stderr).to.equal("");
    }
  });
});

describe("vpnlab usage", function () {
  this.timeout(30000);

  const refused = async (args: string[], named: RegExp) => {
    const r = await vpnlab(args);
    expect(r.code, `vpnlab ${args.join(" ")}: ${r.stderr}`).to.equal(2);
    expect(r.stderr, `vpnlab ${args.join(" ")}`).to.match(named);
    expect(r.stdout, "nothing on stdout").to.equal("");
  };

  it("an unknown option is refused, naming it", () => refused(["run", TOPO, "--bogus"], /^vpnlab: Unknown argument: bogus/m));
  it("an option of another command is refused, naming it", () => refused(["ls", "--jobs", "3"], /^vpnlab: Unknown argument: jobs/m));
  it("an unknown command is refused, naming it (and the likely one)", () => refused(["rn", TOPO], /^vpnlab: unknown command rn — did you mean `run`\?/m));
  it("--jobs out of range", () => refused(["run", TOPO, "--jobs", "17"], /--jobs needs a whole number from 1 to 16, not 17/));
  it("--allure-clean without --allure", () => refused(["run", TOPO, "--allure-clean"], /--allure-clean needs --allure DIR/));
  it("a command without its FILE", () => refused(["check"], /Not enough non-option arguments.*vpnlab check --help/));
  it("down without a lab or --all", () => refused(["down"], /down needs a lab id, a topology name or --all/));
  it("up with two variants", () => refused(["up", TOPO, "-v", "base,natt"], /up holds one lab: give at most one --variant/));
  it("an empty --variant is refused (an unset shell variable must not mean every scenario)", async () => {
    await refused(["run", TOPO, "--variant", ""], /--variant needs a name/);
    await refused(["check", TOPO, "--variant=,"], /--variant needs a name/);
  });
  it("a variant named twice is described once", async () => {
    const r = await vpnlab(["check", TOPO, "-v", "natt", "-v", "natt,natt", "--json"]);
    expect(r.code, r.stderr).to.equal(0);
    expect((JSON.parse(r.stdout) as { scenarios: { variant: string }[] }).scenarios.map((x) => x.variant)).to.deep.equal(["natt"]);
  });
  it("a write error other than a gone reader (a full disk) fails the command", async () => {
    const r = spawnSync("sh", ["-c", `exec "$0" check "$1" > /dev/full`, BIN, TOPO], { encoding: "utf8" });
    expect(r.status, r.stderr).to.equal(2);
    expect(r.stderr).to.match(/cannot write to stdout: .*ENOSPC/);
  });
  it("a topology error from check is FILE:LINE:COL", () => refused(["check", TOPO, "-v", "nat-t"], /^vpnlab: .*asa-ips\.yaml:\d+:\d+: variants: unknown variant `nat-t`/m));

  it("no command prints the usage and exits 2", async function () {
    const r = await vpnlab([]);
    expect(r.code).to.equal(2);
    for (const c of ["run", "check", "up", "ls", "down", "gc", "doctor", "schema", "completion"]) expect(r.stderr).to.match(new RegExp(`^ +vpnlab ${c}\\b`, "m"));
  });

  it("run --help lists run's options and exits 0", async function () {
    const r = await vpnlab(["run", "--help"]);
    expect(r.code, r.stderr).to.equal(0);
    for (const o of ["-v, --variant", "--json", "-j, --jobs", "file"]) expect(r.stdout).to.contain(o);
    expect(r.stdout).to.not.match(/--all(?![a-z-])/); // down's --all, not run's (run has --allure)
  });

  it("--version prints package.json's version", async function () {
    const r = await vpnlab(["--version"]);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string };
    expect(r.code).to.equal(0);
    expect(r.stdout.trim()).to.equal(pkg.version);
  });

  it("completion prints a bash script for vpnlab; TAB after --variant offers FILE's scenarios", async function () {
    const script = await vpnlab(["completion"]);
    expect(script.code).to.equal(0);
    expect(script.stdout).to.contain("complete -o bashdefault -o default -F _vpnlab_yargs_completions vpnlab");
    expect(script.stdout).to.contain("vpnlab --get-yargs-completions");
    const names = ["base", ...loadTopology(TOPO).variants.keys()];
    const tab = await vpnlab(["--get-yargs-completions", "vpnlab", "run", TOPO, "--jobs", "2", "--variant", ""]);
    expect(tab.stdout.trim().split("\n")).to.deep.equal(names);
    const list = await vpnlab(["--get-yargs-completions", "vpnlab", "check", TOPO, "-v", "base,na"]);
    expect(list.stdout.trim().split("\n")).to.deep.equal(names.map((n) => `base,${n}`));
    const commands = await vpnlab(["--get-yargs-completions", "vpnlab", ""]);
    expect(commands.stdout.trim().split("\n")).to.include.members(["run", "check", "up", "ls", "down", "gc", "doctor", "schema", "completion"]);
  });

  it("schema prints schema/topology.schema.json", async function () {
    const r = await vpnlab(["schema"]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(fs.readFileSync(path.join(ROOT, "schema", "topology.schema.json"), "utf8"));
    expect((JSON.parse(r.stdout) as { type: string }).type).to.equal("object");
  });
});
