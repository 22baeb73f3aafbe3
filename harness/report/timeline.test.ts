import { expect } from "chai";
import type { Bucket, TcpBucket } from "../probe/phases";
import type { ScenarioResult } from "../scenario";
import { chaosWindows, deliverySeries, formatSeries, renderTimeline } from "./timeline";
import { phase, scenarioResult } from "./testkit";

// 3 s baseline, 3 s chaos, 3 s recovery; 10 probes and 12 kB of the stream per 100 ms when all is well
const PHASES = [
  { ...phase("baseline", 300, 300), startMs: 0, durationMs: 3000 },
  { ...phase("chaos", 300, 0), startMs: 3000, durationMs: 3000 },
  { ...phase("recovery", 300, 0), startMs: 6000, durationMs: 3000 },
];
const N = 90;
const udp = (ok: (t: number) => boolean): Bucket[] => Array.from({ length: N }, (_, i) => ({ t: i * 100, sent: 10, delivered: ok(i * 100) ? 10 : 0 }));
const tcp = (ok: (t: number) => boolean): TcpBucket[] => Array.from({ length: N }, (_, i) => ({ t: i * 100, bytes: ok(i * 100) ? 12000 : 0 }));
const CHAOS: ScenarioResult["chaos"] = [
  { atMs: 3000, appliedAtMs: 3004, on: "wan.edge", action: "loss 30%", backend: "nftables" },
  { atMs: 6000, appliedAtMs: 6002, on: "wan.edge", action: "clear (end of chaos phase)" },
];
const tcpOf = (buckets: TcpBucket[]): ScenarioResult["tcp"] => ({ phases: [], buckets, bytesWritten: 0, bytesReceived: 0, connections: 1, connected: true, lasted: true, survived: true });

/** The failing cTCP shape: delivery stops at the first loss and never comes back; DPD takes the tunnel down. */
const failing = scenarioResult({ phases: PHASES, chaos: CHAOS, buckets: udp((t) => t < 3000), tcp: tcpOf(tcp((t) => t < 3000)), tunnel: { clientDownAtMs: 4700, downReason: "DPD: 3 probes unanswered" }, timing: { setupMs: 900, tunnelUpMs: 300, scenarioMs: 9000, totalMs: 11000 } });
/** A surviving one: a dip while the loss is on, back to full delivery in the recovery, the tunnel never down. */
const surviving = scenarioResult({ variant: "natt", transport: "natt", expect: "survives", verdict: "survives", phases: PHASES, chaos: CHAOS, buckets: udp((t) => t < 3000 || t >= 3800), tcp: tcpOf(tcp((t) => t < 3000 || t >= 4000)), tunnel: {}, timing: { setupMs: 900, tunnelUpMs: 300, scenarioMs: 9000, totalMs: 11000 } });

/** The attributes of every element with this class, parsed from the SVG text. */
function elements(svg: string, cls: string): Record<string, string>[] {
  const tags = [...svg.matchAll(new RegExp(`<(\\w+) class="${cls}"([^>]*)>`, "g"))];
  return tags.map((m) => Object.fromEntries([...m[2].matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]])));
}
const points = (p: Record<string, string>): { x: number; y: number }[] =>
  p.points.split(" ").map((xy) => {
    const [x, y] = xy.split(",").map(Number);
    return { x, y };
  });

describe("report/timeline", () => {
  it("the failing cTCP run: the down marker at DPD, the chaos window shaded from the loss to the clear, delivery flat at zero from the first loss to the end", () => {
    const svg = renderTimeline(failing);
    expect(svg.startsWith("<svg ")).to.equal(true);
    const down = elements(svg, "tunnel-down");
    expect(down, "one tunnel-down marker").to.have.length(1);
    expect(down[0]["data-at-ms"]).to.equal("4700");
    const shaded = elements(svg, "chaos");
    expect(shaded.map((s) => [s["data-from-ms"], s["data-to-ms"]])).to.deep.equal([["3004", "6002"]]);
    // the shading sits between the marks of the loss and the clear on the x axis, and the marker inside it
    const x0 = Number(shaded[0].x);
    const x1 = x0 + Number(shaded[0].width);
    expect(Number(down[0].x1)).to.be.within(x0, x1);

    const [delivery] = elements(svg, "delivery");
    const pts = points(delivery);
    expect(pts, "a point per 100 ms bucket").to.have.length(N);
    const top = Math.min(...pts.map((p) => p.y));
    const bottom = Math.max(...pts.map((p) => p.y));
    expect(pts.slice(0, 30).every((p) => p.y === top), "full delivery in the baseline").to.equal(true);
    expect(pts.slice(30).every((p) => p.y === bottom), "nothing delivered from the first loss to the end").to.equal(true);
    const stream = points(elements(svg, "tcp")[0]);
    expect(stream).to.have.length(N);
    const zero = Math.max(...stream.map((p) => p.y));
    expect(stream.slice(0, 30).every((p) => p.y < zero), "the stream flowed in the baseline").to.equal(true);
    expect(stream.slice(30).every((p) => p.y === zero), "no byte of the stream from the first loss to the end").to.equal(true);
  });

  it("the surviving run: no down marker, the same shaded window, a dip during the loss and full delivery again in the recovery", () => {
    const svg = renderTimeline(surviving);
    expect(elements(svg, "tunnel-down")).to.have.length(0);
    expect(elements(svg, "chaos").map((s) => [s["data-from-ms"], s["data-to-ms"]])).to.deep.equal([["3004", "6002"]]);
    const pts = points(elements(svg, "delivery")[0]);
    expect(pts).to.have.length(N);
    const top = Math.min(...pts.map((p) => p.y));
    const dip = pts.slice(30, 38);
    expect(dip.every((p) => p.y > top), "the dip while the loss starts").to.equal(true);
    expect(pts.slice(38).every((p) => p.y === top), "delivered again through the rest of chaos and the recovery").to.equal(true);
    const stream = points(elements(svg, "tcp")[0]);
    expect(stream.slice(60).every((p) => p.y === Math.min(...stream.map((q) => q.y))), "the stream back at its rate in the recovery").to.equal(true);
  });

  it("has its axes labelled and the phases marked", () => {
    const svg = renderTimeline(failing);
    expect(svg).to.contain("seconds from the start of the baseline");
    expect(svg).to.contain("delivered %");
    expect(svg).to.contain("kB / 100 ms");
    expect(elements(svg, "phase").map((p) => p["data-at-ms"])).to.deep.equal(["3000", "6000"]);
  });

  it("a window per fault: from its step to its target's clear or replacement; one never cleared runs to the end", () => {
    const two: ScenarioResult["chaos"] = [
      { atMs: 1000, appliedAtMs: 1000, on: "a", action: "loss 5%" },
      { atMs: 2000, appliedAtMs: 2000, on: "b", action: "loss 5%" },
      { atMs: 3000, appliedAtMs: 3000, on: "a", action: "clear" },
      { atMs: 4000, appliedAtMs: 4000, on: "b", action: "clear" },
      { atMs: 5000, appliedAtMs: 5000, on: "a", action: "loss 9%" },
    ];
    expect(chaosWindows({ chaos: two }, 9000).map((w) => [w.fromMs, w.toMs, w.what, w.lane])).to.deep.equal([
      [1000, 3000, "loss 5% on a", 0],
      [2000, 4000, "loss 5% on b", 1],
      [5000, 9000, "loss 9% on a", 0],
    ]);
    // the end-of-chaos clear names every target it cleared; a later fault on a target replaces the one before
    const multi: ScenarioResult["chaos"] = [...two.slice(0, 2), { atMs: 2500, appliedAtMs: 2500, on: "a", action: "loss 9%" }, { atMs: 6000, appliedAtMs: 6000, on: "a,b", action: "clear (end of chaos phase)" }];
    expect(chaosWindows({ chaos: multi }, 9000).map((w) => [w.fromMs, w.toMs])).to.deep.equal([
      [1000, 2500],
      [2000, 6000],
      [2500, 6000],
    ]);
  });

  it("a schedule's windows, each labelled, with direction kept apart and a step before the probe drawn from 0", () => {
    const flap: ScenarioResult["chaos"] = [
      { atMs: 0, appliedAtMs: -40, on: "w", action: "drop packet #1", description: "drop packet #1 [udp dport 7 seed 3]", seed: 3, direction: "ingress" },
      { atMs: 3000, appliedAtMs: 3001, on: "w", action: "partition (drop everything)", schedule: "flap 1/2: down" },
      { atMs: 3500, appliedAtMs: 3502, on: "w", action: "clear", schedule: "flap 1/2: up" },
      { atMs: 4500, appliedAtMs: 4500, on: "w", action: "partition (drop everything)", schedule: "flap 2/2: down" },
      { atMs: 5000, appliedAtMs: 5003, on: "w", action: "clear", schedule: "flap 2/2: up" },
      { atMs: 6000, appliedAtMs: 6000, on: "w", action: "clear (end of chaos phase)" },
    ];
    const w = chaosWindows({ chaos: flap }, 9000);
    expect(w.map((x) => [x.fromMs, x.toMs, x.label, x.lane])).to.deep.equal([
      [0, 6000, "drop packet #1", 0],
      [3001, 3502, "flap 1/2", 1],
      [4500, 5003, "flap 2/2", 1],
    ]);
    expect(w[0].what).to.equal("drop packet #1 [udp dport 7 seed 3] on w, seed 3");
    expect(w[1].what).to.equal("partition (drop everything) on w (flap 1/2: down)");
    const svg = renderTimeline(scenarioResult({ phases: PHASES, chaos: flap, buckets: udp(() => true), timing: { setupMs: 1, tunnelUpMs: 1, scenarioMs: 9000, totalMs: 9000 } }));
    expect(elements(svg, "chaos").map((e) => [e["data-from-ms"], e["data-to-ms"]])).to.deep.equal([["0", "6000"], ["3001", "3502"], ["4500", "5003"]]);
    expect([...svg.matchAll(/<text class="chaos-label"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1])).to.deep.equal(["drop packet #1", "flap 1/2", "flap 2/2"]);
  });

  it("escapes what it prints", () => {
    const svg = renderTimeline(scenarioResult({ variant: "a<b>&c" }));
    expect(svg).to.contain("a&lt;b&gt;&amp;c");
    expect(svg).not.to.contain("a<b>");
  });
  it("deliverySeries: % of the bucket's probes delivered, 0 where none was sent; formatSeries prints s:%", () => {
    const series = deliverySeries({ buckets: [{ t: 0, sent: 5, delivered: 5 }, { t: 100, sent: 5, delivered: 4 }, { t: 200, sent: 0, delivered: 0 }] });
    expect(series).to.deep.equal([{ t: 0, v: 100 }, { t: 100, v: 80 }, { t: 200, v: 0 }]);
    expect(formatSeries(series)).to.equal("0.0:100 0.1:80 0.2:0");
  });
});

describe("report/timeline: stalls — an endpoint's own (evidence) and the sentinel's (the host)", () => {
  const stalled = scenarioResult({
    variant: "natt",
    transport: "natt",
    verdict: "degraded",
    phases: PHASES,
    chaos: CHAOS,
    buckets: udp(() => true),
    evidence: {
      endpointStall: { what: "the agent on headend (the VPN headend)", node: "headend", ms: 3005, atMs: 6500 },
      host: { sentinelStallMs: 12, sentinelStallAt: 7000, sentinelPid: 99, cpuSomeShare: 0.04, cpuSomeAvg10: 3.5 },
    },
  });
  it("draws the endpoint's stall where and as long as it happened, and no host band for a sentinel on time", () => {
    const svg = renderTimeline(stalled);
    expect(elements(svg, "endpoint-stall").map((e) => [e["data-from-ms"], e["data-to-ms"]])).to.deep.equal([["6500", "9505"]]);
    expect(svg).to.contain("headend stalled 3005 ms");
    expect(elements(svg, "host-stall")).to.deep.equal([]);
  });
  it("a sentinel stall of 250 ms or more is drawn as the host's; shorter stalls are not drawn", () => {
    const host = scenarioResult({ ...stalled, evidence: { endpointStall: { ...stalled.evidence.endpointStall!, ms: 249 }, host: { sentinelStallMs: 1500, sentinelStallAt: 4000 } } });
    const svg = renderTimeline(host);
    expect(elements(svg, "host-stall").map((e) => [e["data-from-ms"], e["data-to-ms"]])).to.deep.equal([["4000", "5500"]]);
    expect(elements(svg, "endpoint-stall")).to.deep.equal([]);
  });
});
