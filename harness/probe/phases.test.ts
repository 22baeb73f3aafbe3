import { expect } from "chai";
import fc from "fast-check";
import { deliveryBuckets, displaced, phaseDelivery, tcpBuckets, tcpPhases, type PhaseWindow } from "./phases";
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

describe("phase accounting by what was due: a sender frozen with its endpoint", () => {
  // 40 probes due 100 ms apart from t=1000 (recovery 3000..5000). The sender's process froze from 3200 to
  // 3900: what fell due more than the 500 ms timeout before it ran again was never sent (seqs 22..23:
  // due 3200 and 3300 < 3900 - 500); 24..29 went out late, at 3900, echoed 5 ms later.
  const due = Array.from({ length: 40 }, (_, i) => 1000 + i * 100);
  const unsent = [22, 23];
  const sent = due.map((t, i) => (i >= 22 && i <= 29 ? (unsent.includes(i) ? t : 3900) : t));
  const received = sent.map((t, i) => (unsent.includes(i) ? null : t + 5));
  const record: ProbeRecord = { sent, due, unsent, received, duplicates: 0, sendErrors: 0 };
  const windows: PhaseWindow[] = [
    { name: "baseline", start: 1000, end: 2000 },
    { name: "chaos", start: 2000, end: 3000 },
    { name: "recovery", start: 3000, end: 5000 },
  ];
  it("counts every due probe in its phase; one never sent is lost, one answered later than the timeout after it was due is lost", () => {
    const r = phaseDelivery(record, windows, 500)[2];
    // seqs 20..39 due in recovery; lost: 22, 23 (never sent), 24 (due 3400, answered 3905: 505 ms after due)
    expect([r.sent, r.unsent, r.delivered, r.lostSeqs]).to.deep.equal([20, 2, 17, [22, 23, 24]]);
    // the RTT is the network's: echo − send (5 ms), not echo − due
    expect([r.rttMsP50, r.rttMsMax]).to.deep.equal([5, 5]);
  });
  it("buckets by due time: the frozen stretch shows as lost, not as a burst later", () => {
    const b = deliveryBuckets(record, 1000, 5000, 500);
    expect(b.slice(22, 30).map((x) => [x.sent, x.delivered])).to.deep.equal([[1, 0], [1, 0], [1, 0], [1, 1], [1, 1], [1, 1], [1, 1], [1, 1]]);
  });
  it("older records (no due times) count by send time as before", () => {
    const r = phaseDelivery({ sent: due, received: due.map((t) => t + 5), duplicates: 0, sendErrors: 0 }, windows, 500)[2];
    expect([r.sent, r.delivered, r.unsent]).to.deep.equal([20, 20, undefined]);
  });
});

describe("probe/phases: tcpPhases", () => {
  it("sums the sink's 100 ms send-time buckets into the phase their start falls in, the rate by send time (a late arrival does not move bytes between phases) and goodput by arrival", () => {
    const w = [
      { name: "baseline" as const, start: 1000, end: 3000 },
      { name: "chaos" as const, start: 3000, end: 7000 },
      { name: "recovery" as const, start: 7000, end: 11000 },
    ];
    const sent = [[900, 5], [1000, 1000], [2900, 1500], [3000, 2000], [6900, 500], [7000, 0], [10900, 1000], [11000, 77]] as [number, number][];
    // the same bytes by arrival: everything a second late, which must not move them between phases
    const arrived = sent.map(([t, b]) => [t + 1000, b]) as [number, number][];
    const report = { connections: 1, open: 1, bytes: 0, buckets: arrived, sentBuckets: sent };
    // goodput by arrival: 1900+2000 → baseline 1005 B; 3900+4000 → chaos 3500 B; 7900+8000 → recovery 500 B (11900 and 12000 after it)
    expect(tcpPhases(report, w)).to.deep.equal([
      { phase: "baseline", bytes: 2500, kbitPerSec: 10, arrivedBytes: 1005, goodputKbitPerSec: 4 },
      { phase: "chaos", bytes: 2500, kbitPerSec: 5, arrivedBytes: 3500, goodputKbitPerSec: 7 },
      { phase: "recovery", bytes: 1000, kbitPerSec: 2, arrivedBytes: 500, goodputKbitPerSec: 1 },
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

describe("probe/phases: RTT, duplicates, reorder and the loss pattern per phase", () => {
  const window: PhaseWindow[] = [{ name: "chaos", start: 0, end: 100_000 }];

  /**
   * A synthetic run through a netem-like hop: probe i sent at 20 i ms (50/s), `delayMs` each way in all,
   * `picked` sent at once (netem reorder: no delay), `dup` echoed twice, `lost` never echoed.
   */
  function run(n: number, o: { delayMs: number; picked?: Set<number>; dup?: Set<number>; lost?: Set<number> }): ProbeRecord {
    const sent = Array.from({ length: n }, (_, i) => i * 20);
    const received = sent.map((t, i) => (o.lost?.has(i) ? null : t + 1 + (o.picked?.has(i) ? 0 : o.delayMs)));
    const arrivals = received
      .map((t, seq) => ({ t, seq }))
      .filter((x): x is { t: number; seq: number } => x.t !== null)
      .sort((a, b) => a.t - b.t || a.seq - b.seq)
      .map((x) => x.seq);
    const echoes: number[] = received.map((t, i) => (t === null ? 0 : o.dup?.has(i) ? 2 : 1));
    return { sent, received, duplicates: echoes.reduce((a, e) => a + Math.max(0, e - 1), 0), sendErrors: 0, echoes, arrivals };
  }

  it("displaced: in order 0, one packet jumped ahead of five 1 (not 5), one held back behind five 1, a swap 1", () => {
    expect(displaced([0, 1, 2, 3, 4])).to.equal(0);
    expect(displaced([6, 1, 2, 3, 4, 5, 7])).to.equal(1);
    expect(displaced([1, 2, 3, 4, 5, 0, 6])).to.equal(1);
    expect(displaced([1, 0, 2])).to.equal(1);
    expect(displaced([])).to.equal(0);
  });

  it("displaced is the size of a smallest set whose removal leaves an ascending order (property, against brute force)", () => {
    const brute = (xs: number[]): number => {
      let best = xs.length;
      for (let mask = 0; mask < 1 << xs.length; mask++) {
        const kept = xs.filter((_, i) => !(mask & (1 << i)));
        if (kept.every((x, i) => i === 0 || kept[i - 1] < x)) best = Math.min(best, xs.length - kept.length);
      }
      return best;
    };
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 50 }), { maxLength: 10 }), (xs) => displaced(xs) === brute(xs)),
    );
  });

  it("netem-style reorder (10 % of 1000 sent at once, 100 ms delay, 50/s): the measured rate is the fraction picked, not the overtaken", () => {
    const picked = new Set(Array.from({ length: 100 }, (_, k) => k * 10 + 3)); // every tenth: each overtakes the 4–5 still waiting
    const [p] = phaseDelivery(run(1000, { delayMs: 100, picked }), window, 1000);
    expect(p.reordered).to.equal(100);
    expect(p.reorderRate).to.equal(0.1);
    expect(p.duplicates).to.equal(0);
    // the picked ones come back ~100 ms early: p50 is the delayed path, the mean below it by a tenth of the delay
    expect([p.rttMsP50, p.rttMsMax, p.rttMsMean, p.rttMsP95]).to.deep.equal([101, 101, 91, 101]);
  });

  it("a picked packet with nothing in the queue to overtake is not counted (nothing arrived out of order)", () => {
    // 10 ms delay at 50/s: the queue is empty when a packet is sent at once
    const [p] = phaseDelivery(run(100, { delayMs: 10, picked: new Set([5, 50]) }), window, 1000);
    expect(p.reordered).to.equal(0);
  });

  it("duplicates: echoes beyond the first per seq, their rate per delivered probe; lost seqs listed in order", () => {
    const dup = new Set([0, 7, 8, 40]);
    const lost = new Set([3, 9, 42]);
    const [p] = phaseDelivery(run(50, { delayMs: 0, dup, lost }), window, 1000);
    expect([p.sent, p.delivered, p.duplicates]).to.deep.equal([50, 47, 4]);
    expect(p.duplicateRate).to.equal(4 / 47);
    expect(p.lostSeqs).to.deep.equal([3, 9, 42]);
    expect(p.reordered).to.equal(0);
  });

  it("per phase: each phase counts the probes sent in it; a late echo is lost; an old record without echoes/arrivals leaves those counters out", () => {
    const r = run(100, { delayMs: 100, picked: new Set([10, 60, 61]), dup: new Set([70]) });
    r.received[80] = r.sent[80] + 5000; // late
    const [a, b] = phaseDelivery(r, [{ name: "baseline", start: 0, end: 1000 }, { name: "chaos", start: 1000, end: 2000 }], 1000);
    expect([a.sent, a.reordered, a.duplicates, a.lostSeqs]).to.deep.equal([50, 1, 0, []]);
    expect([b.sent, b.reordered, b.duplicates, b.lostSeqs]).to.deep.equal([50, 2, 1, [80]]);
    const old: ProbeRecord = { sent: r.sent, received: r.received, duplicates: 0, sendErrors: 0 };
    const [c] = phaseDelivery(old, window, 1000);
    expect(c).to.not.have.any.keys("duplicates", "duplicateRate", "reordered", "reorderRate");
    expect(c.lostSeqs).to.deep.equal([80]);
  });
});
