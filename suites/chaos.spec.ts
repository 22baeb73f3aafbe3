// Issue 9's acceptance on this host (no netem: the userspace wire serves what
// nftables cannot), every number measured by the probe through a real tunnel:
//  - topologies/chaos.yaml: 100 ms ± 20 ms of delay adds 100 ms (± 10 %) to
//    the inner RTT; 20 % duplicate and 10 % reorder show as those rates (± 3
//    points) in the probe's counters; a 1 Mbit/s limit holds the TCP stream's
//    goodput within 5 % of what it leaves once headers are taken off; a seed replays the per-packet loss pattern (by
//    probe seq), another seed does not;
//  - topologies/single-drop.yaml: ONE dropped client→headend packet of the
//    VPN's own transport fails cTCP behind the full proxy (the proxy holds
//    bytes behind the gap for good) while every remedy survives the same
//    single drop — and every run proves the drop happened exactly once, and
//    shows its mechanism on its own (suites/mechanism.ts: the whole stall; for
//    a remedy never proxied or proxied by a real TCP stack that recovered, no
//    conntrack entry where bypassed, the TCP stream lasted).
// Both files' labs run side by side.
import { expect } from "chai";
import * as path from "node:path";
import { publishResult } from "../harness/report/allure";
import { firstDownMs, type ScenarioResult } from "../harness/scenario";
import type { PhaseDelivery, PhaseName } from "../harness/probe/phases";
import { loadTopology, selectScenarios } from "../harness/topology/load";
import { runTogether, ScenarioResults } from "./host";
import { ETHERNET_HEADER } from "../harness/impair/backends/wire/engine";
import { TUN_MTU } from "../harness/vpn/impls/reference";
import { cellOf, expectMechanism, formatChecks } from "./mechanism";

const TOPOLOGIES = path.join(__dirname, "..", "..", "topologies");
/** Labs side by side (each is its own set of namespaces); VPNLAB_JOBS overrides. */
const JOBS = Number(process.env.VPNLAB_JOBS ?? 4);

const phaseOf = (r: ScenarioResult, name: PhaseName): PhaseDelivery => {
  const p = r.phases.find((x) => x.phase === name);
  if (!p) throw new Error(`${r.variant}: no ${name} phase in the result`);
  return p;
};
const pct = (x: number | undefined) => (x === undefined ? "-" : `${(x * 100).toFixed(2)} %`);

describe("chaos: the impairments of a bad network, measured through the tunnel (issue 9)", function () {
  this.timeout(120000);
  const chaos = selectScenarios(loadTopology(path.join(TOPOLOGIES, "chaos.yaml")), []);
  const drop = selectScenarios(loadTopology(path.join(TOPOLOGIES, "single-drop.yaml")), []);
  const chaosRuns = new ScenarioResults("chaos variant");
  const dropRuns = new ScenarioResults("single-drop variant");

  before(async function () {
    this.timeout(600000);
    await runTogether(
      [
        // delays, duplicates and rates held to tolerances: a run the host held up (the sentinel itself 100 ms) is taken again
        { results: chaosRuns, scenarios: chaos, remeasureWhenHeldMs: 100 },
        { results: dropRuns, scenarios: drop },
      ],
      JOBS,
    );
  });

  /** A run that came to a verdict, and that verdict is its expect (a lab error throws with its summary); `publish`: the test's Allure result is this run. */
  const ran = async (runs: ScenarioResults, variant: string, publish = true) => {
    const got = runs.get(variant);
    if (got && publish) await publishResult(got);
    const { r, msg } = runs.verdictOf(variant);
    expect(r.verdict, `verdict\n${msg}`).to.equal(r.expect);
    return { r, msg };
  };

  describe("chaos.yaml", () => {
    it("base: 100 ms ± 20 ms of delay on wan.edge (client→headend, natt) adds 100 ms ± 10 % to the inner RTT", async function () {
      const { r, msg } = await ran(chaosRuns, "base");
      const b = phaseOf(r, "baseline");
      const c = phaseOf(r, "chaos");
      // the baseline runs through the same path (the neutral step at 0 s), so the difference is the configured delay
      const added = (c.rttMsMean ?? NaN) - (b.rttMsMean ?? NaN);
      const numbers = `RTT mean baseline ${b.rttMsMean} ms, chaos ${c.rttMsMean} ms (p50 ${b.rttMsP50} → ${c.rttMsP50}, p95 ${b.rttMsP95} → ${c.rttMsP95}, max ${b.rttMsMax} → ${c.rttMsMax}): added ${added.toFixed(1)} ms; steps ${r.chaos.map((x) => `${x.action} @${x.appliedAtMs} ms [${x.backend ?? "-"}]`).join(", ")}`;
      expect(added, `${numbers}\n${msg}`).to.be.within(90, 110);
      console.log(`      delay: ${numbers.split("; step")[0]}`);
    });

    // each counter of the probe: the rate it shows in chaos (± 3 points of the configured one), and none in the baseline
    const shares = [
      { variant: "duplicate", what: "20 % duplicated on headend.corp (the inner hop)", counter: "duplicates", rate: "duplicateRate", configured: 0.2 },
      { variant: "reorder", what: "10 % sent ahead of a 100 ms queue on headend.corp", counter: "reordered", rate: "reorderRate", configured: 0.1 },
    ] as const;
    for (const { variant, what, counter, rate, configured } of shares) {
      it(`${variant}: ${what} shows as ${configured * 100} % ± 3 points in the probe's ${counter} counter; none in the baseline`, async function () {
        const { r, msg } = await ran(chaosRuns, variant);
        const b = phaseOf(r, "baseline");
        const c = phaseOf(r, "chaos");
        const numbers = `chaos: ${c[counter]} ${counter} of ${c.delivered} delivered (${pct(c[rate])}; duplicates ${c.duplicates}, reordered ${c.reordered}, RTT p50 ${c.rttMsP50} ms); baseline ${b[counter]} ${counter}`;
        expect(c.delivered, `${numbers}\n${msg}`).to.be.at.least(2000);
        expect(c[rate], `${numbers}\n${msg}`).to.be.within(configured - 0.03, configured + 0.03);
        expect(b[counter], `${numbers}\n${msg}`).to.equal(0);
        console.log(`      ${variant}: ${numbers}`);
      });
    }

    it("rate: 1 Mbit/s on headend.corp holds the TCP stream's goodput (inner payload) within 5 % of what the limit leaves it once the headers it counts are taken off; the stream offers more", async function () {
      const { r, msg } = await ran(chaosRuns, "rate");
      const tcp = r.tcp;
      expect(tcp, `the tcp-stream flow ran\n${msg}`).to.not.equal(undefined);
      const b = tcp!.phases.find((p) => p.phase === "baseline")!;
      const c = tcp!.phases.find((p) => p.phase === "chaos")!;
      // What the limit leaves, from the packet sizes: the wire counts each inner packet with its Ethernet header
      // (netem does the same on a veth). Full-sized stream segments fill the tunnel's MTU; their payload is that
      // less IPv4 (20), TCP (20) and the timestamps option (12). The probe's echo requests (64 B + UDP 8 + IP 20
      // + Ethernet 14, 10 a second) take their share of the same limit first.
      const limitKbit = 1000;
      const frame = TUN_MTU + ETHERNET_HEADER;
      const payload = TUN_MTU - 20 - 20 - 12;
      const probeKbit = ((64 + 8 + 20 + ETHERNET_HEADER) * 8 * 10) / 1000;
      const expected = ((limitKbit - probeKbit) * payload) / frame;
      const numbers = `goodput (stream payload arrived at the sink per second): baseline ${b.goodputKbitPerSec} kbit/s, chaos ${c.goodputKbitPerSec} kbit/s (${c.arrivedBytes} B); the limit leaves ${expected.toFixed(1)} kbit/s (${limitKbit} kbit/s − ${probeKbit.toFixed(1)} of probe frames, × ${payload}/${frame} B per frame)`;
      // the limit, not the sender, is what holds it: unlimited, the stream carries well above 1 Mbit/s
      expect(b.goodputKbitPerSec, `${numbers}\n${msg}`).to.be.above(1300);
      expect(c.goodputKbitPerSec, `${numbers}\n${msg}`).to.be.within(expected * 0.95, expected * 1.05);
      console.log(`      rate: ${numbers}`);
    });

    /** The probe seqs lost while the seeded fault was on (from the first packet to shortly before it was cleared). */
    const lostWhileOn = async (variant: string, publish: boolean) => {
      const { r, msg } = await ran(chaosRuns, variant, publish);
      const seed = r.chaos[0]?.seed;
      const sent = phaseOf(r, "baseline").sent + phaseOf(r, "chaos").sent;
      // the end of chaos is a race between the clear and the last datagrams: leave the last 200 ms out
      const upTo = sent - Math.ceil(r.phases[0].sent / (r.phases[0].durationMs / 1000) / 5);
      const lost = [...(phaseOf(r, "baseline").lostSeqs ?? []), ...(phaseOf(r, "chaos").lostSeqs ?? [])].filter((s) => s < upTo);
      return { r, msg, seed, lost, upTo };
    };

    it("seed: the same seed drops the same probe seqs on two runs, another seed other ones", async function () {
      // the test's Allure result is the first run; the other two runs' numbers are in the messages
      const a = await lostWhileOn("seed-7", true);
      const again = await lostWhileOn("seed-7-again", false);
      const other = await lostWhileOn("seed-8", false);
      const upTo = Math.min(a.upTo, again.upTo, other.upTo);
      const cut = (xs: number[]) => xs.filter((s) => s < upTo);
      const numbers = [a, again, other].map((x) => `${x.r.variant} (fault seed ${x.seed}): lost ${cut(x.lost).length} of ${upTo} — ${cut(x.lost).join(",")}`).join("\n");
      const all = `${numbers}\n${a.msg}\n${again.msg}\n${other.msg}`;
      // every result records its seeds: the scenario's (to replay with --seed) and the fault's
      expect([a.r.seed, again.r.seed, other.r.seed], `the scenario seeds recorded\n${all}`).to.deep.equal([7, 7, 8]);
      expect(a.seed, `the fault's seed\n${all}`).to.be.a("number");
      expect(again.seed, `the same scenario seed gives the step the same fault seed\n${all}`).to.equal(a.seed);
      expect(other.seed, `another scenario seed, another fault seed\n${all}`).to.not.equal(a.seed);
      // about 10 %: the fault hit the probe's own datagrams from its first one
      expect(cut(a.lost).length, `lost probes of seed 7\n${all}`).to.be.within(upTo * 0.04, upTo * 0.18);
      expect(cut(again.lost), `the pattern replayed\n${all}`).to.deep.equal(cut(a.lost));
      expect(cut(other.lost), `another seed, another pattern\n${all}`).to.not.deep.equal(cut(a.lost));
      console.log(`      ${numbers.replace(/\n/g, "\n      ")}`);
    });
  });

  describe("single-drop.yaml: one dropped client→headend packet of the VPN's own transport, nothing else impaired", () => {
    /** The drop happened exactly once, to a packet that carried data (a bare ACK's loss tests nothing). */
    const droppedOnce = (r: ScenarioResult, msg: string, bareAckBytes: number) => {
      const f = r.evidence.faults;
      const numbers = `drops by interface: ${JSON.stringify(f?.interfaces)}; chaos: ${r.chaos.map((c) => `${c.action}${c.dropped === undefined ? "" : ` (${c.dropped} dropped)`}`).join(", ")}`;
      expect(f?.droppedPackets, `packets the drop step dropped\n${numbers}\n${msg}`).to.equal(1);
      const cleared = r.chaos.filter((c) => c.dropped !== undefined);
      expect(cleared.map((c) => c.dropped), `the step's own drop counter, read when it was cleared\n${numbers}\n${msg}`).to.deep.equal([1]);
      const bytes = f!.interfaces.reduce((n, i) => n + i.bytes, 0);
      expect(bytes, `the dropped packet's size (a bare ACK is ${bareAckBytes} B)\n${numbers}\n${msg}`).to.be.above(bareAckBytes);
      return numbers;
    };

    it("base (cTCP behind the full proxy) fails: the proxy holds the bytes after the hole for good, DPD fires after the drop", async function () {
      const { r, msg } = await ran(dropRuns, "base");
      const numbers = droppedOnce(r, msg, 40);
      const checks = expectMechanism(cellOf(drop.find((x) => x.variant === "base")!), r, `${numbers}\n${msg}`);
      const step = r.chaos[0];
      const down = firstDownMs(r);
      expect(down, `DPD declared the tunnel down\n${msg}`).to.be.a("number");
      expect(down!, `DPD (${down} ms) after the drop step (${step.appliedAtMs} ms)\n${msg}`).to.be.greaterThan(step.appliedAtMs);
      console.log(`      base: ${numbers}; DPD down at ${down} ms\n        ${formatChecks(checks).replace(/\n/g, "\n        ")}`);
    });

    // a bare ACK: cTCP's is 40 B (no options); the kernel's TCP adds timestamps (52 B); NAT-T's keepalive is 29 B; ESP has none
    const remedies: [string, number][] = [
      ["ctcp-state-bypass", 40],
      ["ctcp-stateful", 40],
      ["natt", 29],
      ["esp", 0],
      ["anyconnect-tls", 52],
    ];
    for (const [variant, bare] of remedies) {
      it(`${variant} survives the same single drop of its own transport's packet`, async function () {
        const { r, msg } = await ran(dropRuns, variant);
        const numbers = droppedOnce(r, msg, bare);
        expect(firstDownMs(r), `no DPD down\n${msg}`).to.equal(undefined);
        if (r.evidence.proxy) expect(r.evidence.proxy.atEnd.heldMemory, `bytes held behind a gap at the proxy at the end\n${msg}`).to.equal(0);
        const checks = expectMechanism(cellOf(drop.find((x) => x.variant === variant)!), r, `${numbers}\n${msg}`);
        console.log(`      ${variant}: ${numbers}; recovery delivery ${pct(phaseOf(r, "recovery").delivery)}\n        ${formatChecks(checks).replace(/\n/g, "\n        ")}`);
      });
    }
  });
});
