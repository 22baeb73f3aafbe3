// Harness faults are lab errors, never verdicts. Each piece of a running lab
// is killed in turn in the middle of a scenario — an agent on each node, the
// builtin proxy, HAProxy, the wire serving a fault, a node's namespace — through `vpnlab run` as a user
// runs it. Every run must end with LAB-ERROR naming the piece and when it
// died, exit 2, and leave nothing behind. Without the fault watch, each of
// these would have been reported as "fails" (the tunnel or the probe dies).
import { expect } from "chai";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { listLabIds, processStart, readState, STATE_ROOT } from "../harness/runtime/state";
import { labNamespaces, suiteTmp } from "./host";

const ROOT = path.join(__dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "vpnlab");
const TOPO = path.join(ROOT, "topologies", "asa-ips.yaml");

interface Kill {
  name: string;
  variant: string;
  /** Kill the piece in lab `id`; returns what the error must name. */
  kill: (id: string) => RegExp;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Packets the client's TUN sent (the probe's, into the tunnel); 0 while it does not exist. */
function tunTxPackets(ns: string): number {
  const r = spawnSync("ip", ["-n", ns, "-j", "-s", "link", "show", "tun-vpn"], { encoding: "utf8" });
  if (r.status !== 0) return 0;
  const [link] = JSON.parse(r.stdout) as { stats64?: { tx?: { packets?: number } } }[];
  return link?.stats64?.tx?.packets ?? 0;
}
const nsOf = (id: string, node: string) => `vl-${id}-${node}`;
const pidsIn = (ns: string): number[] =>
  spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout.split(/\s+/).filter(Boolean).map(Number);
const cmdline = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
};

/** The one process in NODE's namespace whose command line matches (on docker, not the nsenter that started it). */
function pieceIn(id: string, node: string, re: RegExp): number {
  const pids = pidsIn(nsOf(id, node)).filter((p) => re.test(cmdline(p)) && !cmdline(p).startsWith("nsenter "));
  if (pids.length !== 1) throw new Error(`expected one process matching ${re} on ${node} of lab ${id}, found ${JSON.stringify(pids.map((p) => [p, cmdline(p)]))}`);
  return pids[0];
}

function killPiece(id: string, node: string, re: RegExp): void {
  process.kill(pieceIn(id, node, re), "SIGKILL");
}

const KILLS: Kill[] = [
  ...["client", "headend", "server"].map((node) => ({
    name: `the agent on ${node}`,
    variant: "ctcp-no-loss",
    kill: (id: string) => {
      killPiece(id, node, /agent\/main\.js/);
      return new RegExp(`the agent on ${node} \\(pid \\d+\\) exited \\(SIGKILL\\)`);
    },
  })),
  {
    name: "the builtin proxy",
    variant: "ctcp-no-loss",
    kill: (id) => {
      killPiece(id, "firewall", /proxy-main\.js/);
      return /the builtin proxy on firewall \(pid \d+\) exited \(SIGKILL\)/;
    },
  },
  {
    name: "HAProxy",
    variant: "fault-haproxy",
    kill: (id) => {
      killPiece(id, "firewall", /haproxy/);
      return /HAProxy on firewall \(pid \d+\) exited \(SIGKILL\)/;
    },
  },
  {
    // no netem here: the wire serves the delay; dead, its TUN goes and traffic would flow unimpaired
    name: "the wire on wan.edge",
    variant: "fault-wire",
    kill: (id) => {
      killPiece(id, "wan", /--tun-a/);
      return /the wire on wan\.edge egress \(pid \d+\) died while its fault was in place/;
    },
  },
  {
    name: "the wan router's namespace",
    variant: "ctcp-no-loss",
    kill: (id) => {
      const r = spawnSync("ip", ["netns", "del", nsOf(id, "wan")], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`ip netns del: ${r.stderr}`);
      return new RegExp(`namespace vl-${id}-wan \\(node wan\\) was deleted`);
    },
  },
];

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  labId: string;
  expected: RegExp;
  pidsBefore: { pid: number; start?: string }[];
}

async function runAndKill(file: string, k: Kill): Promise<Outcome> {
  const child: ChildProcess = spawn(BIN, ["run", file, "--variant", k.variant, "--json"], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  try {
    // the run's lab: the record whose owner is this child
    let labId: string | undefined;
    for (let i = 0; i < 300 && !labId; i++) {
      await sleep(100);
      labId = listLabIds().find((id) => readState(id)?.ownerPid === child.pid);
    }
    if (!labId) throw new Error(`the run made no lab within 30 s\n${stderr}`);
    // mid-scenario: the probe is running once the client's TUN has carried a few of its packets
    let probing = false;
    for (let i = 0; i < 300 && !probing; i++) {
      await sleep(100);
      probing = tunTxPackets(nsOf(labId, "client")) >= 10;
    }
    if (!probing) throw new Error(`lab ${labId}: the probe never ran through the tunnel within 30 s\n${stderr}`);
    const pidsBefore = ["client", "headend", "server", "firewall", "wan"]
      .flatMap((n) => pidsIn(nsOf(labId!, n)))
      .map((pid) => ({ pid, start: processStart(pid) }));
    const expected = k.kill(labId);
    const code = await exited;
    return { code, stdout, stderr, labId, expected, pidsBefore };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  }
}

describe("harness faults: a piece of the lab dies mid-scenario → LAB-ERROR, exit 2, nothing left", function () {
  this.timeout(180000);
  const outcomes = new Map<string, Outcome | Error>();
  let file = "";

  before(async function () {
    this.timeout(300000);
    // HAProxy on a loss-free variant: without the watch its death would read as "fails"
    file = path.join(suiteTmp(), "asa-ips-faults.yaml");
    fs.writeFileSync(file, fs.readFileSync(TOPO, "utf8") +
        "  fault-haproxy:     { firewall: { proxy: haproxy }, chaos: [], expect: survives }\n" +
        "  fault-wire:        { chaos: [{ at: 0s, on: wan.edge, delay: 20ms }], expect: survives }\n",
    );
    // side by side: each run is a lab of its own
    const done = await Promise.allSettled(KILLS.map((k) => runAndKill(file, k)));
    done.forEach((d, i) => outcomes.set(KILLS[i].name, d.status === "fulfilled" ? d.value : (d.reason as Error)));
  });

  for (const k of KILLS) {
    it(`${k.name} (${k.variant})`, function () {
      const o = outcomes.get(k.name);
      if (!o || o instanceof Error) throw o ?? new Error("did not run");
      const show = `exit ${o.code}\nstderr:\n${o.stderr}\nstdout (head):\n${o.stdout.slice(0, 3000)}`;
      expect(o.code, show).to.equal(2);
      const doc = JSON.parse(o.stdout) as { results: { outcome: string; verdict?: string; error?: string; fault?: { piece: string; atMs?: number; phase: string } }[]; summary: { labErrors: number } };
      const r = doc.results[0];
      expect(r.outcome, show).to.equal("lab-error");
      expect(r.verdict, show).to.equal(undefined);
      expect(r.error, show).to.match(o.expected);
      expect(r.error, show).to.match(/s into the scenario \((baseline|chaos|recovery) phase\)/);
      expect(r.fault?.atMs, show).to.be.a("number");
      expect(doc.summary.labErrors, show).to.equal(1);
      // teardown ran: no namespace, record or process of the lab
      expect(labNamespaces().filter((n) => n.startsWith(`vl-${o.labId}-`)), show).to.deep.equal([]);
      expect(fs.existsSync(path.join(STATE_ROOT, o.labId)), show).to.equal(false);
      // the same process (PID and start time): a recycled PID is somebody else's
      const alive = o.pidsBefore.filter((p) => p.start !== undefined && processStart(p.pid) === p.start);
      expect(alive, `processes of lab ${o.labId} still running\n${show}`).to.deep.equal([]);
    });
  }
});
