// `vpnlab impair`, `heal` and `ls` on a lab held by `vpnlab up`, each a
// separate process as a user runs them: a fault put on wan.edge stops what
// crosses it (measured with ping between the lab's nodes), `ls` shows it, the
// record keeps it, `heal` removes it and says what it dropped, traffic passes
// again; bad input is refused with exit 2 before anything changes; `down`
// clears the faults and leaves nothing of the lab.
import { expect } from "chai";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { readState, STATE_ROOT } from "../harness/runtime/state";
import { endChild, exited, labNamespaces, waitForLine } from "./host";
import { requireRuntime } from "./runtimes";

const ROOT = path.join(__dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "vpnlab");
const TOPO = path.join(ROOT, "topologies", "asa-ips.yaml");
const FIREWALL_EDGE = "198.51.100.1"; // client → firewall crosses wan's egress to net edge

function vpnlab(args: string[]): { code: number; stdout: string; stderr: string; all: string } {
  const r = spawnSync(BIN, args, { encoding: "utf8", timeout: 60000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, all: `exit ${r.status}\n${r.stdout}${r.stderr}` };
}

/** ping from a node: how many of `count` echoes came back, their mean and median RTT (ms; NaN with none). */
function ping(labId: string, node: string, to: string, count: number): { received: number; avgMs: number; medianMs: number; out: string } {
  const r = spawnSync("ip", ["netns", "exec", `vl-${labId}-${node}`, "ping", "-n", "-c", String(count), "-i", "0.2", "-W", "1", to], { encoding: "utf8", timeout: 60000 });
  const received = Number(/(\d+) received/.exec(r.stdout)?.[1] ?? NaN);
  const avgMs = Number(/= [\d.]+\/([\d.]+)\//.exec(r.stdout)?.[1] ?? NaN);
  const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
  const mid = rtts.length === 0 ? NaN : rtts.length % 2 ? rtts[(rtts.length - 1) / 2] : (rtts[rtts.length / 2 - 1] + rtts[rtts.length / 2]) / 2;
  const medianMs = Math.round(mid * 1000) / 1000; // ping prints µs: no float noise in the messages
  return { received, avgMs, medianMs, out: r.stdout.trim().split("\n").slice(-2).join("; ") };
}

/** UDP datagrams per destination port that reached `to` (listening on `ports`) from `from`, `count` to each port. */
async function udpPerPort(labId: string, from: string, to: string, toIp: string, ports: number[], count: number): Promise<Record<number, number>> {
  const listen = `const dgram = require("node:dgram"); const got = {}; let open = 0;
    for (const p of ${JSON.stringify(ports)}) { got[p] = 0; const s = dgram.createSocket("udp4"); s.on("message", () => got[p]++);
      s.bind(p, () => { if (++open === ${ports.length}) console.log("ready"); }); }
    process.stdin.on("data", () => { console.log(JSON.stringify(got)); process.exit(0); });`;
  const sink = spawn("ip", ["netns", "exec", `vl-${labId}-${to}`, process.execPath, "-e", listen], { stdio: ["pipe", "pipe", "pipe"] });
  try {
    await waitForLine(sink, /ready/, 20000);
    // interleaved, 2 ms apart: both flows see the same moments of the path
    const send = `const s = require("node:dgram").createSocket("udp4"); const ports = ${JSON.stringify(ports)}; let i = 0;
      const next = () => { if (i >= ${count} * ports.length) return setTimeout(() => s.close(), 50); s.send(Buffer.alloc(64), ports[i % ports.length], ${JSON.stringify(toIp)}); i++; setTimeout(next, 2); }; next();`;
    const r = spawnSync("ip", ["netns", "exec", `vl-${labId}-${from}`, process.execPath, "-e", send], { encoding: "utf8", timeout: 60000 });
    if (r.status !== 0) throw new Error(`the sender failed: ${r.stderr}`);
    await new Promise((res) => setTimeout(res, 500)); // the last datagrams' way across the lab
    const line = waitForLine(sink, /\{[^\n]*\}/, 10000);
    sink.stdin?.end("done\n");
    return JSON.parse(await line) as Record<number, number>;
  } finally {
    await endChild(sink);
  }
}

describe("vpnlab impair / heal / ls on a lab held by vpnlab up", function () {
  this.timeout(180000);
  let up: ChildProcess | undefined;
  let labId = "";

  before(async function () {
    up = spawn(BIN, ["up", TOPO, "--variant", "natt", "--runtime", "netns"], { stdio: ["ignore", "pipe", "pipe"] });
    const line = await waitForLine(up, /lab ([0-9a-f]{5}) \(asa-ips\/natt\) is up/, 90000);
    labId = line.match(/lab ([0-9a-f]{5})/)![1];
  });

  after(async () => {
    await endChild(up);
  });

  it("loss 100% on wan.edge stops the traffic through it; ls shows it; heal says what it dropped and traffic passes again", () => {
    const before = ping(labId, "client", FIREWALL_EDGE, 10);
    expect(before.received, `before any fault: ${before.out}`).to.be.at.least(9);

    const imp = vpnlab(["impair", labId, "wan.edge", "--loss", "100%"]);
    expect(imp.code, imp.all).to.equal(0);
    expect(imp.stdout).to.contain(`lab ${labId}: wan.edge egress: loss 100% (random) — served by nftables`);
    const during = ping(labId, "client", FIREWALL_EDGE, 10);
    expect(during.received, `with loss 100% on wan.edge: ${during.out}`).to.equal(0);

    const ls = vpnlab(["ls"]);
    expect(ls.code, ls.all).to.equal(0);
    const row = ls.stdout.split("\n").find((l) => l.startsWith(labId));
    expect(row, ls.stdout).to.match(/ 1 +\d{4}-/); // the faults column, before created
    expect(ls.stdout).to.match(new RegExp(`fault ${labId} wan\\.edge egress: loss 100% \\(random\\) \\(nftables, since \\d{4}-`));
    expect(readState(labId)?.faults?.map((f) => [f.target, f.dev, f.direction, f.backend])).to.deep.equal([["wan.edge", "edge", "egress", "nftables"]]);

    const heal = vpnlab(["heal", labId]);
    expect(heal.code, heal.all).to.equal(0);
    const dropped = Number(/cleared loss 100% \(random\) \(nftables, since [^)]+\): (\d+) packets? dropped/.exec(heal.stdout)?.[1] ?? NaN);
    // at least our ten echo requests; the tunnel's own packets cross there too
    expect(dropped, heal.all).to.be.at.least(10);
    expect(readState(labId)?.faults, "the record lost the fault").to.equal(undefined);
    const afterHeal = ping(labId, "client", FIREWALL_EDGE, 10);
    expect(afterHeal.received, `after heal: ${afterHeal.out}`).to.be.at.least(9);

    const again = vpnlab(["heal", labId]);
    expect(again.code, again.all).to.equal(0);
    expect(again.stdout).to.contain(`lab ${labId}: no active faults`);
  });

  it("each impair replaces the fault on that interface and direction; heal TARGET --direction clears only that one", () => {
    expect(vpnlab(["impair", labId, "wan.edge", "--loss", "100%"]).code).to.equal(0);
    const repl = vpnlab(["impair", labId, "wan.edge", "--every", "1000"]);
    expect(repl.code, repl.all).to.equal(0);
    expect(repl.stdout).to.match(/wan\.edge egress: drop every 1000th packet — served by nftables; replaced loss 100% \(random\) \(nftables: \d+ packets? dropped\)/);
    const ing = vpnlab(["impair", labId, "wan", "--partition", "--direction", "ingress", "--match", "proto=udp,from=client,dport=9"]);
    expect(ing.code, ing.all).to.equal(0);
    expect(readState(labId)?.faults?.map((f) => `${f.node}.${f.dev} ${f.direction}`).sort()).to.deep.equal(["wan.edge egress", "wan.edge ingress", "wan.home ingress"]);
    const passing = ping(labId, "client", FIREWALL_EDGE, 10);
    expect(passing.received, `every 1000th and a UDP-only partition let pings through: ${passing.out}`).to.be.at.least(9);

    const one = vpnlab(["heal", labId, "wan.edge", "--direction", "ingress"]);
    expect(one.code, one.all).to.equal(0);
    expect(one.stdout).to.contain("wan.edge ingress: cleared partition (drop everything) [udp from 203.0.113.10 dport 9 ingress]");
    expect(readState(labId)?.faults?.map((f) => `${f.node}.${f.dev} ${f.direction}`).sort()).to.deep.equal(["wan.edge egress", "wan.home ingress"]);
    const rest = vpnlab(["heal", labId]);
    expect(rest.code, rest.all).to.equal(0);
    expect(rest.stdout.trim().split("\n").length, rest.all).to.equal(2);
    expect(readState(labId)?.faults).to.equal(undefined);
  });

  it("bad values, an unknown lab or target: exit 2 with the reason, nothing recorded", () => {
    const cases: [string[], RegExp][] = [
      [["impair", labId, "wan.edge", "--loss", "150%"], /--loss 150%: must be a percent in 0\.\.100/],
      [["impair", labId, "wan.edge", "--rate", "fast"], /--rate fast: "fast" is not a bandwidth/],
      [["impair", labId, "wan.edge", "--delay", "-1ms"], /--delay -1ms: duration "-1ms" is negative/],
      [["impair", labId, "wan.edge"], /give an impairment/],
      [["impair", labId, "wan.edge", "--partition", "--loss", "5%"], /invalid impairment \(--partition\)/],
      [["impair", labId, "wan.edge", "--loss", "5%", "--match", "from=nobody"], /from nobody is neither an IPv4 address nor a node of the lab/],
      [["impair", labId, "nope.edge", "--loss", "5%"], /target nope\.edge: no node nope in asa-ips\/natt — the nodes are: client, wan, firewall, headend, server/],
      [["impair", labId, "wan.dmz", "--loss", "5%"], /target wan\.dmz: node wan is not on net dmz — its nets are: home, edge/],
      [["impair", "fffff", "wan.edge", "--loss", "5%"], /no lab named fffff; see `vpnlab ls`/],
      // a fault no backend here serves: each backend's reason
      [["impair", labId, "wan.edge", "--reorder", "10%"], /wan\/edge: no backend can apply "reorder 10%": .*nftables cannot express reorder.*wire cannot express reorder: reorder sends packets ahead of delayed ones: it needs delayMs > 0/],
      // the wire on the firewall's node (this host has no netem: the wire would serve a delay) — its conntrack would see each packet twice
      [["impair", labId, "firewall.dmz", "--delay", "100ms"], /firewall\.dmz: it needs the userspace wire, which cannot run on firewall, the node that carries the firewall: .* impair a hop next to it instead \(wan\.edge, headend\.dmz\)/],
      [["heal", "fffff"], /no lab named fffff/],
      [["heal", labId, "nope"], /target nope: no node nope/],
    ];
    for (const [args, re] of cases) {
      const r = vpnlab(args);
      expect(r.code, `${args.join(" ")}: ${r.all}`).to.equal(2);
      expect(r.stderr, args.join(" ")).to.match(re);
    }
    expect(readState(labId)?.faults, "nothing recorded").to.equal(undefined);
  });

  it("--delay 100ms: served by a backend that can hold packets (the wire without netem) — measured as added RTT", function () {
    const base = ping(labId, "client", FIREWALL_EDGE, 10);
    const imp = vpnlab(["impair", labId, "wan.edge", "--delay", "100ms"]);
    expect(imp.code, imp.all).to.equal(0);
    const served = /served by (\w+)/.exec(imp.stdout)?.[1];
    const delayed = ping(labId, "client", FIREWALL_EDGE, 20);
    const heal = vpnlab(["heal", labId, "wan.edge"]);
    // medians: one reply held up by a busy host moves a mean, not the delay the path adds
    const added = delayed.medianMs - base.medianMs;
    const msg = `served by ${served}: RTT median ${base.medianMs} ms before (mean ${base.avgMs}), ${delayed.medianMs} ms with delay 100ms on wan.edge egress (mean ${delayed.avgMs}; added ${added.toFixed(1)} ms; ${delayed.received}/20 replies)\n${heal.all}`;
    console.log(`      ${msg.split("\n")[0]}`);
    expect(delayed.received, msg).to.be.at.least(18);
    // one way delayed (the requests): within 10 % of the 100 ms asked
    expect(added, msg).to.be.within(90, 110);
    expect(heal.code, msg).to.equal(0);
    const after = ping(labId, "client", FIREWALL_EDGE, 10);
    expect(after.avgMs - base.avgMs, `after heal: ${after.out}`).to.be.below(50);
  });

  it("--match: the matched flow is impaired as asked (50 % loss, the rule's drop count is its loss), the other flow not at all", async () => {
    // client → headend (192.0.2.10, through wan and the firewall): udp/9 matched, udp/10 the other flow
    const HEADEND_DMZ = "192.0.2.10";
    const N = 400;
    const imp = vpnlab(["impair", labId, "wan.edge", "--loss", "50%", "--match", "proto=udp,dport=9"]);
    expect(imp.code, imp.all).to.equal(0);
    // the fault comes off whatever the measurement did
    const measured = await udpPerPort(labId, "client", "headend", HEADEND_DMZ, [9, 10], N).then((v) => ({ v }), (e: unknown) => ({ e }));
    const heal = vpnlab(["heal", labId, "wan.edge"]);
    if ("e" in measured) throw measured.e;
    const got = measured.v;
    const dropped = Number(/: (\d+) packets? dropped/.exec(heal.stdout)?.[1] ?? NaN);
    const lost9 = N - got[9];
    const msg = `udp/9 (matched, loss 50%): ${got[9]} of ${N} arrived (${((lost9 / N) * 100).toFixed(1)} % lost); udp/10 (not matched): ${got[10]} of ${N}; the rule dropped ${dropped}\n${imp.all}\n${heal.all}`;
    console.log(`      ${msg.split("\n")[0]}`);
    expect(heal.code, msg).to.equal(0);
    // 50 % of 400: ±10 points is beyond 4 standard deviations (2.5 points) of a fair coin
    expect(lost9 / N, msg).to.be.within(0.4, 0.6);
    // every datagram the matched flow lost, the rule dropped — and nothing else
    expect(dropped, msg).to.equal(lost9);
    expect(got[10], msg).to.equal(N);
  });

  it("down with active faults clears them (said), ends the owner and leaves nothing of the lab — no wire program either", async () => {
    expect(vpnlab(["impair", labId, "wan.edge", "--loss", "100%"]).code).to.equal(0);
    const d = vpnlab(["impair", labId, "wan.home", "--delay", "10ms"]);
    expect(d.all).to.contain("served by wire");
    expect(wirePrograms(labId).length, "the wire program runs in the lab").to.be.at.least(1);
    const down = vpnlab(["down", labId]);
    expect(down.code, down.all).to.equal(0);
    expect(down.stdout).to.match(new RegExp(`lab ${labId}: wan\\.edge egress: cleared loss 100% \\(random\\) \\(nftables, since [^)]+\\): \\d+ packets? dropped`));
    expect(down.stdout).to.contain(`lab ${labId} down`);
    await exited(up!);
    expect(labNamespaces().filter((n) => n.startsWith(`vl-${labId}-`))).to.deep.equal([]);
    expect(fs.existsSync(path.join(STATE_ROOT, labId))).to.equal(false);
    expect(down.stdout).to.match(new RegExp(`lab ${labId}: wan\\.home egress: cleared delay 10ms \\(wire, since [^)]+\\)`));
    expect(wirePrograms(labId), "no wire program of the lab is left").to.deep.equal([]);
  });
});

describe("vpnlab impair / heal on a docker lab held by vpnlab up (another process starts the wire in its container)", function () {
  this.timeout(180000);
  let up: ChildProcess | undefined;
  let labId = "";

  before(async function () {
    await requireRuntime(this, "docker");
    up = spawn(BIN, ["up", TOPO, "--variant", "natt", "--runtime", "docker"], { stdio: ["ignore", "pipe", "pipe"] });
    const line = await waitForLine(up, /lab ([0-9a-f]{5}) \(asa-ips\/natt\) is up/, 150000);
    labId = line.match(/lab ([0-9a-f]{5})/)![1];
  });

  after(async () => {
    await endChild(up);
  });

  it("--delay 100ms through the wire in the wan container: added RTT measured, heal removes it, down leaves no wire", async () => {
    const base = ping(labId, "client", FIREWALL_EDGE, 10);
    const imp = vpnlab(["impair", labId, "wan.edge", "--delay", "100ms"]);
    const delayed = ping(labId, "client", FIREWALL_EDGE, 20);
    const heal = vpnlab(["heal", labId, "wan.edge"]);
    const after = ping(labId, "client", FIREWALL_EDGE, 10);
    const msg = `RTT median ${base.medianMs} ms before, ${delayed.medianMs} ms with delay 100ms (${delayed.received}/20 replies), ${after.medianMs} ms after heal (means ${base.avgMs}, ${delayed.avgMs}, ${after.avgMs})\n${imp.all}\n${heal.all}`;
    expect(imp.code, msg).to.equal(0);
    expect(imp.stdout, msg).to.contain("served by wire");
    expect(delayed.received, msg).to.be.at.least(18);
    // within 10 % of the 100 ms asked
    expect(delayed.medianMs - base.medianMs, msg).to.be.within(90, 110);
    expect(heal.code, msg).to.equal(0);
    expect(after.avgMs - base.avgMs, msg).to.be.below(50);
    const down = vpnlab(["down", labId]);
    expect(down.code, down.all).to.equal(0);
    await exited(up!);
    expect(wirePrograms(labId), "no wire program of the lab is left").to.deep.equal([]);
  });
});

/** PIDs of processes whose command line names the lab's run directory and a wire (its control socket is there). */
function wirePrograms(labId: string): number[] {
  const dir = path.join(STATE_ROOT, labId);
  return fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((d) => {
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      return cmd.some((a) => a.startsWith(dir)) && cmd.some((a) => /wire/.test(a));
    } catch {
      return false;
    }
  }).map(Number);
}
