import { expect } from "chai";
import { TcpSegment, decodeSegment, encodeSegment, seqAdd, seqDiff } from "./segment";
import { hex, naiveChecksum } from "../testkit";


// A real TCP SYN with valid IP and TCP checksums: the inner packet of the
// AES-256 ESP case (SPI 4a2cbfe3) of draft-mcgrew-gcm-test-01 section 4,
// copied verbatim; its last 4 bytes are the ESP trailer (01 02 02 01), which
// lie beyond the IPv4 total length (0x30) and must be ignored.
const PUBLISHED_SYN_WITH_TRAILER = hex(
  "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee000000000" + "7002400020bf0000020405b40101040201020201",
);


function seg(over: Partial<TcpSegment> = {}): TcpSegment {
  return {
    src: "203.0.113.10",
    dst: "192.0.2.10",
    sport: 40001,
    dport: 10000,
    seq: 1000,
    ack: 2000,
    flags: { ack: true },
    window: 65535,
    payload: Buffer.alloc(0),
    ...over,
  };
}

/** Recompute the IPv4 header checksum after a test edits the header. */
function fixIpChecksum(p: Buffer): Buffer {
  p.writeUInt16BE(0, 10);
  p.writeUInt16BE(naiveChecksum(p.subarray(0, (p[0] & 0x0f) * 4)), 10);
  return p;
}

describe("vpn/ctcp/segment", () => {
  describe("sequence arithmetic", () => {
    it("adds modulo 2^32", () => {
      expect(seqAdd(0xffffffff, 1)).to.equal(0);
      expect(seqAdd(0xfffffff0, 0x20)).to.equal(0x10);
      expect(seqAdd(5, -10)).to.equal(0xfffffffb);
      expect(seqAdd(7, 0)).to.equal(7);
      expect(seqAdd(0, 0x100000000)).to.equal(0);
    });

    it("gives the signed distance across the wrap", () => {
      expect(seqDiff(0x10, 0xfffffff0)).to.equal(0x20);
      expect(seqDiff(0xfffffff0, 0x10)).to.equal(-0x20);
      expect(seqDiff(5, 5)).to.equal(0);
      expect(seqDiff(0, 0xffffffff)).to.equal(1);
    });

    it("keeps the distance in (-2^31, 2^31]", () => {
      expect(seqDiff(0x80000000, 0)).to.equal(0x80000000);
      expect(seqDiff(0, 0x80000000)).to.equal(0x80000000);
      expect(seqDiff(0x80000001, 0)).to.equal(-0x7fffffff);
      expect(seqDiff(0, 0x80000001)).to.equal(0x7fffffff);
    });
  });

  describe("decodeSegment", () => {
    it("decodes the published SYN and verifies its checksum", () => {
      expect(decodeSegment(PUBLISHED_SYN_WITH_TRAILER)).to.deep.equal({
        src: "192.168.1.2",
        dst: "147.137.21.94",
        sport: 0x0a9e,
        dport: 0x008b,
        seq: 0x2dc57ee0,
        ack: 0,
        flags: { syn: true },
        window: 0x4000,
        mss: 1460,
        payload: Buffer.alloc(0),
        checksumOk: true,
      });
    });

    it("reports a bad TCP checksum", () => {
      const p = Buffer.from(PUBLISHED_SYN_WITH_TRAILER);
      p[24] ^= 0x80; // a bit of the TCP sequence number
      expect(decodeSegment(p)?.checksumOk).to.equal(false);
    });

    it("returns null for non-TCP, truncated, fragmented or corrupt-header packets", () => {
      const udp = hex(
        "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d00100" +
          "0001000000000000037369700963796265726369747902646b00000100010001",
      ).subarray(0, 0x3e); // the published UDP packet of the same draft
      expect(decodeSegment(udp)).to.equal(null);
      expect(decodeSegment(PUBLISHED_SYN_WITH_TRAILER.subarray(0, 40))).to.equal(null);
      expect(decodeSegment(Buffer.alloc(0))).to.equal(null);

      const moreFragments = Buffer.from(PUBLISHED_SYN_WITH_TRAILER);
      moreFragments.writeUInt16BE(0x6000, 6); // DF + MF
      expect(decodeSegment(fixIpChecksum(moreFragments))).to.equal(null);
      const laterFragment = Buffer.from(PUBLISHED_SYN_WITH_TRAILER);
      laterFragment.writeUInt16BE(0x0003, 6); // offset 24 bytes
      expect(decodeSegment(fixIpChecksum(laterFragment))).to.equal(null);

      const badIp = Buffer.from(PUBLISHED_SYN_WITH_TRAILER);
      badIp[8] = 1;
      expect(decodeSegment(badIp)).to.equal(null);

      const badOffset = Buffer.from(PUBLISHED_SYN_WITH_TRAILER);
      badOffset[32] = 0xf0; // data offset 60 bytes > 28 available
      expect(decodeSegment(badOffset)).to.equal(null);
    });

    it("skips IPv4 options", () => {
      const p = encodeSegment(seg({ payload: Buffer.from("data") }), 7);
      const withOptions = Buffer.concat([p.subarray(0, 20), hex("01010100"), p.subarray(20)]);
      withOptions[0] = 0x46;
      withOptions.writeUInt16BE(withOptions.length, 2);
      const d = decodeSegment(fixIpChecksum(withOptions));
      expect(d?.payload.toString()).to.equal("data");
      expect(d?.checksumOk).to.equal(true);
    });

    it("survives a malformed option list", () => {
      const p = encodeSegment(seg({ mss: 1400 }), 1);
      p[41] = 0; // the MSS option's length byte
      const d = decodeSegment(p);
      expect(d).to.not.equal(null);
      expect(d?.mss).to.equal(undefined);
    });
  });

  describe("encodeSegment", () => {
    it("builds the hand-computed SYN with an MSS option", () => {
      const p = encodeSegment(
        seg({
          src: "10.0.0.1",
          dst: "10.0.0.2",
          sport: 40000,
          dport: 10000,
          seq: 0xfffffff0,
          ack: 0,
          flags: { syn: true },
          window: 65535,
          mss: 1400,
        }),
        0x1234,
      );
      // Computed by hand, field by field:
      //  IPv4: 4500 002c 1234 4000(DF) 40(TTL 64) 06 1496 0a000001 0a000002
      //        (4500+002c+1234+4000+4006+0a00+0001+0a00+0002 = eb69, ~ = 1496)
      //  TCP:  9c40 2710 fffffff0 00000000 60(offset 6) 02(SYN) ffff c11e 0000 0204 0578(MSS 1400)
      //        (pseudo 0a00+0001+0a00+0002+0006+0018 = 1421; header words sum 42abc;
      //         1421+42abc = 43edd -> 3ee1, ~ = c11e)
      const expected = hex(
        "4500 002c 1234 4000 40 06 1496 0a000001 0a000002" + "9c40 2710 fffffff0 00000000 60 02 ffff c11e 0000 0204 0578",
      );
      expect(p.toString("hex")).to.equal(expected.toString("hex"));
      const pseudo = hex("0a000001 0a000002 0006 0018");
      expect(naiveChecksum(pseudo, p.subarray(20))).to.equal(0);
      expect(naiveChecksum(p.subarray(0, 20))).to.equal(0);
    });

    it("round-trips flags, payload and fields", () => {
      const flagSets = [{ ack: true, psh: true }, { fin: true, ack: true }, { rst: true }, { syn: true, ack: true }, {}];
      flagSets.forEach((flags, i) => {
        const s = seg({ flags, seq: 0xffffff00 + i, ack: i, window: 1000 + i, payload: Buffer.from(`payload ${i}!`) });
        const p = encodeSegment(s, 0xffff);
        const d = decodeSegment(p);
        expect(d).to.deep.equal({ ...s, checksumOk: true });
        expect(p.readUInt16BE(4)).to.equal(0xffff, "IP id");
        expect(p[8]).to.equal(64, "TTL");
        expect(p.readUInt16BE(6)).to.equal(0x4000, "DF, not a fragment");
      });
    });

    it("covers odd-length payloads in the TCP checksum", () => {
      const s = seg({ payload: Buffer.from("odd") });
      const p = encodeSegment(s, 1);
      expect(naiveChecksum(hex("cb00710a c000020a 0006"), Buffer.from([0, p.length - 20]), p.subarray(20))).to.equal(0);
      expect(decodeSegment(p)?.checksumOk).to.equal(true);
    });

    it("omits the MSS option unless asked", () => {
      const p = encodeSegment(seg(), 1);
      expect(p.length).to.equal(40);
      expect(p[32] >> 4).to.equal(5);
      expect(decodeSegment(p)).to.not.have.property("mss");
    });

    it("refuses out-of-range fields and oversized payloads", () => {
      expect(() => encodeSegment(seg({ sport: 65536 }), 1)).to.throw(RangeError);
      expect(() => encodeSegment(seg({ seq: -1 }), 1)).to.throw(RangeError);
      expect(() => encodeSegment(seg({ window: 70000 }), 1)).to.throw(RangeError);
      expect(() => encodeSegment(seg(), 0x10000)).to.throw(RangeError);
      expect(() => encodeSegment(seg({ payload: Buffer.alloc(65535 - 40 + 1) }), 1)).to.throw(RangeError);
      expect(() => encodeSegment(seg({ payload: Buffer.alloc(65535 - 40) }), 1)).to.not.throw();
    });
  });
});
