import { expect } from "chai";
import { createCipheriv, createDecipheriv } from "node:crypto";
import {
  EspError,
  EspInbound,
  EspOutbound,
  NEXT_HEADER_CONTROL,
  NEXT_HEADER_IPV4,
  NEXT_HEADER_NONE,
  SaKeys,
  generateSaKeys,
  saKeysFromJson,
  saKeysToJson,
  sealWithIv,
} from "./esp";
import { hex } from "./testkit";


function dropReason(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof EspError) return e.reason;
    throw e;
  }
  return "accepted";
}

/** Seal an arbitrary ESP plaintext (trailer included) without esp.ts: for packets esp.ts would never build. */
function rawSeal(keys: SaKeys, seq: number, iv: Buffer, plaintext: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(keys.spi, 0);
  header.writeUInt32BE(seq, 4);
  const c = createCipheriv("aes-128-gcm", keys.key, Buffer.concat([keys.salt, iv]));
  c.setAAD(header);
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([header, iv, ct, c.getAuthTag()]);
}

function ivOf(seq: number): Buffer {
  const iv = Buffer.alloc(8);
  iv.writeUInt32BE(seq, 4);
  return iv;
}

describe("vpn/esp", () => {
  describe("AES-128-GCM primitive (node:crypto) against the GCM specification", () => {
    // Source: D. McGrew, J. Viega, "The Galois/Counter Mode of Operation (GCM)",
    // revised spec (NIST proposed modes, gcm-revised-spec.pdf), Appendix B,
    // Test Cases 2, 3 and 4 (AES-128). Values copied verbatim.
    const K3 = "feffe9928665731c6d6a8f9467308308";
    const IV3 = "cafebabefacedbaddecaf888";
    const P3 =
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
      "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
    const C3 =
      "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e" +
      "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985";
    const cases = [
      {
        name: "Test Case 2",
        K: "00000000000000000000000000000000",
        P: "00000000000000000000000000000000",
        A: "",
        IV: "000000000000000000000000",
        C: "0388dace60b6a392f328c2b971b2fe78",
        T: "ab6e47d42cec13bdf53a67b21257bddf",
      },
      { name: "Test Case 3", K: K3, P: P3, A: "", IV: IV3, C: C3, T: "4d5c2af327cd64a62cf35abd2ba6fab4" },
      {
        name: "Test Case 4",
        K: K3,
        // Test Case 4 uses the first 60 bytes of Test Case 3's plaintext with 20 bytes of AAD.
        P: P3.slice(0, 120),
        A: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        IV: IV3,
        C: C3.slice(0, 120),
        T: "5bc94fbc3221a5db94fae95ae7121a47",
      },
    ];
    for (const tc of cases) {
      it(`${tc.name}: encrypts and authenticates as published`, () => {
        const c = createCipheriv("aes-128-gcm", hex(tc.K), hex(tc.IV));
        c.setAAD(hex(tc.A));
        const ct = Buffer.concat([c.update(hex(tc.P)), c.final()]);
        expect(ct.toString("hex")).to.equal(tc.C);
        expect(c.getAuthTag().toString("hex")).to.equal(tc.T);
      });
      it(`${tc.name}: decrypts as published`, () => {
        const d = createDecipheriv("aes-128-gcm", hex(tc.K), hex(tc.IV));
        d.setAAD(hex(tc.A));
        d.setAuthTag(hex(tc.T));
        const pt = Buffer.concat([d.update(hex(tc.C)), d.final()]);
        expect(pt.toString("hex")).to.equal(tc.P);
      });
    }
  });

  describe("ESP packets against draft-mcgrew-gcm-test-01", () => {
    // Source: D. McGrew, "Test Cases for the use of Galois/Counter Mode (GCM)
    // and Galois Message Authentication Code (GMAC) in IPsec ESP",
    // draft-mcgrew-gcm-test-01 (March 2009), section 4: the AES-GCM-ESP cases
    // with a 128-bit key, 4-byte salt and a 32-bit sequence number (the
    // others use a longer key or extended sequence numbers). The values were
    // taken verbatim from transcriptions of that section in public test suites
    // (which agree byte for byte); no byte here was computed by this project.
    // Each draft plaintext is payload | padding | pad length | next header;
    // the draft uses next header 1 throughout.
    const vectors = [
      {
        name: "SPI 0000a5f8, seq 10 (no padding needed)",
        key: "feffe9928665731c6d6a8f9467308308",
        salt: "cafebabe",
        spi: 0x0000a5f8,
        seq: 0x0000000a,
        iv: "facedbaddecaf888",
        plaintext:
          "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d00100" +
          "0001000000000000037369700963796265726369747902646b00000100010001",
        payloadLength: 62, // = the IPv4 total length 0x3e; trailer 00 01
        packet:
          "0000a5f80000000afacedbaddecaf888" +
          "deb22cd9b07c72c16e3a65beeb8df304a5a5897d33ae530f1ba76d5d114d2a5c" +
          "3de81827c10e9a4f51330d0eec416642cfbb85a5b47e48a4ec3b9ba95d918bd1" +
          "83b70d3aa8bc6ee4c309e9d85a41ad4a",
      },
      {
        name: "SPI 00000000, seq 1, all-zero key (two padding bytes)",
        key: "00000000000000000000000000000000",
        salt: "00000000",
        spi: 0,
        seq: 1,
        iv: "0000000000000000",
        plaintext:
          "4500003c99c500008001cb7a40679318010101010800075c0200440061626364" +
          "65666768696a6b6c6d6e6f707172737475767761626364656667686901020201",
        payloadLength: 60, // = the IPv4 total length 0x3c; trailer 01 02 02 01
        packet:
          "00000000000000010000000000000000" +
          "4688daf2f973a392732909c331d56d60f694abaa414b5e7ff5fdcdfff5e9a284" +
          "456476492719ffb64de7d9dca1e1d894bc3bd57873ed4d181d19d4d5c8c18af3" +
          "f821d496eeb096e98ad2b69e4799c71d",
      },
      {
        name: "SPI 335467ae, seq ffffffff, empty payload",
        key: "7d773d00c144c525ac619d18c84a3f47",
        salt: "d9664267",
        spi: 0x335467ae,
        seq: 0xffffffff,
        iv: "43457e9182443bc6",
        plaintext: "01020201",
        payloadLength: 0,
        packet: "335467aeffffffff43457e9182443bc6437f866bcb3f699fe9b0822bac961c4504bef270",
      },
    ];
    for (const v of vectors) {
      const keys = (): SaKeys => ({ spi: v.spi, key: hex(v.key), salt: hex(v.salt) });
      const payload = hex(v.plaintext).subarray(0, v.payloadLength);
      const nextHeader = hex(v.plaintext)[hex(v.plaintext).length - 1];

      it(`seal path reproduces the published packet: ${v.name}`, () => {
        expect(nextHeader).to.equal(1);
        const sealed = sealWithIv(keys(), v.seq, hex(v.iv), nextHeader, payload);
        expect(sealed.toString("hex")).to.equal(v.packet);
      });

      if (v.spi >= 256) {
        // The SA classes refuse the reserved SPIs 0..255, so only these two are opened.
        it(`open path recovers the published plaintext: ${v.name}`, () => {
          const opened = new EspInbound(keys()).open(hex(v.packet));
          expect(opened.seq).to.equal(v.seq);
          expect(opened.nextHeader).to.equal(nextHeader);
          expect(opened.payload.toString("hex")).to.equal(payload.toString("hex"));
        });
      }
    }
  });

  describe("SA keys", () => {
    it("generates random keys of the right sizes with a non-reserved SPI", () => {
      const a = generateSaKeys();
      const b = generateSaKeys();
      expect(a.key.length).to.equal(16);
      expect(a.salt.length).to.equal(4);
      expect(a.spi).to.be.within(256, 0xffffffff);
      expect(a.key.equals(b.key)).to.equal(false);
    });

    it("uses the given SPI", () => {
      expect(generateSaKeys(0x1000).spi).to.equal(0x1000);
      expect(() => generateSaKeys(5)).to.throw(/spi/);
    });

    it("round-trips through JSON as hex", () => {
      const k = generateSaKeys(4242);
      const j = saKeysToJson(k);
      expect(j).to.deep.equal({ spi: 4242, key: k.key.toString("hex"), salt: k.salt.toString("hex") });
      const back = saKeysFromJson(JSON.parse(JSON.stringify(j)) as typeof j);
      expect(back.spi).to.equal(4242);
      expect(back.key.equals(k.key)).to.equal(true);
      expect(back.salt.equals(k.salt)).to.equal(true);
    });

    it("rejects bad JSON keys", () => {
      const good = saKeysToJson(generateSaKeys(300));
      expect(() => saKeysFromJson({ ...good, key: good.key.slice(2) })).to.throw(/16 bytes/);
      expect(() => saKeysFromJson({ ...good, salt: "zz" + good.salt.slice(2) })).to.throw(/hex/);
      expect(() => saKeysFromJson({ ...good, spi: 0x100000000 })).to.throw(/spi/);
    });
  });

  describe("outbound and inbound SA", () => {
    let keys: SaKeys;
    beforeEach(() => {
      keys = generateSaKeys(0xc0ffee);
    });

    it("round-trips payloads of every padding length; seq starts at 1; IV = seq", () => {
      const out = new EspOutbound(keys);
      const inb = new EspInbound(keys);
      for (let len = 0; len < 12; len++) {
        const payload = Buffer.alloc(len, len);
        const packet = out.seal(NEXT_HEADER_IPV4, payload);
        const seq = len + 1;
        expect(packet.readUInt32BE(0)).to.equal(0xc0ffee);
        expect(packet.readUInt32BE(4)).to.equal(seq);
        expect(packet.subarray(8, 16).toString("hex")).to.equal(ivOf(seq).toString("hex"));
        const ciphertextLength = packet.length - 8 - 8 - 16;
        expect(ciphertextLength % 4).to.equal(0);
        expect(ciphertextLength - len - 2).to.be.within(0, 3);
        const opened = inb.open(packet);
        expect(opened).to.deep.equal({ nextHeader: NEXT_HEADER_IPV4, payload, seq });
      }
      expect(out.sent).to.equal(12);
      expect(inb.stats).to.deep.equal({ ok: 12, malformed: 0, spi: 0, auth: 0, replay: 0 });
    });

    it("writes RFC 4303 padding 1, 2, 3 and carries the next header", () => {
      const packet = new EspOutbound(keys).seal(NEXT_HEADER_CONTROL, Buffer.from("x"));
      const d = createDecipheriv("aes-128-gcm", keys.key, Buffer.concat([keys.salt, packet.subarray(8, 16)]));
      d.setAAD(packet.subarray(0, 8));
      d.setAuthTag(packet.subarray(packet.length - 16));
      const pt = Buffer.concat([d.update(packet.subarray(16, packet.length - 16)), d.final()]);
      expect(pt.toString("hex")).to.equal("78" + "01" + "01" + "fd"); // "x", pad 01, pad length 1, 253
    });

    it("carries the other next-header values", () => {
      const out = new EspOutbound(keys);
      const inb = new EspInbound(keys);
      expect(inb.open(out.seal(NEXT_HEADER_NONE, Buffer.alloc(0))).nextHeader).to.equal(59);
      expect(() => out.seal(256, Buffer.alloc(1))).to.throw(RangeError);
    });

    it("drops a tampered ciphertext, ICV or header as 'auth' and does not move the window", () => {
      const out = new EspOutbound(keys);
      const inb = new EspInbound(keys);
      const packet = out.seal(NEXT_HEADER_IPV4, Buffer.from("hello, tunnel"));
      for (const at of [16, packet.length - 1]) {
        const bad = Buffer.from(packet);
        bad[at] ^= 0x01;
        expect(dropReason(() => inb.open(bad)), `byte ${at}`).to.equal("auth");
      }
      // A forged high sequence number: must fail the ICV and leave the window alone.
      const forged = Buffer.from(packet);
      forged.writeUInt32BE(1000, 4);
      expect(dropReason(() => inb.open(forged))).to.equal("auth");
      expect(inb.open(packet).seq).to.equal(1);
      expect(inb.stats).to.deep.equal({ ok: 1, malformed: 0, spi: 0, auth: 3, replay: 0 });
    });

    it("drops a packet for another SA as 'spi'", () => {
      const other = generateSaKeys(0xbeef);
      const packet = new EspOutbound(other).seal(NEXT_HEADER_IPV4, Buffer.alloc(20));
      const inb = new EspInbound(keys);
      expect(dropReason(() => inb.open(packet))).to.equal("spi");
      expect(inb.stats.spi).to.equal(1);
    });

    it("drops a replayed packet as 'replay'", () => {
      const out = new EspOutbound(keys);
      const inb = new EspInbound(keys);
      const p1 = out.seal(NEXT_HEADER_IPV4, Buffer.alloc(30));
      inb.open(p1);
      expect(dropReason(() => inb.open(p1))).to.equal("replay");
      expect(inb.stats).to.deep.equal({ ok: 1, malformed: 0, spi: 0, auth: 0, replay: 1 });
    });

    it("drops truncated and misaligned packets as 'malformed'", () => {
      const packet = new EspOutbound(keys).seal(NEXT_HEADER_IPV4, Buffer.alloc(40));
      const inb = new EspInbound(keys);
      expect(dropReason(() => inb.open(packet.subarray(0, 4)))).to.equal("malformed");
      expect(dropReason(() => inb.open(packet.subarray(0, 8 + 8 + 16)))).to.equal("malformed");
      expect(dropReason(() => inb.open(packet.subarray(0, packet.length - 1)))).to.equal("malformed");
      expect(dropReason(() => inb.open(Buffer.concat([packet, Buffer.alloc(2)])))).to.equal("malformed");
      expect(inb.stats.malformed).to.equal(4);
      expect(inb.open(packet).seq).to.equal(1, "the genuine packet is still accepted");
    });

    it("drops sequence number 0 as 'malformed'", () => {
      const packet = rawSeal(keys, 0, ivOf(0), hex("00 00 01 04"));
      expect(dropReason(() => new EspInbound(keys).open(packet))).to.equal("malformed");
    });

    it("drops authentic packets with bad padding as 'malformed', and they count as received", () => {
      const inb = new EspInbound(keys);
      // payload "aa", padding should be 01 but is 00; pad length 1; next header 4
      const badPad = rawSeal(keys, 1, ivOf(1), hex("aa 00 01 04"));
      expect(dropReason(() => inb.open(badPad))).to.equal("malformed");
      expect(dropReason(() => inb.open(badPad))).to.equal("replay");
      // pad length larger than the plaintext
      const tooLong = rawSeal(keys, 2, ivOf(2), hex("01 02 09 04"));
      expect(dropReason(() => inb.open(tooLong))).to.equal("malformed");
      expect(inb.stats).to.deep.equal({ ok: 0, malformed: 2, spi: 0, auth: 0, replay: 1 });
    });

    it("accepts hand-made packets with correct padding, longer padding included (RFC 4303 allows up to 255)", () => {
      const inb = new EspInbound(keys);
      const plaintexts = ["aabb0004", "aa010104", "aaaaaaaaaaaaaaaaaa0102030405060708090904"];
      plaintexts.forEach((p, i) => {
        const opened = inb.open(rawSeal(keys, i + 1, ivOf(i + 1), hex(p)));
        expect(opened.nextHeader).to.equal(4);
      });
      expect(inb.stats.ok).to.equal(3);
    });

    it("slides the window: old numbers beyond it are rejected, reordering inside it accepted once", () => {
      const out = new EspOutbound(keys);
      const inb = new EspInbound(keys, 64);
      const packets = Array.from({ length: 100 }, (_, i) => out.seal(NEXT_HEADER_IPV4, Buffer.from([i])));
      const open = (seq: number): string => dropReason(() => inb.open(packets[seq - 1]));
      expect(open(100)).to.equal("accepted");
      expect(open(36)).to.equal("replay"); // 100 - 36 = 64: outside a 64-packet window
      expect(open(37)).to.equal("accepted");
      expect(open(37)).to.equal("replay");
      expect(open(99)).to.equal("accepted");
      expect(open(50)).to.equal("accepted");
      expect(open(50)).to.equal("replay");
    });

    it("honours a custom window size", () => {
      const out = new EspOutbound(keys);
      const inb = new EspInbound(keys, 4);
      const packets = Array.from({ length: 10 }, () => out.seal(NEXT_HEADER_IPV4, Buffer.alloc(1)));
      inb.open(packets[9]); // seq 10
      expect(dropReason(() => inb.open(packets[5]))).to.equal("replay"); // seq 6: 10 - 6 = 4
      expect(dropReason(() => inb.open(packets[6]))).to.equal("accepted"); // seq 7
    });

    it("refuses to cycle the sequence number", () => {
      const out = new EspOutbound(keys);
      // Reaching 2^32 - 2 by sealing would take hours: set the private counter.
      (out as unknown as { seq: number }).seq = 0xfffffffe;
      const last = out.seal(NEXT_HEADER_IPV4, Buffer.alloc(1));
      expect(last.readUInt32BE(4)).to.equal(0xffffffff);
      expect(() => out.seal(NEXT_HEADER_IPV4, Buffer.alloc(1))).to.throw(/exhausted/);
      expect(out.sent).to.equal(0xffffffff);
    });
  });
});
