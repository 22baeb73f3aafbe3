import { expect } from "chai";
import {
  activeFields,
  checkDeviceName,
  describeImpairment,
  formatNumber,
  type Impairment,
  ImpairmentUnsupported,
  InvalidImpairment,
  isNoImpairment,
  ordinal,
  validateImpairment,
} from "./impairment";

describe("impair/impairment", () => {
  describe("validateImpairment", () => {
    it("accepts every field in range", () => {
      const imp: Impairment = {
        loss: { kind: "random", percent: 0.5, correlation: 25 },
        delayMs: 100,
        jitterMs: 10,
        duplicate: 1,
        reorder: 25,
        corrupt: 0.1,
        rateKbit: 1000,
        everyNth: 7,
      };
      expect(validateImpairment(imp)).to.equal(imp);
      expect(validateImpairment({ loss: { kind: "gemodel", p: 1, r: 30, h: 0, k: 100 } })).to.be.an("object");
      expect(validateImpairment({ partition: true })).to.be.an("object");
      expect(validateImpairment({})).to.be.an("object");
    });

    const bad: [string, Impairment][] = [
      ["loss above 100%", { loss: { kind: "random", percent: 101 } }],
      ["negative loss", { loss: { kind: "random", percent: -1 } }],
      ["NaN loss", { loss: { kind: "random", percent: Number.NaN } }],
      ["correlation above 100%", { loss: { kind: "random", percent: 5, correlation: 120 } }],
      ["gemodel p above 100%", { loss: { kind: "gemodel", p: 200, r: 10 } }],
      ["gemodel h negative", { loss: { kind: "gemodel", p: 1, r: 10, h: -5 } }],
      ["negative delay", { delayMs: -1 }],
      ["infinite jitter", { delayMs: 10, jitterMs: Number.POSITIVE_INFINITY }],
      ["duplicate above 100%", { duplicate: 150 }],
      ["reorder negative", { delayMs: 10, reorder: -3 }],
      ["corrupt above 100%", { corrupt: 100.5 }],
      ["zero rate", { rateKbit: 0 }],
      ["fractional everyNth", { everyNth: 2.5 }],
      ["everyNth zero", { everyNth: 0 }],
      ["partition with loss", { partition: true, loss: { kind: "random", percent: 5 } }],
      ["partition with delay", { partition: true, delayMs: 5 }],
    ];
    for (const [what, imp] of bad) {
      it(`rejects ${what}`, () => {
        expect(() => validateImpairment(imp)).to.throw(InvalidImpairment);
      });
    }

    it("rejects an unknown loss kind from untyped input", () => {
      const imp = JSON.parse('{"loss":{"kind":"bursty","percent":5}}') as Impairment;
      expect(() => validateImpairment(imp)).to.throw(InvalidImpairment, /unknown loss kind "bursty"/);
    });

    it("names the field in the message", () => {
      expect(() => validateImpairment({ rateKbit: -5 })).to.throw(/rateKbit/);
    });
  });

  describe("describeImpairment", () => {
    it("says 'no impairment' for an empty one", () => {
      expect(describeImpairment({})).to.equal("no impairment");
      expect(isNoImpairment({})).to.equal(true);
      expect(isNoImpairment({ partition: false })).to.equal(true);
    });

    it("describes random loss with and without correlation", () => {
      expect(describeImpairment({ loss: { kind: "random", percent: 5 } })).to.equal("loss 5% (random)");
      expect(describeImpairment({ loss: { kind: "random", percent: 0.5, correlation: 25 } })).to.equal(
        "loss 0.5% (random, correlation 25%)",
      );
    });

    it("describes Gilbert-Elliott loss with its defaults spelled out", () => {
      expect(describeImpairment({ loss: { kind: "gemodel", p: 1, r: 30 } })).to.equal(
        "loss Gilbert-Elliott (p 1% good→bad, r 30% bad→good, loss 100% in bad, 0% in good)",
      );
    });

    it("describes delay, jitter and the rest", () => {
      expect(
        describeImpairment({ delayMs: 100, jitterMs: 10, duplicate: 1, reorder: 25, corrupt: 0.1, rateKbit: 1000 }),
      ).to.equal("delay 100ms ±10ms, duplicate 1%, reorder 25%, corrupt 0.1%, rate 1000kbit/s");
    });

    it("describes every-Nth and partition", () => {
      expect(describeImpairment({ everyNth: 3 })).to.equal("drop every 3rd packet");
      expect(describeImpairment({ everyNth: 1 })).to.equal("drop every packet");
      expect(describeImpairment({ partition: true })).to.equal("partition (drop everything)");
    });
  });

  it("activeFields lists what impairs", () => {
    expect(activeFields({ delayMs: 5, partition: false, everyNth: 4 })).to.deep.equal(["delayMs", "everyNth"]);
  });

  it("formatNumber never uses an exponent", () => {
    expect(formatNumber(5)).to.equal("5");
    expect(formatNumber(0.1)).to.equal("0.1");
    expect(formatNumber(0.1 + 0.2)).to.equal("0.3");
    expect(formatNumber(1e-7)).to.equal("0.0000001");
    expect(formatNumber(12.5)).to.equal("12.5");
  });

  it("ordinal", () => {
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111].map(ordinal)).to.deep.equal([
      "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th",
    ]);
  });

  it("checkDeviceName accepts interface names and rejects unsafe ones", () => {
    for (const ok of ["eth0", "edge", "wan.edge", "veth-a_1", "a"]) expect(checkDeviceName(ok)).to.equal(ok);
    for (const bad of ["", "0123456789abcdef", "a b", "a/b", "a:b", 'a"b', "a\\b", ".", ".."]) {
      expect(() => checkDeviceName(bad), bad).to.throw(/invalid interface name/);
    }
  });

  it("ImpairmentUnsupported names the field and the backend", () => {
    const e = new ImpairmentUnsupported("delayMs", "nftables", "cannot hold packets");
    expect(e.message).to.equal("nftables cannot express delayMs: cannot hold packets");
    expect(e.field).to.equal("delayMs");
    expect(e.backend).to.equal("nftables");
  });
});
