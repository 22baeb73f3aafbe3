import { expect } from "chai";
import { chooseBackend, forgetNetemProbe, probeNetem } from "./backend";
import type { Availability } from "./backends/types";

/** netem available or not (with the kernel's reason); the wire not (no lab runtime: what these choices are about is netem and nftables); nftables always. */
const netemAvail = (netem: boolean, reason?: string) => (b: string): Availability =>
  b === "netem" ? { available: netem, ...(reason ? { reason } : {}) } : b === "wire" ? { available: false, reason: "no lab runtime" } : { available: true };
import { InvalidImpairment } from "./impairment";
import { createNetnsPair, FakeKernel, isRoot, type NetnsPair } from "./testkit";

describe("impair/backend", () => {
  describe("chooseBackend", () => {
    it("netem when it is available and can express the impairment", () => {
      expect(chooseBackend({ impairment: { loss: { kind: "random", percent: 5 } } }, netemAvail(true))).to.deep.equal({ backend: "netem" });
      expect(chooseBackend({ impairment: { delayMs: 50, jitterMs: 5 } }, netemAvail(true))).to.deep.equal({ backend: "netem" });
      expect(chooseBackend({ impairment: { partition: true } }, netemAvail(true))).to.deep.equal({ backend: "netem" });
    });

    it("nftables when netem is missing and nftables can do it", () => {
      expect(chooseBackend({ impairment: { loss: { kind: "random", percent: 5 } } }, netemAvail(false))).to.deep.equal({ backend: "nftables" });
      expect(chooseBackend({ impairment: { partition: true } }, netemAvail(false))).to.deep.equal({ backend: "nftables" });
      expect(chooseBackend({ impairment: { everyNth: 10 } }, netemAvail(false))).to.deep.equal({ backend: "nftables" });
    });

    it("nftables when netem is there but cannot express it (every Nth)", () => {
      expect(chooseBackend({ impairment: { everyNth: 10, loss: { kind: "random", percent: 1 } } }, netemAvail(true))).to.deep.equal({ backend: "nftables" });
    });

    it("refuses delay without netem, with both reasons", () => {
      const c = chooseBackend({ impairment: { delayMs: 100 } }, netemAvail(false,"the kernel has no netem qdisc (tc: Error: Specified qdisc kind is unknown.)"));
      expect(c).to.have.property("refused");
      if (!("refused" in c)) return;
      expect(c.refused).to.contain('no backend can apply "delay 100ms"');
      expect(c.refused).to.contain("netem is not available here (the kernel has no netem qdisc (tc: Error: Specified qdisc kind is unknown.))");
      expect(c.refused).to.contain("nftables cannot express delayMs");
      expect(c.reasons.map((r) => `${r.backend}:${r.field}`)).to.deep.equal(["nftables:delayMs"]);
    });

    it("refuses correlated and Gilbert-Elliott loss without netem rather than weakening them to random loss", () => {
      for (const loss of [
        { kind: "random" as const, percent: 5, correlation: 25 },
        { kind: "gemodel" as const, p: 1, r: 30 },
      ]) {
        const c = chooseBackend({ impairment: { loss } }, netemAvail(false));
        expect(c, JSON.stringify(loss)).to.have.property("refused");
      }
    });

    it("refuses what neither can do, naming each backend's field", () => {
      const c = chooseBackend({ impairment: { everyNth: 5, delayMs: 20 } }, netemAvail(true));
      if (!("refused" in c)) throw new Error("expected a refusal");
      expect(c.refused).to.contain("netem cannot express everyNth");
      expect(c.refused).to.contain("nftables cannot express delayMs");
      expect(c.reasons.map((r) => `${r.backend}:${r.field}`)).to.deep.equal(["netem:everyNth", "nftables:delayMs"]);
    });

    it("refuses reorder without delay everywhere", () => {
      const c = chooseBackend({ impairment: { reorder: 25 } }, netemAvail(true));
      if (!("refused" in c)) throw new Error("expected a refusal");
      expect(c.refused).to.match(/netem cannot express reorder: netem rejects reorder without a delay/);
    });

    it("throws for invalid values instead of choosing", () => {
      expect(() => chooseBackend({ impairment: { loss: { kind: "random", percent: 120 } } }, netemAvail(true))).to.throw(InvalidImpairment);
    });
  });

  describe("probeNetem (pretend kernels)", () => {
    it("no netem: unavailable, with the kernel's words, asked once per node", async () => {
      const k = new FakeKernel(false);
      const r = await probeNetem(k, "wan", "edge");
      expect(r.available).to.equal(false);
      expect(r.reason).to.equal("the kernel has no netem qdisc (tc: Error: Specified qdisc kind is unknown.)");
      expect(k.calls.map((c) => c.argv.join(" "))).to.deep.equal([
        "tc -j qdisc show dev edge root",
        "tc qdisc add dev edge root netem delay 0ms",
      ]);
      expect(await probeNetem(k, "wan", "home")).to.deep.equal(r);
      expect(k.calls).to.have.length(2);
      await probeNetem(k, "firewall", "edge");
      expect(k.calls).to.have.length(4);
      forgetNetemProbe(k, "wan");
      await probeNetem(k, "wan", "edge");
      expect(k.calls).to.have.length(6);
    });

    it("the cache is per runtime", async () => {
      const k1 = new FakeKernel(false);
      const k2 = new FakeKernel(true);
      expect((await probeNetem(k1, "wan", "edge")).available).to.equal(false);
      expect((await probeNetem(k2, "wan", "edge")).available).to.equal(true);
    });

    it("netem present: adds, deletes, leaves the default qdisc", async () => {
      const k = new FakeKernel(true);
      expect(await probeNetem(k, "wan", "edge")).to.deep.equal({ available: true });
      expect(k.calls.map((c) => c.argv.join(" "))).to.deep.equal([
        "tc -j qdisc show dev edge root",
        "tc qdisc add dev edge root netem delay 0ms",
        "tc qdisc del dev edge root",
      ]);
      expect(k.roots.size).to.equal(0);
    });

    it("does not disturb a root qdisc somebody added: probes on lo instead", async () => {
      const k = new FakeKernel(true);
      k.roots.set("wan/edge", "tbf");
      expect((await probeNetem(k, "wan", "edge")).available).to.equal(true);
      expect(k.calls.map((c) => c.argv.join(" "))).to.deep.equal([
        "tc -j qdisc show dev edge root",
        "tc qdisc add dev lo root netem delay 0ms",
        "tc qdisc del dev lo root",
      ]);
      expect(k.roots.get("wan/edge")).to.equal("tbf");
    });

    it("a netem already in place answers the question", async () => {
      const k = new FakeKernel(true);
      k.roots.set("wan/edge", "netem");
      expect((await probeNetem(k, "wan", "edge")).available).to.equal(true);
      expect(k.calls).to.have.length(1);
    });

    it("an inconclusive probe is reported but not cached", async () => {
      const k = new FakeKernel(true);
      k.failNext = { match: (a) => a.includes("show"), stderr: 'Cannot find device "edge"\n' };
      const r = await probeNetem(k, "wan", "edge");
      expect(r.available).to.equal(false);
      expect(r.reason).to.match(/inconclusive: Cannot find device "edge"/);
      expect((await probeNetem(k, "wan", "edge")).available).to.equal(true);
    });
  });

  describe("probeNetem on this host (root, real namespaces)", function () {
    let pair: NetnsPair | undefined;
    before(async function () {
      if (!isRoot()) this.skip();
      pair = await createNetnsPair();
    });
    after(async () => {
      await pair?.destroy();
    });

    it("reports what the kernel has, by trying", async () => {
      if (!pair) throw new Error("no namespaces");
      const r = await probeNetem(pair.exec, pair.a, pair.devA);
      console.log(`        netem on this host: ${JSON.stringify(r)}`);
      // The design says this kernel has no netem; if it ever does, the netem path must work instead.
      if (r.available) {
        expect(r.reason).to.equal(undefined);
        const shown = await pair.exec.exec(pair.a, ["tc", "-j", "qdisc", "show", "dev", pair.devA, "root"]);
        expect(shown.stdout, "the probe qdisc was removed").to.not.contain('"netem"');
        await pair.exec.exec(pair.a, ["tc", "qdisc", "replace", "dev", pair.devA, "root", "netem", "delay", "1ms"]);
        await pair.exec.exec(pair.a, ["tc", "qdisc", "del", "dev", pair.devA, "root"]);
      } else {
        expect(r.reason).to.match(/no netem qdisc.*(Specified qdisc kind is unknown|No such file or directory)/);
      }
    });
  });
});
