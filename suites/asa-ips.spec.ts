// cTCP behind an inspecting firewall: every variant of topologies/asa-ips.yaml
// runs as a real lab on network namespaces (side by side), and its verdict must
// equal the variant's `expect`. Then the mechanism, not only the symptom:
//  - where cTCP fails, the proxy took not one more byte in order after the loss
//    stopped, holds bytes behind a gap, and (with DPD on) DPD fired only after
//    the first loss; without DPD the client kept sending through recovery — the
//    proxy alone killed the tunnel, no timer of ours;
//  - where a remedy survives, the fault really hit it (the kernel's drop
//    counters, chaos delivery below 100 %), and the traffic never reached the
//    proxy (bypass: not even conntrack saw the flow).
import { expect } from "chai";
import * as path from "node:path";
import { entriesOf } from "../harness/firewall/conntrack";
import { PROXY_PORT } from "../harness/firewall/start";
import { publishResult } from "../harness/report/allure";
import { chaosWindows, deliverySeries, formatSeries, renderTimeline, timelineEndMs } from "../harness/report/timeline";
import { firstDownMs, type ScenarioResult } from "../harness/scenario";
import { loadTopology, selectScenarios } from "../harness/topology/load";
import { ScenarioResults } from "./host";
import { expectProxyStall } from "./proxy-stall";

const FILE = path.join(__dirname, "..", "..", "topologies", "asa-ips.yaml");
/** Labs side by side (each is its own set of namespaces); VPNLAB_JOBS overrides. */
const JOBS = Number(process.env.VPNLAB_JOBS ?? 4);
const CTCP = { proto: "tcp" as const, port: 10000 };

describe("asa-ips: cTCP behind a full TCP proxy", function () {
  this.timeout(120000);
  const scenarios = selectScenarios(loadTopology(FILE), []);
  const results = new ScenarioResults("variant");

  before(async function () {
    this.timeout(600000);
    await results.runAll(scenarios, JOBS);
  });

  const verdictOf = (variant: string) => results.verdictOf(variant);

  for (const s of scenarios) {
    it(`${s.variant}: ${s.vpn.transport} through ${s.firewall?.mode ?? "no firewall"}${s.firewall?.mode === "full-proxy" ? `/${s.firewall.proxy}` : ""} → ${s.expect}`, async function () {
      const r = results.get(s.variant);
      if (r) await publishResult(r);
      const { r: ok, msg } = verdictOf(s.variant);
      expect(ok.verdict, msg).to.equal(s.expect);
    });
  }

  const stalls: { variant: string; dpd: boolean; builtin: boolean }[] = [
    { variant: "base", dpd: true, builtin: true },
    { variant: "ctcp-haproxy", dpd: true, builtin: false },
    { variant: "ctcp-no-dpd", dpd: false, builtin: true },
  ];
  for (const { variant, dpd, builtin } of stalls) {
    it(`${variant}: the proxy holds bytes behind a gap and takes no byte in order during recovery${dpd ? "; DPD fires after the first loss" : "; the client keeps sending, no DPD"}`, function () {
      const { r, msg } = verdictOf(variant);
      const { atRecoveryStart: rs, atEnd: end } = r.evidence.proxy!;
      expect(r.evidence.faults?.droppedPackets ?? 0, `packets the loss rule dropped\n${msg}`).to.be.greaterThan(0);
      expectProxyStall(r, msg, builtin);
      const fw = r.evidence.firewall!;
      // the TCP stream inside the tunnel stalls with it: nothing arrives after the loss stops
      expect(r.tcp?.phases.find((p) => p.phase === "recovery")?.bytes, `TCP stream bytes during recovery\n${msg}`).to.equal(0);
      expect(r.tcp?.survived, msg).to.equal(false);
      // the proxy tracks the flows it redirects: the control for the bypass's "no conntrack entry"
      expect(entriesOf(fw.conntrack, CTCP).length, `conntrack entries of tcp/10000 on the firewall\n${msg}`).to.be.greaterThan(0);
      const firstLoss = r.chaos.find((c) => c.action.startsWith("loss"))!;
      if (dpd) {
        const down = firstDownMs(r);
        expect(down, `DPD declared the tunnel down\n${msg}`).to.be.a("number");
        expect(down!, `DPD (${down} ms) after the first loss (${firstLoss.appliedAtMs} ms)\n${msg}`).to.be.greaterThan(firstLoss.appliedAtMs);
      } else {
        expect(r.tunnel.clientDownAtMs, `no DPD on the client\n${msg}`).to.equal(undefined);
        expect(r.tunnel.headendDownAtMs, `no DPD on the headend\n${msg}`).to.equal(undefined);
        const sentDuringRecovery = end.clientBytesSent - rs.clientBytesSent;
        expect(sentDuringRecovery, `cTCP bytes the client sent during recovery (${rs.clientBytesSent} → ${end.clientBytesSent})\n${msg}`).to.be.greaterThan(1000);
      }
    });
  }

  /**
   * What timeline.svg draws of a run: the UDP delivery per 100 ms (deliverySeries, the chart's own data) split at the
   * chaos window it shades, and the SVG itself; `text` is the whole series ("s:%"), for failure messages.
   */
  const timelineOf = (r: ScenarioResult) => {
    const series = deliverySeries(r);
    const windows = chaosWindows(r, timelineEndMs(r));
    const w = windows[0];
    const svg = renderTimeline(r);
    const shaded = [...svg.matchAll(/<rect class="chaos" data-from-ms="(\d+)" data-to-ms="(\d+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    const downMarks = [...svg.matchAll(/<line class="tunnel-down" data-at-ms="(\d+)"/g)].map((m) => Number(m[1]));
    const text = `delivery % per 100 ms (s:%): ${formatSeries(series)}\nchaos windows: ${JSON.stringify(windows)}`;
    // buckets wholly before, inside and after the window (the window's edges fall inside a bucket)
    return {
      series, windows, shaded, downMarks, text,
      baseline: series.filter((b) => b.t + 100 <= w.fromMs),
      chaos: series.filter((b) => b.t >= w.fromMs && b.t + 100 <= w.toMs),
      recovery: series.filter((b) => b.t >= w.toMs),
    };
  };
  const mean = (xs: { v: number }[]): number => xs.reduce((n, x) => n + x.v, 0) / Math.max(1, xs.length);

  it("base's timeline: delivery falls to 0 after the first loss and stays 0 through recovery; shaded chaos window, tunnel-down marked", function () {
    const { r, msg } = verdictOf("base");
    const tl = timelineOf(r);
    const firstLoss = r.chaos.find((c) => c.action.startsWith("loss"))!;
    const all = `${tl.text}\n${msg}`;
    expect(tl.windows.length, `chaos windows\n${all}`).to.equal(1);
    expect(mean(tl.baseline), `baseline delivery before the loss (mean %)\n${all}`).to.be.at.least(90);
    // the trailing run of empty buckets: where delivery stopped for good
    let k = tl.series.length;
    while (k > 0 && tl.series[k - 1].v === 0) k--;
    const stopAt = tl.series[k]?.t;
    expect(stopAt, `no trailing run of 0 % buckets\n${all}`).to.be.a("number");
    // it stops in the bucket of the first loss or later (not before), and while the loss is on (not in recovery)
    expect(stopAt!, `delivery stopped for good at ${stopAt} ms, the first loss at ${firstLoss.appliedAtMs} ms\n${all}`).to.be.at.least(Math.floor(firstLoss.appliedAtMs / 100) * 100);
    expect(stopAt!, `delivery stopped for good at ${stopAt} ms, the loss cleared at ${tl.windows[0].toMs} ms\n${all}`).to.be.below(tl.windows[0].toMs);
    expect(tl.recovery.length, `recovery buckets\n${all}`).to.be.greaterThan(10);
    expect(tl.recovery.filter((b) => b.v > 0), `recovery buckets with any delivery\n${all}`).to.deep.equal([]);
    expect(tl.shaded, `the chaos window shaded in timeline.svg\n${all}`).to.deep.equal(tl.windows.map((w) => [w.fromMs, w.toMs]));
    expect(tl.downMarks, `the tunnel-down mark in timeline.svg (DPD at ${firstDownMs(r)} ms)\n${all}`).to.deep.equal([firstDownMs(r)]);
    console.log(`      base: ${formatSeries(tl.series)}`);
  });

  it("natt's timeline: a dip below the baseline while the loss is on, the offered rate back in recovery; shaded chaos window, no tunnel-down", function () {
    const { r, msg } = verdictOf("natt");
    const tl = timelineOf(r);
    const all = `${tl.text}\n${msg}`;
    expect(tl.windows.length, `chaos windows\n${all}`).to.equal(1);
    const baseline = mean(tl.baseline);
    expect(baseline, `baseline delivery (mean %)\n${all}`).to.be.at.least(90);
    expect(tl.chaos.filter((b) => b.v < baseline).length, `chaos buckets below the baseline's ${baseline.toFixed(1)} %\n${all}`).to.be.greaterThan(0);
    // back at the offered rate: every probe of a bucket through, one lost at most (5 a bucket at 50/s)
    expect(tl.recovery.length, `recovery buckets\n${all}`).to.be.greaterThan(10);
    expect(tl.recovery.filter((b) => b.v < 80), `recovery buckets below 80 %\n${all}`).to.deep.equal([]);
    expect(mean(tl.recovery), `recovery delivery (mean %)\n${all}`).to.be.at.least(Math.min(baseline, 95));
    expect(tl.shaded, `the chaos window shaded in timeline.svg\n${all}`).to.deep.equal(tl.windows.map((w) => [w.fromMs, w.toMs]));
    expect(tl.downMarks, `no tunnel-down mark in timeline.svg\n${all}`).to.deep.equal([]);
    console.log(`      natt: ${formatSeries(tl.series)}`);
  });

  const tcpLasted = (r: ScenarioResult, msg: string): void => {
    const recovery = r.tcp?.phases.find((p) => p.phase === "recovery")?.bytes ?? 0;
    expect(r.tcp?.survived, `the TCP stream's one connection lasted\n${msg}`).to.equal(true);
    expect(recovery, `TCP stream bytes during recovery\n${msg}`).to.be.greaterThan(50_000);
  };

  it("ctcp-no-loss: the same proxy forwards everything", function () {
    const { r, msg } = verdictOf("ctcp-no-loss");
    tcpLasted(r, msg);
    const { atRecoveryStart: rs, atEnd: end } = r.evidence.proxy!;
    expect(r.evidence.faults?.droppedPackets ?? 0, msg).to.equal(0);
    expect(end.proxied, msg).to.equal(true);
    expect(end.clientBytesSent, msg).to.be.greaterThan(0);
    expect(end.stalledBytes, msg).to.equal(0);
    expect(end.oooPackets, msg).to.equal(0);
    expect(end.proxyBytesReceived - rs.proxyBytesReceived, `in-order bytes the proxy took during recovery\n${msg}`).to.be.greaterThan(0);
    expect(end.forwardedOut, `the proxy forwards every byte it received\n${msg}`).to.equal(end.proxyBytesReceived);
  });

  for (const variant of ["anyconnect-tls", "ocserv-tls"]) {
  it(`${variant}: the same proxy, the same fault — and TCP retransmits, so nothing stalls`, function () {
    const { r, msg } = verdictOf(variant);
    const { atRecoveryStart: rs, atEnd: end } = r.evidence.proxy!;
    expect(r.evidence.faults?.droppedPackets ?? 0, `packets the loss rule dropped\n${msg}`).to.be.greaterThan(0);
    expect(end.proxied, `the TLS flow went through the proxy\n${msg}`).to.equal(true);
    expect(end.accepted, `connections the proxy accepted\n${msg}`).to.be.at.least(1);
    expect(end.proxyBytesReceived - rs.proxyBytesReceived, `in-order bytes the proxy took during recovery\n${msg}`).to.be.greaterThan(0);
    expect(end.heldMemory, `bytes held behind a gap at the end\n${msg}`).to.equal(0);
    tcpLasted(r, msg);
  });
  }

  it("ocserv-dtls: the fault hit the DTLS data channel, and the tunnel carried on", function () {
    const { r, msg } = verdictOf("ocserv-dtls");
    expect(r.evidence.faults?.droppedPackets ?? 0, `packets the loss rule dropped\n${msg}`).to.be.greaterThan(0);
    expect(r.phases.find((x) => x.phase === "chaos")!.delivery, `chaos-phase delivery (datagrams over DTLS are lost like any)\n${msg}`).to.be.below(1);
    // DTLS really carried the data: not a silent fallback to TLS
    expect(r.evidence.client?.detail.dtlsEstablished, `openconnect established DTLS\n${msg}`).to.equal(true);
    tcpLasted(r, msg);
  });

  for (const variant of ["ctcp-state-bypass", "ctcp-stateful", "natt", "esp", "natt-strongswan"]) {
    it(`${variant}: the fault hit the remedy, and its traffic never reached the proxy`, function () {
      const { r, msg } = verdictOf(variant);
      const chaos = r.phases.find((x) => x.phase === "chaos")!;
      expect(r.evidence.faults?.droppedPackets ?? 0, `packets the loss rule dropped\n${msg}`).to.be.greaterThan(0);
      expect(chaos.delivery, `chaos-phase delivery\n${msg}`).to.be.below(1);
      tcpLasted(r, msg);
      const fw = r.evidence.firewall!;
      if (r.firewallMode === "full-proxy") {
        expect(r.evidence.proxy?.atEnd.accepted, `connections the proxy accepted\n${msg}`).to.equal(0);
        expect(r.evidence.proxy?.atEnd.proxied, msg).to.equal(false);
      } else {
        // stateful: nothing redirected, nothing listening on the proxy port — yet the flow was tracked
        expect(fw.ruleset, `the ${r.firewallMode} ruleset redirects nothing\n${msg}`).to.not.match(/redirect/);
        expect(fw.sockets.filter((x) => x.localPort === PROXY_PORT), `sockets on the proxy port\n${msg}`).to.deep.equal([]);
        expect(entriesOf(fw.conntrack, CTCP).length, `conntrack entries of tcp/10000 (a stateful firewall tracks it)\n${msg}`).to.be.greaterThan(0);
      }
      if (variant === "ctcp-state-bypass") {
        const tracked = entriesOf(fw.conntrack, CTCP);
        expect(tracked, `conntrack entries of the bypassed tcp/10000 flow\n${msg}`).to.deep.equal([]);
      }
    });
  }
});
