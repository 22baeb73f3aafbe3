import { expect } from "chai";
import fc from "fast-check";
import { encodeFrame, FrameDecoder } from "./tls-framing";

const hex = (bs: Buffer[]): string[] => bs.map((b) => b.toString("hex"));
const lengthOnly = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
};

describe("vpn/transports/tls-framing", () => {
  it("encodes a 2-byte big-endian length, then the packet", () => {
    expect(encodeFrame(Buffer.from("abc")).toString("hex")).to.equal("0003616263");
  });

  it("reassembles a frame split across chunks, down to single bytes", () => {
    const d = new FrameDecoder(1400);
    const f = encodeFrame(Buffer.from("0102030405", "hex"));
    const got: Buffer[] = [];
    for (let i = 0; i < f.length; i++) {
      const r = d.push(f.subarray(i, i + 1));
      got.push(...r.packets);
      if (i < f.length - 1) expect(r.packets, `after ${i + 1} of ${f.length} bytes`).to.have.length(0);
    }
    expect(hex(got)).to.deep.equal(["0102030405"]);
    expect(d.buffered).to.equal(0);
  });

  it("takes several frames from one chunk and keeps the start of the next", () => {
    const d = new FrameDecoder(1400);
    const next = encodeFrame(Buffer.from("ccdd", "hex"));
    const r1 = d.push(Buffer.concat([encodeFrame(Buffer.from("aa", "hex")), encodeFrame(Buffer.from("bbbb", "hex")), next.subarray(0, 3)]));
    expect(hex(r1.packets)).to.deep.equal(["aa", "bbbb"]);
    expect(d.buffered).to.equal(3);
    expect(hex(d.push(next.subarray(3)).packets)).to.deep.equal(["ccdd"]);
  });

  it("skips and counts a zero-length frame; framing stays in step", () => {
    const d = new FrameDecoder(1400);
    const r = d.push(Buffer.concat([lengthOnly(0), encodeFrame(Buffer.from("ee", "hex")), lengthOnly(0)]));
    expect(r.emptyFrames).to.equal(2);
    expect(r.oversized).to.equal(undefined);
    expect(hex(r.packets)).to.deep.equal(["ee"]);
  });

  it("a length above maxPacket kills the decoder: frames before it are kept, nothing after it is believed", () => {
    const d = new FrameDecoder(100);
    const r = d.push(Buffer.concat([encodeFrame(Buffer.from("11", "hex")), lengthOnly(101), Buffer.alloc(101)]));
    expect(hex(r.packets)).to.deep.equal(["11"]);
    expect(r.oversized).to.equal(101);
    expect(d.failed).to.equal(true);
    expect(d.push(encodeFrame(Buffer.from("22", "hex"))).packets).to.have.length(0);
    expect(d.buffered).to.equal(0);
  });

  it("a frame of exactly maxPacket bytes passes", () => {
    const d = new FrameDecoder(100);
    const r = d.push(encodeFrame(Buffer.alloc(100, 7)));
    expect(r.packets.map((p) => p.length)).to.deep.equal([100]);
    expect(r.oversized).to.equal(undefined);
  });

  it("refuses a maxPacket no 2-byte length can carry", () => {
    expect(() => new FrameDecoder(0)).to.throw(RangeError);
    expect(() => new FrameDecoder(70000)).to.throw(RangeError);
  });

  it("whatever the chunking, the packets come out whole and in order (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 10 }),
        (packets, cuts) => {
          const stream = Buffer.concat(packets.map((p) => encodeFrame(Buffer.from(p))));
          const d = new FrameDecoder(300);
          const got: Buffer[] = [];
          for (let off = 0, i = 0; off < stream.length; i++) {
            const n = cuts[i % cuts.length];
            got.push(...d.push(stream.subarray(off, off + n)).packets);
            off += n;
          }
          expect(hex(got)).to.deep.equal(packets.map((p) => Buffer.from(p).toString("hex")));
          expect(d.buffered).to.equal(0);
        },
      ),
    );
  });
});
