import { expect } from "chai";
import { seqAdd } from "./segment";
import { MAX_FRAME_PAYLOAD, StreamReceiver, StreamSender, frame } from "./stream";
import { prng } from "../testkit";

/** A recognisable packet: n bytes of value v. */
const pkt = (n: number, v: number): Buffer => Buffer.alloc(n, v);
const hexes = (bufs: Buffer[]): string[] => bufs.map((b) => b.toString("hex"));


describe("vpn/ctcp/stream", () => {
  describe("frame", () => {
    it("prefixes a 2-byte big-endian length", () => {
      expect(frame(Buffer.from("abc")).toString("hex")).to.equal("0003616263");
      expect(frame(pkt(300, 1)).subarray(0, 2).toString("hex")).to.equal("012c");
    });

    it("refuses empty and oversized packets", () => {
      expect(() => frame(Buffer.alloc(0))).to.throw(RangeError);
      expect(() => frame(Buffer.alloc(MAX_FRAME_PAYLOAD + 1))).to.throw(RangeError);
      expect(frame(Buffer.alloc(MAX_FRAME_PAYLOAD)).length).to.equal(0xffff);
    });
  });

  describe("StreamSender", () => {
    it("starts after the SYN and advances by each payload, keeping nothing", () => {
      const s = new StreamSender(1000);
      expect(s.sndNxt).to.equal(1001);
      const f1 = frame(pkt(10, 1));
      expect(s.next(f1)).to.deep.equal({ seq: 1001, payload: f1 });
      expect(s.next(frame(pkt(5, 2))).seq).to.equal(1013);
      expect(s.sndNxt).to.equal(1020);
      expect(s.bytesSent).to.equal(19);
      expect(s.segments).to.equal(2);
    });

    it("wraps around 2^32", () => {
      const s = new StreamSender(0xfffffffe);
      expect(s.sndNxt).to.equal(0xffffffff);
      expect(s.next(frame(pkt(10, 1))).seq).to.equal(0xffffffff);
      expect(s.sndNxt).to.equal(11);
    });

    it("refuses a payload that is not exactly one frame", () => {
      const s = new StreamSender(0);
      expect(() => s.next(pkt(10, 1))).to.throw(/frame/);
      expect(() => s.next(Buffer.concat([frame(pkt(3, 1)), frame(pkt(3, 2))]))).to.throw(/frame/);
      expect(s.sndNxt).to.equal(1);
      expect(s.segments).to.equal(0);
    });
  });

  describe("StreamReceiver", () => {
    it("starts at irs+1 and delivers in-order frames, several per segment", () => {
      const r = new StreamReceiver(5000);
      expect(r.rcvNxt).to.equal(5001);
      const data = Buffer.concat([frame(pkt(3, 0xa)), frame(pkt(1, 0xb)), frame(pkt(4, 0xc))]);
      expect(hexes(r.accept(5001, data))).to.deep.equal(["0a0a0a", "0b", "0c0c0c0c"]);
      expect(r.rcvNxt).to.equal(5001 + data.length);
      expect(r.stats).to.deep.equal({ bytes: data.length, segments: 1, gaps: 0, gapBytes: 0, duplicateBytes: 0, badFrames: 0 });
    });

    it("reassembles a frame split across segments, even inside its length prefix", () => {
      const r = new StreamReceiver(0);
      const f = frame(pkt(5, 0xdd)); // 00 05 dd dd dd dd dd
      expect(r.accept(1, f.subarray(0, 1))).to.deep.equal([]);
      expect(r.accept(2, f.subarray(1, 3))).to.deep.equal([]);
      expect(r.accept(4, f.subarray(3, 6))).to.deep.equal([]);
      expect(hexes(r.accept(7, f.subarray(6)))).to.deep.equal(["dddddddddd"]);
      expect(r.stats.badFrames).to.equal(0);
    });

    it("reassembles frames re-segmented arbitrarily by a proxy", () => {
      const rnd = prng(42);
      const packets = Array.from({ length: 200 }, (_, i) => pkt(1 + Math.floor(rnd() * 300), i & 0xff));
      const stream = Buffer.concat(packets.map(frame));
      const r = new StreamReceiver(0x7ffffff0);
      const got: Buffer[] = [];
      let at = 0;
      while (at < stream.length) {
        const n = Math.min(stream.length - at, 1 + Math.floor(rnd() * 700));
        got.push(...r.accept(seqAdd(0x7ffffff1, at), stream.subarray(at, at + n)));
        at += n;
      }
      expect(hexes(got)).to.deep.equal(hexes(packets));
      expect(r.stats.bytes).to.equal(stream.length);
      expect(r.stats.gaps + r.stats.duplicateBytes + r.stats.badFrames).to.equal(0);
    });

    it("drops a full duplicate (a proxy's retransmission)", () => {
      const r = new StreamReceiver(0);
      const f = frame(pkt(4, 1));
      expect(r.accept(1, f)).to.have.length(1);
      expect(r.accept(1, f)).to.deep.equal([]);
      expect(r.rcvNxt).to.equal(1 + f.length);
      expect(r.stats).to.include({ segments: 2, bytes: f.length, duplicateBytes: f.length, gaps: 0 });
    });

    it("keeps only the new part of a partially overlapping segment", () => {
      const r = new StreamReceiver(0);
      const stream = Buffer.concat([frame(pkt(6, 1)), frame(pkt(6, 2)), frame(pkt(6, 3))]); // 24 bytes
      expect(hexes(r.accept(1, stream.subarray(0, 10)))).to.deep.equal(["010101010101"]);
      // retransmission of bytes 5..20: 5 old, 10 new
      expect(hexes(r.accept(6, stream.subarray(5, 20)))).to.deep.equal(["020202020202"]);
      expect(hexes(r.accept(21, stream.subarray(20)))).to.deep.equal(["030303030303"]);
      expect(r.stats).to.include({ bytes: 24, duplicateBytes: 5, gaps: 0, badFrames: 0 });
    });

    it("never waits on a gap: skips to the next segment and counts what was skipped", () => {
      const s = new StreamSender(100);
      const r = new StreamReceiver(100);
      const segs = [1, 2, 3].map((v) => s.next(frame(pkt(8, v))));
      expect(r.accept(segs[0].seq, segs[0].payload)).to.have.length(1);
      // segs[1] is lost
      expect(hexes(r.accept(segs[2].seq, segs[2].payload))).to.deep.equal(["0303030303030303"]);
      expect(r.rcvNxt).to.equal(s.sndNxt);
      expect(r.stats).to.include({ gaps: 1, gapBytes: 10, badFrames: 0, bytes: 20 });
      // The lost segment turning up late (e.g. reordered) is behind rcvNxt: dropped as duplicate.
      expect(r.accept(segs[1].seq, segs[1].payload)).to.deep.equal([]);
      expect(r.stats.duplicateBytes).to.equal(10);
    });

    it("drops a partial frame cut off by a gap and resynchronises on the next segment", () => {
      const r = new StreamReceiver(0);
      const big = frame(pkt(20, 0xb)); // arrives as two pieces; the second is lost
      const next = frame(pkt(3, 0xc));
      expect(r.accept(1, big.subarray(0, 9))).to.deep.equal([]);
      const nextSeq = 1 + big.length;
      expect(hexes(r.accept(nextSeq, next))).to.deep.equal(["0c0c0c"]);
      expect(r.stats).to.include({ gaps: 1, gapBytes: big.length - 9, badFrames: 1 });
      expect(hexes(r.accept(nextSeq + next.length, frame(pkt(2, 0xd))))).to.deep.equal(["0d0d"]);
    });

    it("handles sequence numbers across 2^32", () => {
      const s = new StreamSender(0xfffffff8);
      const r = new StreamReceiver(0xfffffff8);
      const got: Buffer[] = [];
      for (let i = 0; i < 4; i++) {
        const { seq, payload } = s.next(frame(pkt(5, i)));
        // deliver each segment in two pieces to exercise the wrap inside a frame
        got.push(...r.accept(seq, payload.subarray(0, 3)));
        got.push(...r.accept(seqAdd(seq, 3), payload.subarray(3)));
      }
      expect(hexes(got)).to.deep.equal([0, 1, 2, 3].map((v) => pkt(5, v).toString("hex")));
      expect(r.rcvNxt).to.equal(s.sndNxt);
      expect(r.rcvNxt).to.be.lessThan(0x100);
      expect(r.stats).to.include({ gaps: 0, duplicateBytes: 0 });
      // a duplicate from before the wrap is still recognised as old
      expect(r.accept(0xfffffff9, frame(pkt(5, 0)))).to.deep.equal([]);
      expect(r.stats.duplicateBytes).to.equal(7);
    });

    it("counts and drops impossible frame lengths, then resynchronises", () => {
      const r = new StreamReceiver(0);
      expect(r.accept(1, Buffer.concat([frame(pkt(2, 1)), Buffer.from([0, 0, 9, 9])]))).to.have.length(1);
      expect(r.stats.badFrames).to.equal(1);
      expect(r.accept(9, Buffer.from([0xff, 0xfe, 1, 2]))).to.deep.equal([]);
      expect(r.stats.badFrames).to.equal(2);
      expect(r.stats.gaps).to.equal(0);
      expect(hexes(r.accept(13, frame(pkt(2, 3))))).to.deep.equal(["0303"]);
    });

    it("ignores segments without payload", () => {
      const r = new StreamReceiver(0);
      expect(r.accept(1, Buffer.alloc(0))).to.deep.equal([]);
      expect(r.accept(999, Buffer.alloc(0))).to.deep.equal([]);
      expect(r.rcvNxt).to.equal(1);
      expect(r.stats).to.deep.equal({ bytes: 0, segments: 0, gaps: 0, gapBytes: 0, duplicateBytes: 0, badFrames: 0 });
    });

    it("returns copies, not views of the caller's buffer", () => {
      const r = new StreamReceiver(0);
      const data = frame(pkt(3, 7));
      const [f] = r.accept(1, data);
      data.fill(0);
      expect(f.toString("hex")).to.equal("070707");
    });
  });
});
