import { expect } from "chai";
import {
  IPPROTO_TCP,
  IPPROTO_UDP,
  decodeIpv4Header,
  encodeIpv4Header,
  internetChecksum,
  onesComplementSum,
  parseIpv4Address,
  pseudoHeaderSum,
  transportChecksum,
} from "./ipv4";
import { hex, naiveChecksum } from "./testkit";


/**
 * Published packets with valid checksums: the inner IPv4 packets of
 * draft-mcgrew-gcm-test-01 section 4 (see esp.test.ts for the source). Each
 * draft plaintext, copied verbatim, is the packet followed by the ESP
 * trailer, cut off here at the IPv4 total length.
 */
// TCP SYN 192.168.1.2:2718 -> 147.137.21.94:139, TTL 128, DF, MSS 1460, NOP NOP SACK-permitted.
const PUBLISHED_TCP_SYN = hex(
  "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee000000000" + "7002400020bf0000020405b40101040201020201",
).subarray(0, 0x30);
// UDP DNS query 192.168.1.2:2712 -> 192.168.1.1:53.
const PUBLISHED_UDP_DNS = hex(
  "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d00100" +
    "0001000000000000037369700963796265726369747902646b00000100010001",
).subarray(0, 0x3e);


describe("vpn/ipv4", () => {
  it("matches the RFC 1071 §3 numerical example", () => {
    // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (end-around carry); checksum = ~ddf2.
    const data = hex("0001f203f4f5f6f7");
    expect(onesComplementSum(data).toString(16)).to.equal("ddf2");
    expect(internetChecksum(data)).to.equal(0x220d);
  });

  it("pads an odd final byte with zero", () => {
    // hand-computed: 0x0102 + 0x0300 = 0x0402, complement 0xfbfd
    expect(internetChecksum(hex("010203"))).to.equal(0xfbfd);
    expect(internetChecksum(hex("010203"))).to.equal(naiveChecksum(hex("010203")));
  });

  it("agrees with an independent implementation on varied data", () => {
    for (let len = 0; len < 300; len += 7) {
      const data = Buffer.from(Array.from({ length: len }, (_, i) => (i * 131 + len * 17) & 0xff));
      expect(internetChecksum(data), `length ${len}`).to.equal(naiveChecksum(data));
    }
    expect(internetChecksum(Buffer.alloc(1000, 0xff))).to.equal(naiveChecksum(Buffer.alloc(1000, 0xff)));
  });

  it("verifies the published IPv4 headers (a valid header sums to zero)", () => {
    expect(internetChecksum(PUBLISHED_TCP_SYN.subarray(0, 20))).to.equal(0);
    expect(internetChecksum(PUBLISHED_UDP_DNS.subarray(0, 20))).to.equal(0);
  });

  it("reproduces the published IPv4 header byte for byte", () => {
    const h = encodeIpv4Header({
      src: "192.168.1.2",
      dst: "147.137.21.94",
      protocol: IPPROTO_TCP,
      id: 0x69a6,
      payloadLength: 28,
      ttl: 128,
    });
    expect(h.toString("hex")).to.equal(PUBLISHED_TCP_SYN.subarray(0, 20).toString("hex"));
  });

  it("computes the published TCP and UDP checksums over the pseudo-header", () => {
    const tcp = Buffer.from(PUBLISHED_TCP_SYN.subarray(20));
    expect(transportChecksum("192.168.1.2", "147.137.21.94", IPPROTO_TCP, tcp)).to.equal(0);
    tcp.writeUInt16BE(0, 16);
    expect(transportChecksum("192.168.1.2", "147.137.21.94", IPPROTO_TCP, tcp)).to.equal(0x20bf);
    const udp = PUBLISHED_UDP_DNS.subarray(20);
    expect(transportChecksum("192.168.1.2", "192.168.1.1", IPPROTO_UDP, udp)).to.equal(0);
  });

  it("sums the pseudo-header as RFC 793 lays it out", () => {
    const ph = hex("c0a80102 9389155e 00 06 001c");
    expect(pseudoHeaderSum("192.168.1.2", "147.137.21.94", IPPROTO_TCP, 28)).to.equal(onesComplementSum(ph));
  });

  it("encodes DF, TTL 64 and a valid checksum by default", () => {
    const h = encodeIpv4Header({ src: "10.0.0.1", dst: "10.0.0.2", protocol: IPPROTO_TCP, id: 0x1234, payloadLength: 28 });
    // hand-computed: 4500+0030+1234+4000+4006+0a00+0001+0a00+0002 = eb6d, complement 1492
    expect(h.toString("hex")).to.equal("450000301234400040061492" + "0a000001" + "0a000002");
    expect(naiveChecksum(h)).to.equal(0);
  });

  it("refuses payloads that do not fit and bad fields", () => {
    const base = { src: "10.0.0.1", dst: "10.0.0.2", protocol: IPPROTO_TCP, id: 1 };
    expect(() => encodeIpv4Header({ ...base, payloadLength: 65516 })).to.throw(RangeError);
    expect(() => encodeIpv4Header({ ...base, payloadLength: 65515 })).to.not.throw();
    expect(() => encodeIpv4Header({ ...base, id: 0x10000, payloadLength: 0 })).to.throw(RangeError);
  });

  it("decodes the published header", () => {
    expect(decodeIpv4Header(PUBLISHED_TCP_SYN)).to.deep.equal({
      headerLength: 20,
      totalLength: 48,
      id: 0x69a6,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 128,
      protocol: IPPROTO_TCP,
      src: "192.168.1.2",
      dst: "147.137.21.94",
      checksumOk: true,
    });
  });

  it("returns null for non-IPv4 and truncated packets, flags bad checksums", () => {
    expect(decodeIpv4Header(hex("60000000"))).to.equal(null);
    expect(decodeIpv4Header(PUBLISHED_TCP_SYN.subarray(0, 19))).to.equal(null);
    expect(decodeIpv4Header(PUBLISHED_TCP_SYN.subarray(0, 47))).to.equal(null, "shorter than total length");
    const bad = Buffer.from(PUBLISHED_TCP_SYN);
    bad[8] = 1; // TTL changed, checksum not updated
    expect(decodeIpv4Header(bad)?.checksumOk).to.equal(false);
  });

  it("parses only dotted-quad addresses", () => {
    expect(parseIpv4Address("203.0.113.10").toString("hex")).to.equal("cb00710a");
    for (const bad of ["1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "a.b.c.d", ""]) {
      expect(() => parseIpv4Address(bad), bad).to.throw(/IPv4/);
    }
  });
});
