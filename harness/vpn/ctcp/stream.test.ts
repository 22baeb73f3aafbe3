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
      expect(r.stats).to.deep.equal({
        bytes: data.length, segments: 1, gaps: 0, gapBytes: 0, duplicateBytes: 0, badFrames: 0, resyncs: 0, resyncBytes: 0,
      });
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
      expect(r.stats).to.include({ gaps: 1, gapBytes: 10, badFrames: 0, bytes: 20, resyncs: 1, resyncBytes: 0 });
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
      expect(r.stats).to.include({ gaps: 1, gapBytes: big.length - 9, badFrames: 1, resyncs: 1, resyncBytes: 0 });
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
      expect(r.stats).to.include({ badFrames: 1, resyncs: 1, resyncBytes: 1 }); // 00 00 refused; 00 09 waits for 9 bytes
      // still hunting: a bad length here is a refused candidate, not another frame
      expect(r.accept(9, Buffer.from([0xff, 0xfe, 1, 2]))).to.deep.equal([]);
      expect(r.stats).to.include({ badFrames: 1, resyncs: 1, gaps: 0 });
      // a segment that starts a frame wins over the stale candidate
      expect(hexes(r.accept(13, frame(pkt(2, 3))))).to.deep.equal(["0303"]);
      expect(r.stats).to.include({ badFrames: 1, resyncs: 1, resyncBytes: 8 });
      expect(hexes(r.accept(17, frame(pkt(1, 4))))).to.deep.equal(["04"]);
    });

    it("validates maxFrame", () => {
      expect(() => new StreamReceiver(0, { maxFrame: 0 })).to.throw(RangeError);
      expect(() => new StreamReceiver(0, { maxFrame: MAX_FRAME_PAYLOAD + 1 })).to.throw(RangeError);
      expect(() => new StreamReceiver(0, { maxFrame: 1.5 })).to.throw(RangeError);
      expect(() => new StreamReceiver(0, { maxFrame: MAX_FRAME_PAYLOAD })).not.to.throw();
    });

    it("treats a length above maxFrame or a payload refused by isFrameStart as lost framing", () => {
      const r = new StreamReceiver(0, { maxFrame: 8, isFrameStart: (p) => p[0] === 0xaa });
      const good = (n: number): Buffer => frame(Buffer.alloc(n, 0xaa));
      const stream = Buffer.concat([good(3), frame(pkt(9, 0xaa)), good(4), frame(pkt(2, 0xbb)), good(5)]);
      expect(hexes(r.accept(1, stream))).to.deep.equal(["aaaaaa", "aaaaaaaa", "aaaaaaaaaa"]);
      expect(r.stats).to.include({ badFrames: 2, resyncs: 2, resyncBytes: 11 + 4 });
    });

    it("after a gap, does not let a huge bogus length swallow the following frames when maxFrame is set", () => {
      // A proxy re-segmented the stream: after the gap the data resumes inside
      // a frame whose bytes (0xfe) read as a length of 65278.
      const before = frame(pkt(30, 1));
      const cut = frame(pkt(40, 0xfe));
      const after = Array.from({ length: 20 }, (_, i) => pkt(20 + i * 7, 0x10 + i));
      const tail = Buffer.concat([cut.subarray(12), ...after.map(frame)]);
      const tailSeq = 1 + before.length + 12;

      const r = new StreamReceiver(0, { maxFrame: 1400 });
      expect(r.accept(1, before)).to.have.length(1);
      expect(hexes(r.accept(tailSeq, tail))).to.deep.equal(hexes(after));
      expect(r.stats).to.include({ gaps: 1, gapBytes: 12, badFrames: 0, resyncs: 1, resyncBytes: cut.length - 12 });
      expect(hexes(r.accept(tailSeq + tail.length, frame(pkt(3, 9))))).to.deep.equal(["090909"]);

      // The same bytes cut anywhere by the proxy: same frames.
      const rnd = prng(7);
      const r2 = new StreamReceiver(0, { maxFrame: 1400 });
      r2.accept(1, before);
      const got: Buffer[] = [];
      for (let at = 0; at < tail.length; ) {
        const n = Math.min(tail.length - at, 1 + Math.floor(rnd() * 60));
        got.push(...r2.accept(tailSeq + at, tail.subarray(at, at + n)));
        at += n;
      }
      expect(hexes(got)).to.deep.equal(hexes(after));

      // Without maxFrame, 65278 is a possible length: everything after is swallowed into it.
      const r3 = new StreamReceiver(0);
      r3.accept(1, before);
      expect(r3.accept(tailSeq, tail)).to.deep.equal([]);
    });

    it("waits for an incomplete candidate, then refuses it and finds the frame inside it", () => {
      const r = new StreamReceiver(0, { maxFrame: 100, isFrameStart: (p) => p[0] === 0xaa });
      const real = frame(Buffer.alloc(10, 0xaa));
      const next = frame(Buffer.alloc(80, 0xaa));
      // after the gap: a plausible length (90) whose payload would hold the real frames
      const junk = Buffer.concat([Buffer.from([0, 90, 0x55]), real, next]);
      expect(r.accept(1, frame(Buffer.alloc(1, 0xaa)))).to.have.length(1);
      const seq = 1 + 3 + 50;
      expect(r.accept(seq, junk.subarray(0, 40))).to.deep.equal([]); // 00 5a is incomplete: wait
      // the candidate's 92 bytes are there: refused (55...), the scan goes on and finds both frames
      expect(hexes(r.accept(seq + 40, junk.subarray(40)))).to.deep.equal(["aa".repeat(10), "aa".repeat(80)]);
      expect(r.stats).to.include({ resyncs: 1, resyncBytes: 3, badFrames: 0 });
    });

    it("on a gap while hunting, still delivers whole frames held behind an incomplete candidate", () => {
      const r = new StreamReceiver(0, { maxFrame: 100, isFrameStart: (p) => p[0] === 0xaa });
      const real = frame(Buffer.alloc(10, 0xaa));
      const junk = Buffer.concat([Buffer.from([0, 90, 0x55]), real]); // 00 5a never completes
      expect(r.accept(100, junk)).to.deep.equal([]); // gap of 99 bytes at the start
      const last = frame(Buffer.alloc(4, 0xaa));
      const got = r.accept(100 + junk.length + 20, last); // a second gap
      expect(hexes(got)).to.deep.equal(["aa".repeat(10), "aaaaaaaa"]);
      expect(r.stats).to.include({ gaps: 2, badFrames: 0, resyncs: 2, resyncBytes: 3 });
    });

    describe("behind a proxy that re-segments the stream, with a gap", () => {
      const SPI = 0xc0ffee42;
      const isEsp = (p: Buffer): boolean => p.length >= 8 && p.readUInt32BE(0) === SPI;

      /** ESP-like packets: the SPI, a sequence number, then random bytes; 40..1400 bytes. */
      function espPackets(rnd: () => number, n: number): Buffer[] {
        return Array.from({ length: n }, (_, i) => {
          const p = Buffer.alloc(40 + Math.floor(rnd() * 1361));
          p.writeUInt32BE(SPI, 0);
          p.writeUInt32BE(i + 1, 4);
          for (let j = 8; j < p.length; j++) p[j] = Math.floor(rnd() * 256);
          return p;
        });
      }

      for (let seed = 1; seed <= 200; seed++) {
        it(`recovers every frame after the gap, none corrupted (seed ${seed})`, () => {
          const rnd = prng(seed);
          const packets = espPackets(rnd, 150);
          const frames = packets.map(frame);
          const starts: number[] = [];
          let off = 0;
          for (const f of frames) {
            starts.push(off);
            off += f.length;
          }
          const stream = Buffer.concat(frames);
          // the gap: a random byte range in the middle
          const gapStart = Math.floor(stream.length * (0.2 + rnd() * 0.3));
          const gapEnd = gapStart + 1 + Math.floor(rnd() * (seed % 3 === 0 ? 20 : 5000));
          const irs = Math.floor(rnd() * 0x100000000);
          const r = new StreamReceiver(irs, { maxFrame: 1400, isFrameStart: isEsp });
          const got: Buffer[] = [];
          const deliver = (from: number, to: number): void => {
            if (to > from) got.push(...r.accept(seqAdd(irs, 1 + from), stream.subarray(from, to)));
          };
          // cut at random byte positions, as a proxy's kernel would; some tiny segments
          for (let at = 0; at < stream.length; ) {
            const n = Math.min(stream.length - at, rnd() < 0.2 ? 1 + Math.floor(rnd() * 8) : 1 + Math.floor(rnd() * 1500));
            deliver(at, Math.min(at + n, gapStart));
            deliver(Math.max(at, gapEnd), at + n);
            at += n;
          }

          // Expected: the frames wholly before the gap, and every frame starting at or after its end.
          const expected = packets.filter((_, i) => starts[i] + frames[i].length <= gapStart || starts[i] >= gapEnd);
          const firstAfter = starts.findIndex((s) => s >= gapEnd);
          // the contract: everything from one full frame after the gap on is delivered, in order, intact
          const required = packets.slice(firstAfter + 1);
          expect(hexes(got.slice(got.length - required.length))).to.deep.equal(hexes(required));
          // and in fact nothing is lost but the frames the gap touched, and nothing is corrupted
          expect(hexes(got)).to.deep.equal(hexes(expected));
          const st = r.stats;
          expect(st).to.include({ gaps: 1, gapBytes: gapEnd - gapStart, resyncs: 1, resyncBytes: starts[firstAfter] - gapEnd });
          expect(st.badFrames).to.equal(starts.includes(gapStart) ? 0 : 1);
          expect(st.bytes).to.equal(stream.length - (gapEnd - gapStart));
        });
      }
    });

    it("ignores segments without payload", () => {
      const r = new StreamReceiver(0);
      expect(r.accept(1, Buffer.alloc(0))).to.deep.equal([]);
      expect(r.accept(999, Buffer.alloc(0))).to.deep.equal([]);
      expect(r.rcvNxt).to.equal(1);
      expect(r.stats).to.deep.equal({
        bytes: 0, segments: 0, gaps: 0, gapBytes: 0, duplicateBytes: 0, badFrames: 0, resyncs: 0, resyncBytes: 0,
      });
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
