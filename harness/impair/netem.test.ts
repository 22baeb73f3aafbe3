// This host's kernel has no netem: these argv tests are the netem coverage.
// Expected strings follow tc-netem(8) (iproute2 6.1).
import { expect } from "chai";
import { type Impairment, ImpairmentUnsupported, InvalidImpairment } from "./impairment";
import { netemArgv, netemClearArgv, netemParams, netemUnsupported } from "./netem";

const HEAD = ["tc", "qdisc", "replace", "dev", "eth0", "root", "netem"];
const argv = (imp: Impairment): string => netemArgv("eth0", imp).slice(HEAD.length).join(" ");

describe("impair/netem", () => {
  it("starts with `tc qdisc replace dev DEV root netem`", () => {
    expect(netemArgv("eth0", { delayMs: 1 }).slice(0, HEAD.length)).to.deep.equal(HEAD);
    expect(netemArgv("eth0", {})).to.deep.equal(HEAD);
  });

  describe("one field at a time", () => {
    const cases: [string, Impairment, string][] = [
      ["random loss", { loss: { kind: "random", percent: 5 } }, "loss random 5%"],
      ["fractional random loss", { loss: { kind: "random", percent: 0.5 } }, "loss random 0.5%"],
      ["correlated loss", { loss: { kind: "random", percent: 5, correlation: 25 } }, "loss random 5% 25%"],
      ["zero correlation is left out", { loss: { kind: "random", percent: 5, correlation: 0 } }, "loss random 5%"],
      ["simple Gilbert (p, r)", { loss: { kind: "gemodel", p: 1, r: 30 } }, "loss gemodel 1% 30%"],
      // tc takes 1-h and 1-k (loss probabilities); the model holds h and k (delivery probabilities).
      ["Gilbert (p, r, h)", { loss: { kind: "gemodel", p: 1, r: 30, h: 20 } }, "loss gemodel 1% 30% 80%"],
      ["Gilbert-Elliott (p, r, h, k)", { loss: { kind: "gemodel", p: 1, r: 30, h: 20, k: 99.5 } }, "loss gemodel 1% 30% 80% 0.5%"],
      ["Gilbert-Elliott with k only: 1-h takes its default 100%", { loss: { kind: "gemodel", p: 1, r: 30, k: 98 } }, "loss gemodel 1% 30% 100% 2%"],
      ["delay", { delayMs: 100 }, "delay 100ms"],
      ["sub-millisecond delay", { delayMs: 0.5 }, "delay 0.5ms"],
      ["delay and jitter", { delayMs: 100, jitterMs: 10 }, "delay 100ms 10ms"],
      ["zero jitter is left out", { delayMs: 100, jitterMs: 0 }, "delay 100ms"],
      ["duplicate", { duplicate: 1 }, "duplicate 1%"],
      ["reorder (with its delay)", { delayMs: 10, reorder: 25 }, "delay 10ms reorder 25%"],
      ["corrupt", { corrupt: 0.1 }, "corrupt 0.1%"],
      ["rate", { rateKbit: 1000 }, "rate 1000kbit"],
      ["fractional rate", { rateKbit: 56.5 }, "rate 56.5kbit"],
      ["partition", { partition: true }, "loss random 100%"],
    ];
    for (const [what, imp, expected] of cases) {
      it(`${what}: ${expected}`, () => {
        expect(argv(imp)).to.equal(expected);
      });
    }
  });

  it("combines every field in tc-netem(8) order", () => {
    expect(
      argv({
        loss: { kind: "random", percent: 2, correlation: 10 },
        delayMs: 80,
        jitterMs: 5,
        duplicate: 1,
        reorder: 25,
        corrupt: 0.1,
        rateKbit: 2000,
      }),
    ).to.equal("delay 80ms 5ms loss random 2% 10% corrupt 0.1% duplicate 1% reorder 25% rate 2000kbit");
  });

  it("every element is its own argv entry (no shell strings)", () => {
    expect(netemParams({ delayMs: 100, jitterMs: 10, loss: { kind: "random", percent: 5, correlation: 25 } })).to.deep.equal([
      "delay", "100ms", "10ms", "loss", "random", "5%", "25%",
    ]);
  });

  describe("refusals", () => {
    it("reorder without delay (netem rejects it)", () => {
      expect(() => netemArgv("eth0", { reorder: 25 })).to.throw(ImpairmentUnsupported, /reorder.*delay/);
      expect(() => netemArgv("eth0", { reorder: 25, delayMs: 0 })).to.throw(ImpairmentUnsupported, /reorder/);
    });

    it("jitter without delay", () => {
      expect(() => netemArgv("eth0", { jitterMs: 10 })).to.throw(ImpairmentUnsupported, /jitterMs/);
    });

    it("every-Nth loss (netem's generators are random)", () => {
      const err = (() => {
        try {
          netemArgv("eth0", { everyNth: 10 });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).to.be.instanceOf(ImpairmentUnsupported);
      expect((err as ImpairmentUnsupported).field).to.equal("everyNth");
      expect((err as ImpairmentUnsupported).backend).to.equal("netem");
    });

    it("lists every unsupported field", () => {
      expect(netemUnsupported({ everyNth: 3, reorder: 5 }).map((e) => e.field)).to.deep.equal(["everyNth", "reorder"]);
      expect(netemUnsupported({ delayMs: 5, reorder: 5, loss: { kind: "gemodel", p: 1, r: 2 } })).to.deep.equal([]);
    });

    it("a percent below tc's resolution instead of a silent 0%", () => {
      expect(() => netemArgv("eth0", { duplicate: 1e-9 })).to.throw(ImpairmentUnsupported, /resolution/);
    });

    it("invalid values before any argv", () => {
      expect(() => netemArgv("eth0", { loss: { kind: "random", percent: 150 } })).to.throw(InvalidImpairment);
      expect(() => netemArgv("bad dev", { delayMs: 1 })).to.throw(/invalid interface name/);
    });
  });

  it("clears with `tc qdisc del dev DEV root`", () => {
    expect(netemClearArgv("eth0")).to.deep.equal(["tc", "qdisc", "del", "dev", "eth0", "root"]);
  });
});
