// This host's kernel has no netem: these argv tests are the netem coverage.
// Expected strings follow tc-netem(8) (iproute2 6.1; `seed` from 6.6); the
// readback samples have the shape iproute2's q_netem.c prints with -j.
import { expect } from "chai";
import { type Impairment, ImpairmentUnsupported, InvalidImpairment } from "./impairment";
import {
  assertNetemReadback,
  netemArgv,
  netemClearArgv,
  netemParams,
  netemReadbackMismatches,
  netemUnsupported,
  parseTcVersion,
  tcSeedUnsupportedReason,
} from "./netem";
import { parseQdiscJson } from "./tc";
import { netemShowOptions } from "./tcfake";

const HEAD = ["tc", "qdisc", "replace", "dev", "eth0", "root", "handle", "564c:", "netem"];
const argv = (imp: Impairment, seed?: number): string => netemArgv("eth0", imp, seed === undefined ? {} : { seed }).slice(HEAD.length).join(" ");

describe("impair/netem", () => {
  it("starts with `tc qdisc replace dev DEV root handle 564c: netem` (vpnlab's own handle)", () => {
    expect(netemArgv("eth0", { delayMs: 1 }).slice(0, HEAD.length)).to.deep.equal(HEAD);
    expect(netemArgv("eth0", {})).to.deep.equal(HEAD);
  });

  it("can go under a class with another handle (a flow match's prio band)", () => {
    expect(netemArgv("eth0", { delayMs: 5 }, { place: { parent: "564c:2" }, handle: "564d:" })).to.deep.equal([
      "tc", "qdisc", "replace", "dev", "eth0", "parent", "564c:2", "handle", "564d:", "netem", "delay", "5ms",
    ]);
  });

  describe("one option at a time", () => {
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
      // all five, with the model's defaults (p31 100, p32 0, p23 100, p14 0), not tc's (p31 = 100 - p13)
      ["4-state Markov, p13 only", { loss: { kind: "state", p13: 1 } }, "loss state 1% 100% 0% 100% 0%"],
      ["4-state Markov, all five", { loss: { kind: "state", p13: 1, p31: 50, p32: 2, p23: 90, p14: 0.5 } }, "loss state 1% 50% 2% 90% 0.5%"],
      ["4-state Markov, p14 without p32", { loss: { kind: "state", p13: 3, p14: 1 } }, "loss state 3% 100% 0% 100% 1%"],
      ["delay", { delayMs: 100 }, "delay 100ms"],
      ["sub-millisecond delay", { delayMs: 0.5 }, "delay 0.5ms"],
      ["delay and jitter", { delayMs: 100, jitterMs: 10 }, "delay 100ms 10ms"],
      ["zero jitter is left out", { delayMs: 100, jitterMs: 0 }, "delay 100ms"],
      ["delay correlation", { delayMs: 100, jitterMs: 10, delayCorrelation: 25 }, "delay 100ms 10ms 25%"],
      ["normal distribution", { delayMs: 100, jitterMs: 20, delayDistribution: "normal" }, "delay 100ms 20ms distribution normal"],
      ["pareto distribution", { delayMs: 100, jitterMs: 20, delayDistribution: "pareto" }, "delay 100ms 20ms distribution pareto"],
      ["paretonormal distribution", { delayMs: 100, jitterMs: 20, delayDistribution: "paretonormal" }, "delay 100ms 20ms distribution paretonormal"],
      ["uniform is netem's default: no distribution argument", { delayMs: 100, jitterMs: 20, delayDistribution: "uniform" }, "delay 100ms 20ms"],
      ["correlation and distribution", { delayMs: 100, jitterMs: 20, delayCorrelation: 10, delayDistribution: "normal" }, "delay 100ms 20ms 10% distribution normal"],
      ["duplicate", { duplicate: 1 }, "duplicate 1%"],
      ["duplicate correlation", { duplicate: 20, duplicateCorrelation: 5 }, "duplicate 20% 5%"],
      ["reorder (with its delay)", { delayMs: 10, reorder: 25 }, "delay 10ms reorder 25%"],
      ["reorder correlation", { delayMs: 10, reorder: 25, reorderCorrelation: 50 }, "delay 10ms reorder 25% 50%"],
      ["reorder gap", { delayMs: 10, reorder: 10, reorderGap: 5 }, "delay 10ms reorder 10% gap 5"],
      ["corrupt", { corrupt: 0.1 }, "corrupt 0.1%"],
      ["corrupt correlation", { corrupt: 1, corruptCorrelation: 10 }, "corrupt 1% 10%"],
      ["rate", { rateKbit: 1000 }, "rate 1000kbit"],
      ["fractional rate", { rateKbit: 56.5 }, "rate 56.5kbit"],
      ["limit", { limit: 50 }, "limit 50"],
      ["partition", { partition: true }, "loss random 100%"],
    ];
    for (const [what, imp, expected] of cases) {
      it(`${what}: ${expected}`, () => {
        expect(argv(imp)).to.equal(expected);
      });
    }
    it("seed (iproute2 ≥ 6.6): seed N at the end", () => {
      expect(argv({ loss: { kind: "random", percent: 5 } }, 42)).to.equal("loss random 5% seed 42");
      expect(argv({}, 4294967295)).to.equal("seed 4294967295");
    });
  });

  it("combines every option in tc-netem(8) order", () => {
    expect(
      argv(
        {
          limit: 200,
          loss: { kind: "random", percent: 2, correlation: 10 },
          delayMs: 80,
          jitterMs: 5,
          delayCorrelation: 20,
          delayDistribution: "pareto",
          duplicate: 1,
          duplicateCorrelation: 3,
          reorder: 25,
          reorderCorrelation: 40,
          reorderGap: 4,
          corrupt: 0.1,
          corruptCorrelation: 2,
          rateKbit: 2000,
        },
        7,
      ),
    ).to.equal(
      "limit 200 delay 80ms 5ms 20% distribution pareto loss random 2% 10% corrupt 0.1% 2% duplicate 1% 3% reorder 25% 40% gap 4 rate 2000kbit seed 7",
    );
  });

  it("every element is its own argv entry (no shell strings)", () => {
    expect(netemParams({ delayMs: 100, jitterMs: 10, loss: { kind: "random", percent: 5, correlation: 25 } })).to.deep.equal([
      "delay", "100ms", "10ms", "loss", "random", "5%", "25%",
    ]);
  });

  describe("no field of the model is silently dropped", () => {
    // Typed Required<Impairment> and Record<keyof Impairment, ...>: a new field
    // of the model does not compile here until it is given a sample value and
    // a context, and then this test proves netem emits or refuses it.
    const sample: Required<Impairment> = {
      loss: { kind: "random", percent: 5 },
      delayMs: 100,
      jitterMs: 10,
      delayCorrelation: 25,
      delayDistribution: "normal",
      duplicate: 20,
      duplicateCorrelation: 5,
      reorder: 10,
      reorderCorrelation: 30,
      reorderGap: 5,
      corrupt: 1,
      corruptCorrelation: 10,
      rateKbit: 1000,
      limit: 100,
      dropPackets: [3],
      partition: true,
      everyNth: 10,
    };
    /** What each field needs beside it to be valid. */
    const context: Record<keyof Impairment, Impairment> = {
      loss: {},
      delayMs: {},
      jitterMs: { delayMs: 100 },
      delayCorrelation: { delayMs: 100, jitterMs: 10 },
      delayDistribution: { delayMs: 100, jitterMs: 10 },
      duplicate: {},
      duplicateCorrelation: { duplicate: 20 },
      reorder: { delayMs: 10 },
      reorderCorrelation: { delayMs: 10, reorder: 10 },
      reorderGap: { delayMs: 10, reorder: 10 },
      corrupt: {},
      corruptCorrelation: { corrupt: 1 },
      rateKbit: {},
      limit: {},
      dropPackets: {},
      partition: {},
      everyNth: {},
    };
    const outcome = (imp: Impairment): string => {
      const refused = netemUnsupported(imp).map((e) => e.field);
      return refused.length > 0 ? `refused ${refused.join(",")}` : netemParams(imp).join(" ");
    };
    for (const field of Object.keys(sample) as (keyof Impairment)[]) {
      it(`${field}: emitted or refused`, () => {
        const base = context[field];
        const withIt: Impairment = { ...base, [field]: sample[field] };
        const before = outcome(base);
        const after = outcome(withIt);
        expect(after, `${field} changed nothing: ${after}`).to.not.equal(before);
        if (after.startsWith("refused")) expect(netemUnsupported(withIt).map((e) => e.field)).to.include(field);
      });
    }
    it("every loss model and every value inside it reaches the argv", () => {
      const variants: Impairment["loss"][] = [
        { kind: "random", percent: 5 },
        { kind: "random", percent: 5, correlation: 25 },
        { kind: "gemodel", p: 1, r: 30 },
        { kind: "gemodel", p: 2, r: 30 },
        { kind: "gemodel", p: 1, r: 31 },
        { kind: "gemodel", p: 1, r: 30, h: 20 },
        { kind: "gemodel", p: 1, r: 30, k: 90 },
        { kind: "state", p13: 1 },
        { kind: "state", p13: 2 },
        { kind: "state", p13: 1, p31: 50 },
        { kind: "state", p13: 1, p32: 5 },
        { kind: "state", p13: 1, p23: 50 },
        { kind: "state", p13: 1, p14: 5 },
      ];
      const argvs = variants.map((loss) => netemParams({ loss }).join(" "));
      expect(new Set(argvs).size, argvs.join(" | ")).to.equal(variants.length);
    });
  });

  describe("refusals", () => {
    it("reorder without delay (netem rejects it)", () => {
      expect(() => netemArgv("eth0", { reorder: 25 })).to.throw(ImpairmentUnsupported, /reorder.*delay/);
      expect(() => netemArgv("eth0", { reorder: 25, delayMs: 0 })).to.throw(ImpairmentUnsupported, /reorder/);
    });

    it("jitter without delay", () => {
      expect(() => netemArgv("eth0", { jitterMs: 10 })).to.throw(ImpairmentUnsupported, /jitterMs/);
    });

    it("every-Nth loss and chosen packets (netem's generators are random)", () => {
      for (const imp of [{ everyNth: 10 }, { dropPackets: [1, 5] }] as Impairment[]) {
        const errs = netemUnsupported(imp);
        expect(errs).to.have.length(1);
        expect(errs[0].backend).to.equal("netem");
        expect(errs[0].message).to.match(/random/);
        expect(() => netemArgv("eth0", imp)).to.throw(ImpairmentUnsupported);
      }
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
      expect(() => netemArgv("eth0", { delayCorrelation: 5, delayMs: 5 })).to.throw(InvalidImpairment, /jitter/);
      expect(() => netemArgv("bad dev", { delayMs: 1 })).to.throw(/invalid interface name/);
    });
  });

  it("clears with `tc qdisc del dev DEV root`", () => {
    expect(netemClearArgv("eth0")).to.deep.equal(["tc", "qdisc", "del", "dev", "eth0", "root"]);
  });

  describe("seed support from `tc -V`", () => {
    it("parses iproute2's version strings", () => {
      expect(parseTcVersion("tc utility, iproute2-6.1.0, libbpf 1.1.2\n")).to.deep.equal([6, 1, 0]);
      expect(parseTcVersion("tc utility, iproute2-6.6.0\n")).to.deep.equal([6, 6, 0]);
      expect(parseTcVersion("tc utility, iproute2-6.10.0-1ubuntu1\n")).to.deep.equal([6, 10, 0]);
      expect(parseTcVersion("tc utility, iproute2-ss200127\n")).to.equal(undefined);
    });
    it("refuses below 6.6, with the version in the reason; accepts 6.6 and later", () => {
      expect(tcSeedUnsupportedReason("tc utility, iproute2-6.1.0, libbpf 1.1.2")).to.match(/iproute2 6\.1\.0.*needs iproute2 ≥ 6\.6/);
      expect(tcSeedUnsupportedReason("tc utility, iproute2-5.19.0")).to.match(/5\.19\.0/);
      expect(tcSeedUnsupportedReason("tc utility, iproute2-ss200127")).to.match(/version of tc is unknown/);
      expect(tcSeedUnsupportedReason("tc utility, iproute2-6.6.0")).to.equal(undefined);
      expect(tcSeedUnsupportedReason("tc utility, iproute2-7.0.0")).to.equal(undefined);
    });
  });

  describe("readback (`tc -j qdisc show`)", () => {
    // Shapes as iproute2 6.1 prints them: times in seconds, percents as fractions, rate in bytes/s.
    const SHOWN = `[{"kind":"netem","handle":"564c:","root":true,"refcnt":2,"options":{"limit":1000,
      "delay":{"delay":0.1,"jitter":0.01,"correlation":0.25},"loss-random":{"loss":0.05,"correlation":0},
      "duplicate":{"duplicate":0.2,"correlation":0},"reorder":{"reorder":0.1,"correlation":0},
      "corrupt":{"corrupt":0.01,"correlation":0},"rate":{"rate":125000,"packetoverhead":0,"cellsize":0,"celloverhead":0},
      "ecn":false,"gap":5}}]`;
    const asked: Impairment = {
      delayMs: 100, jitterMs: 10, delayCorrelation: 25, loss: { kind: "random", percent: 5 },
      duplicate: 20, reorder: 10, reorderGap: 5, corrupt: 1, rateKbit: 1000,
    };
    const [q] = parseQdiscJson(SHOWN);

    it("agrees with what was asked", () => {
      expect(netemReadbackMismatches(asked, q.options)).to.deep.equal([]);
      expect(() => assertNetemReadback("wan/edge", q, "564c:", asked)).to.not.throw();
    });

    it("names the option, what was asked and what tc shows", () => {
      expect(netemReadbackMismatches({ ...asked, delayMs: 200 }, q.options)).to.deep.equal([{ option: "delay", asked: "200ms", shown: "100ms" }]);
      expect(netemReadbackMismatches({ ...asked, rateKbit: 2000 }, q.options)).to.deep.equal([{ option: "rate", asked: "2000kbit", shown: "1000kbit" }]);
      expect(netemReadbackMismatches({ ...asked, loss: { kind: "gemodel", p: 1, r: 10 } }, q.options).map((m) => m.option)).to.include("loss gemodel p");
      expect(() => assertNetemReadback("wan/edge", q, "564c:", { ...asked, duplicate: 30 })).to.throw(/wan\/edge: netem 564c: does not hold what was asked: duplicate asked 30%, tc shows 20%/);
    });

    it("a seed the kernel did not keep is named as such", () => {
      expect(() => assertNetemReadback("wan/edge", q, "564c:", asked, { seed: 9 })).to.throw(/seed asked 9, tc shows nothing \(this kernel's netem has no seeded generator\)/);
      const seeded = parseQdiscJson(SHOWN.replace('"gap":5', '"gap":5,"seed":9'))[0];
      expect(() => assertNetemReadback("wan/edge", seeded, "564c:", asked, { seed: 9 })).to.not.throw();
    });

    it("another kind or handle is a mismatch naming both", () => {
      const tbf = parseQdiscJson('[{"kind":"tbf","handle":"8001:","root":true,"refcnt":2,"options":{"rate":125000,"burst":4096,"lat":400000}}]')[0];
      expect(() => assertNetemReadback("wan/edge", tbf, "564c:", asked)).to.throw(/asked for netem 564c:, tc shows tbf 8001:/);
      expect(() => assertNetemReadback("wan/edge", undefined, "564c:", asked)).to.throw(/tc shows no such qdisc/);
    });

    it("loss models: gemodel's 1-h/1-k defaults and the 4-state model's five values", () => {
      const ge = { limit: 1000, "loss-gemodel": { p: 0.01, r: 0.3, "1-h": 1, "1-k": 0 }, ecn: false, gap: 0 };
      expect(netemReadbackMismatches({ loss: { kind: "gemodel", p: 1, r: 30 } }, ge)).to.deep.equal([]);
      expect(netemReadbackMismatches({ loss: { kind: "gemodel", p: 1, r: 30, h: 20 } }, ge)).to.deep.equal([{ option: "loss gemodel 1-h", asked: "80%", shown: "100%" }]);
      const st = { limit: 1000, "loss-state": { p13: 0.01, p31: 1, p32: 0, p23: 1, p14: 0 }, ecn: false, gap: 0 };
      expect(netemReadbackMismatches({ loss: { kind: "state", p13: 1 } }, st)).to.deep.equal([]);
      expect(netemReadbackMismatches({ loss: { kind: "state", p13: 1, p31: 50 } }, st)).to.deep.equal([{ option: "loss state p31", asked: "50%", shown: "100%" }]);
      expect(netemReadbackMismatches({ partition: true }, { limit: 1000, "loss-random": { loss: 1, correlation: 0 } })).to.deep.equal([]);
      expect(netemReadbackMismatches({ limit: 20 }, { limit: 1000 })).to.deep.equal([{ option: "limit", asked: "20", shown: "1000" }]);
    });

    it("every argv in this file reads back clean through a tc that parses it on its own", () => {
      const imps: Impairment[] = [
        asked,
        { loss: { kind: "state", p13: 1, p31: 50, p32: 2, p23: 90, p14: 0.5 } },
        { loss: { kind: "gemodel", p: 1, r: 30, h: 20, k: 99.5 } },
        { loss: { kind: "random", percent: 5, correlation: 25 }, limit: 10, rateKbit: 56.5 },
        { delayMs: 80, jitterMs: 5, delayCorrelation: 20, delayDistribution: "pareto", duplicate: 1, duplicateCorrelation: 3, corrupt: 0.1, corruptCorrelation: 2 },
        { delayMs: 10, reorder: 25, reorderCorrelation: 50 },
        { partition: true },
      ];
      for (const imp of imps) {
        const options = netemShowOptions(netemParams(imp, { seed: 3 }), true);
        expect(netemReadbackMismatches(imp, options, { seed: 3 }), JSON.stringify(imp)).to.deep.equal([]);
      }
    });
  });
});
