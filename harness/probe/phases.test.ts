import { expect } from "chai";
import { deliveryBuckets, phaseDelivery, tcpBuckets, tcpPhases, type PhaseWindow } from "./phases";
import type { ProbeRecord } from "./types";

describe("phase accounting", () => {
  // 30 probes 100 ms apart from t=1000; echoes for the first 10, none for 10..19, late (2 s) for 20..24, on time for 25..29
  const sent = Array.from({ length: 30 }, (_, i) => 1000 + i * 100);
  const received = sent.map((t, i) => (i < 10 || i >= 25 ? t + 5 : i >= 20 ? t + 2000 : null));
  const record: ProbeRecord = { sent, received, duplicates: 0, sendErrors: 0 };
  const windows: PhaseWindow[] = [
    { name: "baseline", start: 1000, end: 2000 },
    { name: "chaos", start: 2000, end: 3000 },
    { name: "recovery", start: 3000, end: 4000 },
  ];

  it("assigns a probe to the phase it was sent in and counts late echoes as lost", () => {
    const [b, c, r] = phaseDelivery(record, windows, 1000);
    expect([b.sent, b.delivered, b.delivery]).to.deep.equal([10, 10, 1]);
    expect([c.sent, c.delivered]).to.deep.equal([10, 0]);
    expect([r.sent, r.delivered, r.delivery]).to.deep.equal([10, 5, 0.5]);
    expect(b.rttMsP50).to.equal(5);
  });

  it("buckets delivery per 100 ms from the start of the baseline", () => {
    const buckets = deliveryBuckets(record, 1000, 4000, 1000);
    expect(buckets).to.have.length(30);
    expect(buckets[0]).to.deep.equal({ t: 0, sent: 1, delivered: 1 });
    expect(buckets[15]).to.deep.equal({ t: 1500, sent: 1, delivered: 0 });
  });
});

describe("probe/phases: tcpPhases", () => {
  it("sums the sink's 100 ms send-time buckets into the phase their start falls in, with goodput (arrival time does not count)", () => {
    const w = [
      { name: "baseline" as const, start: 1000, end: 3000 },
      { name: "chaos" as const, start: 3000, end: 7000 },
      { name: "recovery" as const, start: 7000, end: 11000 },
    ];
    const sent = [[900, 5], [1000, 1000], [2900, 1500], [3000, 2000], [6900, 500], [7000, 0], [10900, 1000], [11000, 77]] as [number, number][];
    // the same bytes by arrival: everything a second late, which must not move them between phases
    const arrived = sent.map(([t, b]) => [t + 1000, b]) as [number, number][];
    const report = { connections: 1, open: 1, bytes: 0, buckets: arrived, sentBuckets: sent };
    expect(tcpPhases(report, w)).to.deep.equal([
      { phase: "baseline", bytes: 2500, kbitPerSec: 10 },
      { phase: "chaos", bytes: 2500, kbitPerSec: 5 },
      { phase: "recovery", bytes: 1000, kbitPerSec: 2 },
    ]);
  });

  it("tcp buckets: the sink's bytes by arrival per 100 ms from the start, before and after the window left out", () => {
    const report = { connections: 1, open: 1, bytes: 0, sentBuckets: [], buckets: [[900, 7], [1000, 10], [1050, 5], [1290, 3], [1300, 99]] as [number, number][] };
    expect(tcpBuckets(report, 1000, 1300)).to.deep.equal([
      { t: 0, bytes: 15 },
      { t: 100, bytes: 0 },
      { t: 200, bytes: 3 },
    ]);
  });
});
