import { expect } from "chai";
import fc from "fast-check";
import * as fs from "node:fs";
import type { Impairment } from "../../impairment";
import type { FlowMatch } from "../../fault";
import { Correlated, ETHERNET_HEADER, WireEngine, corruptPacket, mulberry32, restoreTtl, tabledist } from "./engine";

/** A minimal IPv4/UDP packet of `len` bytes (header checksum valid). */
function ipPacket(len = 100, ttl = 64): Buffer {
  const p = Buffer.alloc(len);
  p[0] = 0x45;
  p.writeUInt16BE(len, 2);
  p[8] = ttl;
  p[9] = 17;
  p.writeUInt32BE(0x0a000001, 12);
  p.writeUInt32BE(0x0a000002, 16);
  p.writeUInt16BE(headerChecksum(p), 10);
  return p;
}

function headerChecksum(p: Buffer): number {
  let sum = 0;
  for (let i = 0; i < 20; i += 2) if (i !== 10) sum += p.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Offer n packets, one per ms; return the decisions and the engine. */
function feed(imp: Impairment, seed: number, n: number, len = 100) {
  const e = new WireEngine(imp, seed);
  const ds = [];
  for (let i = 0; i < n; i++) {
    ds.push(e.offer(ipPacket(len), i));
    e.due(i);
  }
  return { e, ds };
}

const lostOf = (imp: Impairment, seed: number, n: number): number[] =>
  feed(imp, seed, n)
    .ds.filter((d) => d.lost)
    .map((d) => d.n);

describe("impair/backends/wire/engine", () => {
  it("the same seed gives the k-th packet the same decisions, whatever the arrival times", () => {
    const imp: Impairment = { loss: { kind: "random", percent: 30, correlation: 20 }, duplicate: 10, corrupt: 5, delayMs: 10, jitterMs: 5, reorder: 20 };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 50, maxLength: 50 }), (seed, gaps) => {
        const a = new WireEngine(imp, seed);
        const b = new WireEngine(imp, seed);
        let t = 0;
        for (let i = 0; i < gaps.length; i++) {
          const da = a.offer(ipPacket(), i);
          t += gaps[i];
          const db = b.offer(ipPacket(), t);
          b.due(t);
          expect(da).to.deep.equal(db);
        }
      }),
      { numRuns: 50 },
    );
  });

  it("another seed drops other packets", () => {
    const imp: Impairment = { loss: { kind: "random", percent: 50 } };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xfffffffe }), (seed) => {
        expect(lostOf(imp, seed, 200)).to.not.deep.equal(lostOf(imp, seed + 1, 200));
      }),
      { numRuns: 30 },
    );
  });

  it("random loss drops its percent of the packets", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 100 }), (seed, pct) => {
        const n = 20000;
        const got = (100 * lostOf({ loss: { kind: "random", percent: pct } }, seed, n).length) / n;
        expect(Math.abs(got - pct), `${got}% for ${pct}%`).to.be.at.most(1.5);
      }),
      { numRuns: 20 },
    );
  });

  it("drops exactly the chosen packets, every Nth, and everything in a partition", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 40 }), (chosen, nth) => {
        expect(lostOf({ dropPackets: chosen }, 1, 300)).to.deep.equal([...chosen].sort((a, b) => a - b));
        expect(lostOf({ everyNth: nth }, 1, 300)).to.deep.equal(Array.from({ length: Math.floor(300 / nth) }, (_, i) => (i + 1) * nth));
      }),
    );
    expect(lostOf({ partition: true }, 1, 50)).to.have.length(50);
  });

  it("Gilbert-Elliott loses p/(p+r) of the packets with h 0 and k 100 (its stationary bad share)", () => {
    const n = 100_000;
    const got = lostOf({ loss: { kind: "gemodel", p: 2, r: 20 } }, 9, n).length / n;
    expect(got).to.be.closeTo(2 / 22, 0.01);
    // with k 90 the good state loses 10% too
    const both = lostOf({ loss: { kind: "gemodel", p: 2, r: 20, k: 90 } }, 9, n).length / n;
    expect(both).to.be.closeTo(2 / 22 + (20 / 22) * 0.1, 0.01);
  });

  it("the 4-state model with p13 alone loses isolated packets at about p13", () => {
    const n = 100_000;
    const lost = lostOf({ loss: { kind: "state", p13: 5 } }, 3, n);
    expect(lost.length / n).to.be.closeTo(0.05 / 1.05, 0.005);
    // p31 100%: never two in a row
    expect(lost.some((v, i) => i > 0 && lost[i - 1] === v - 1)).to.equal(false);
    // bursts with p31 < 100%: consecutive losses appear
    const bursty = lostOf({ loss: { kind: "state", p13: 5, p31: 30 } }, 3, n);
    expect(bursty.some((v, i) => i > 0 && bursty[i - 1] === v - 1)).to.equal(true);
  });

  it("delay: uniform jitter stays within ±jitter around the delay; normal has the jitter as its deviation", () => {
    const u = feed({ delayMs: 100, jitterMs: 20 }, 5, 20000).ds.map((d) => d.delayMs!);
    expect(Math.min(...u)).to.be.at.least(80);
    expect(Math.max(...u)).to.be.below(120);
    expect(u.reduce((s, v) => s + v, 0) / u.length).to.be.closeTo(100, 0.5);
    const nd = feed({ delayMs: 100, jitterMs: 10, delayDistribution: "normal" }, 5, 20000).ds.map((d) => d.delayMs!);
    const mean = nd.reduce((s, v) => s + v, 0) / nd.length;
    const sd = Math.sqrt(nd.reduce((s, v) => s + (v - mean) ** 2, 0) / nd.length);
    expect(mean).to.be.closeTo(100, 0.5);
    expect(sd).to.be.closeTo(10, 0.5);
  });

  // netem's own tables, as iproute2 ships them (netem picks table[random % 4096]: the sorted table is its quantile function)
  const TC_DIRS = ["/usr/lib/x86_64-linux-gnu/tc", "/usr/lib/tc", "/usr/lib64/tc", "/usr/share/tc"];
  const netemTable = (dist: string): number[] => {
    const dir = TC_DIRS.find((d) => fs.existsSync(`${d}/${dist}.dist`));
    if (!dir) throw new Error(`no ${dist}.dist in ${TC_DIRS.join(", ")}: install iproute2, whose tables this test compares with`);
    const text = fs.readFileSync(`${dir}/${dist}.dist`, "utf8");
    const values = text.split("\n").filter((l) => !l.startsWith("#")).join(" ").trim().split(/\s+/).map(Number);
    expect(values, `${dir}/${dist}.dist`).to.have.length(4096);
    return values.sort((a, b) => a - b);
  };
  for (const dist of ["pareto", "paretonormal"] as const) {
    it(`delay ${dist}: p50, p90 and p99 within 5 % of netem's own ${dist}.dist`, () => {
      // mu = sigma = 20 ms: the whole table's shape shows (a pareto sample starts at mu - 0.67 sigma, ends at mu + 4 sigma)
      const mu = 20;
      const sigma = 20;
      const table = netemTable(dist);
      const ds = feed({ delayMs: mu, jitterMs: sigma, delayDistribution: dist }, 5, 50_000).ds.map((d) => d.delayMs!).sort((a, b) => a - b);
      const rows = [0.5, 0.9, 0.99].map((p) => {
        const want = mu + (sigma * table[Math.floor(p * table.length)]) / 8192;
        const got = ds[Math.ceil(p * ds.length) - 1]; // nearest rank
        return { p, want, got, off: Math.abs(got - want) / want };
      });
      const nums = rows.map((x) => `p${x.p * 100} ${x.got.toFixed(2)} ms, netem ${x.want.toFixed(2)} ms (${(x.off * 100).toFixed(2)} %)`).join("; ");
      for (const x of rows) expect(x.off, `${dist}: ${nums}`).to.be.at.most(0.05);
      console.log(`        ${dist}: ${nums}`);
    });
  }

  it("a correlated uniform keeps its mean and moves less from one draw to the next", () => {
    const r = mulberry32(1);
    const c = new Correlated(0.9);
    const v = Array.from({ length: 20000 }, () => c.next(r()));
    expect(v.reduce((s, x) => s + x, 0) / v.length).to.be.closeTo(0.5, 0.02);
    const step = v.slice(1).reduce((s, x, i) => s + Math.abs(x - v[i]), 0) / (v.length - 1);
    expect(step).to.be.below(0.1);
    expect(tabledist(10, 0, 0.3, "normal")).to.equal(10);
  });

  it("rate: packets leave one serialization time apart; the queue limit drops the rest and counts them", () => {
    const e = new WireEngine({ rateKbit: 1000, limit: 50 }, 1);
    for (let i = 0; i < 80; i++) e.offer(ipPacket(1250 - ETHERNET_HEADER), 0);
    // 1250-byte frames at 1000 kbit/s = 10 ms each
    expect(e.stats.rateDropped).to.equal(30);
    expect(e.stats.dropped).to.equal(30);
    expect(e.stats.queued).to.equal(50);
    expect(e.due(9.99)).to.have.length(0);
    expect(e.due(10)).to.have.length(1);
    expect(e.due(500)).to.have.length(49);
    expect(e.nextDue()).to.equal(undefined);
  });

  it("reorder: its percent goes at once ahead of the delayed ones; with a gap, every gap-th at 100%", () => {
    const { e, ds } = feed({ delayMs: 10, reorder: 25 }, 11, 20000);
    expect(ds.filter((d) => d.reordered).length / 20000).to.be.closeTo(0.25, 0.015);
    expect(e.stats.reordered).to.equal(ds.filter((d) => d.reordered).length);
    const gap = feed({ delayMs: 10, reorder: 100, reorderGap: 5 }, 11, 100).ds;
    expect(gap.filter((d) => d.reordered).map((d) => d.n)).to.deep.equal(Array.from({ length: 20 }, (_, i) => (i + 1) * 5));
    const e2 = new WireEngine({ delayMs: 10, reorder: 100, reorderGap: 2 }, 1);
    const a = ipPacket(100);
    const b = ipPacket(101);
    e2.offer(a, 0);
    e2.offer(b, 1);
    expect(e2.due(1).map((p) => p.length)).to.deep.equal([101]);
    expect(e2.due(10).map((p) => p.length)).to.deep.equal([100]);
  });

  it("duplicate and corrupt: their percents; a corrupt packet differs by one bit past the IP header", () => {
    const { ds } = feed({ duplicate: 20, corrupt: 10 }, 4, 20000);
    expect(ds.filter((d) => d.duplicated).length / 20000).to.be.closeTo(0.2, 0.015);
    expect(ds.filter((d) => d.corrupted).length / 20000).to.be.closeTo(0.1, 0.015);
    fc.assert(
      fc.property(fc.integer({ min: 21, max: 1500 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (len, u, v) => {
        const p = ipPacket(len);
        const q = corruptPacket(p, u, v);
        let bits = 0;
        for (let i = 0; i < len; i++) {
          const x = p[i] ^ q[i];
          if (x !== 0) expect(i).to.be.at.least(20);
          bits += x.toString(2).split("1").length - 1;
        }
        expect(bits).to.equal(1);
      }),
    );
  });

  it("gives back the routing step through the wire: TTL + 1 with a valid header checksum", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 254 }), (ttl) => {
        const p = ipPacket(60, ttl);
        restoreTtl(p);
        expect(p[8]).to.equal(ttl + 1);
        expect(p.readUInt16BE(10)).to.equal(headerChecksum(p));
      }),
    );
  });

  it("counts and impairs only the packets of its match: others (an old steering's) pass at once, uncounted", () => {
    // a flow packet: proto, addresses, ports as given
    const flow = (proto: number, src: number, dst: number, sport: number, dport: number, fragOffset = 0): Buffer => {
      const p = ipPacket(60);
      p[9] = proto;
      p.writeUInt32BE(src >>> 0, 12);
      p.writeUInt32BE(dst >>> 0, 16);
      p.writeUInt16BE(fragOffset, 6);
      p.writeUInt16BE(sport, 20);
      p.writeUInt16BE(dport, 22);
      return p;
    };
    const match: FlowMatch = { proto: "udp", src: "10.1.0.0/16", dport: 4500 };
    const e = new WireEngine({ dropPackets: [1], delayMs: 50 }, 1, match);
    const others = [
      flow(17, 0x0a010203, 0x0a000002, 1000, 4501), // another port
      flow(6, 0x0a010203, 0x0a000002, 1000, 4500), // tcp
      flow(17, 0x0a020203, 0x0a000002, 1000, 4500), // outside the prefix
      flow(17, 0x0a010203, 0x0a000002, 1000, 4500, 100), // a later fragment: no UDP header
    ];
    const passed = others.map((p, i) => e.offer(p, i));
    const out = e.due(others.length);
    const hit = [flow(17, 0x0a01ffff, 0x0a000002, 1000, 4500), flow(17, 0x0a010001, 0x0a000002, 7, 4500)].map((p) => e.offer(p, 10));
    const nums = `others ${JSON.stringify(passed)}, out at once ${out.length}; matched ${JSON.stringify(hit)}; stats ${JSON.stringify(e.stats)}`;
    expect(passed.every((d) => !d.matched && !d.lost && d.delayMs === undefined), nums).to.equal(true);
    expect(out.length, nums).to.equal(others.length);
    // packet #1 of the fault is its first matching one, whatever passed before it
    expect(hit.map((d) => [d.n, d.lost, d.delayMs]), nums).to.deep.equal([
      [1, true, undefined],
      [2, false, 50],
    ]);
    expect(e.stats.seen, nums).to.equal(2);
    // a match on an address alone, and every packet without one
    const icmp = new WireEngine({}, 1, { proto: "icmp", dst: "10.0.0.2" });
    expect([icmp.offer(flow(1, 1, 0x0a000002, 0, 0), 0).matched, icmp.offer(flow(1, 1, 0x0a000003, 0, 0), 0).matched]).to.deep.equal([true, false]);
    expect(new WireEngine({}, 1).offer(flow(50, 1, 2, 0, 0), 0).matched).to.equal(true);
  });
});
