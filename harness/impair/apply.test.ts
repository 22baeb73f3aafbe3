import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { wireNames } from "./backends/wire/plan";
import { ImpairmentRefused, Impairer } from "./apply";
import { probeNetem } from "./backend";
import { InvalidImpairment } from "./impairment";
import { nftDeleteTable, nftLossRuleset } from "./nftables";
import { createNetnsPair, FakeKernel, isRoot, measureUdpLoss, nftDropCount, type NetnsPair, type UdpMeasurement } from "./testkit";

const fixedClock = (): Date => new Date("2024-01-02T03:04:05.000Z");
const show = (m: UdpMeasurement): string =>
  `sent ${m.sent}, received ${m.received}, loss ${m.lossPercent.toFixed(2)}% (sender saw ${m.sendErrors} EPERM drops)`;

describe("impair/apply: Impairer", () => {
  describe("on a pretend kernel without netem", () => {
    it("applies random loss through nftables, atomically replacing the device's table", async () => {
      const k = new FakeKernel(false);
      const imp = new Impairer(k, fixedClock);
      const r = await imp.apply("wan", "edge", { impairment: { loss: { kind: "random", percent: 5 } } });
      const ruleset = nftLossRuleset("vpnlab_impair_edge", "edge", { loss: { kind: "random", percent: 5 } });
      expect(r).to.deep.equal({ backend: "nftables", ruleset });
      const nft = k.calls.filter((c) => c.argv[0] === "nft");
      expect(nft).to.deep.equal([
        { node: "wan", argv: ["nft", "-f", "-"], input: nftDeleteTable("vpnlab_impair_edge") + ruleset },
      ]);
      expect(k.tables.get("wan/vpnlab_impair_edge")).to.equal(ruleset);
      expect(imp.applied).to.deep.equal([
        {
          at: "2024-01-02T03:04:05.000Z",
          node: "wan",
          dev: "edge",
          action: "apply",
          direction: "egress",
          impairment: { loss: { kind: "random", percent: 5 } },
          description: "loss 5% (random)",
          backend: "nftables",
          ruleset,
        },
      ]);
    });

    it("a second apply replaces the first", async () => {
      const k = new FakeKernel(false);
      const imp = new Impairer(k);
      await imp.apply("wan", "edge", { impairment: { loss: { kind: "random", percent: 5 } } });
      await imp.apply("wan", "edge", { impairment: { everyNth: 4 } });
      expect(k.tables.get("wan/vpnlab_impair_edge")).to.contain("numgen inc mod 4 == 3").and.not.contain("numgen random");
      expect(k.tables.size).to.equal(1);
      expect(imp.applied.map((a) => a.description)).to.deep.equal(["loss 5% (random)", "drop every 4th packet"]);
    });

    it("refuses delay with the reason, changing nothing", async () => {
      const k = new FakeKernel(false);
      const imp = new Impairer(k);
      let caught: unknown;
      try {
        await imp.apply("wan", "edge", { impairment: { delayMs: 100 } });
      } catch (e) {
        caught = e;
      }
      expect(caught).to.be.instanceOf(ImpairmentRefused);
      const e = caught as ImpairmentRefused;
      expect(e.message).to.match(/^wan\/edge: no backend can apply "delay 100ms": netem is not available here \(the kernel has no netem qdisc/);
      expect(e.message).to.contain("nftables cannot express delayMs");
      expect(e.reasons.map((r) => r.field)).to.deep.equal(["delayMs"]);
      expect(k.calls.filter((c) => c.argv[0] === "nft")).to.deep.equal([]);
      expect(imp.applied).to.deep.equal([]);
    });

    it("rejects invalid impairments and device names before running anything", async () => {
      const k = new FakeKernel(false);
      const imp = new Impairer(k);
      const rejection = async (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e);
      expect(await rejection(imp.apply("wan", "edge", { impairment: { everyNth: -1 } }))).to.be.instanceOf(InvalidImpairment);
      expect(String(await rejection(imp.apply("wan", "a b", { impairment: {} })))).to.match(/invalid interface name/);
      expect(String(await rejection(imp.clear("wan", "")))).to.match(/invalid interface name/);
      expect(k.calls).to.deep.equal([]);
    });

    it("clear removes the table (idempotently) and is recorded", async () => {
      const k = new FakeKernel(false);
      const imp = new Impairer(k, fixedClock);
      await imp.apply("wan", "edge", { impairment: { partition: true } });
      await imp.clear("wan", "edge");
      expect(k.tables.size).to.equal(0);
      await imp.clear("wan", "edge"); // nothing there: still fine
      expect(imp.applied.slice(1)).to.deep.equal([
        { at: "2024-01-02T03:04:05.000Z", node: "wan", dev: "edge", action: "clear", direction: "egress", cleared: ["nftables"], description: "cleared", dropped: { packets: 0, bytes: 0 } },
        { at: "2024-01-02T03:04:05.000Z", node: "wan", dev: "edge", action: "clear", direction: "egress", cleared: [], description: "cleared" },
      ]);
    });

    it("reads what the rules dropped before replacing or removing them, per step and in total", async () => {
      const k = new FakeKernel(false);
      const imp = new Impairer(k);
      await imp.apply("wan", "edge", { impairment: { loss: { kind: "random", percent: 5 } } });
      k.drops.set("wan/vpnlab_impair_edge", 7);
      await imp.apply("wan", "edge", { impairment: { loss: { kind: "random", percent: 10 } } }); // the replace resets the kernel's counters
      k.drops.set("wan/vpnlab_impair_edge", 3);
      await imp.clear("wan", "edge");
      await imp.apply("wan", "home", { impairment: { partition: true } });
      k.drops.set("wan/vpnlab_impair_home", 2);
      await imp.clearAll();
      expect(imp.applied.map((a) => a.dropped?.packets)).to.deep.equal([undefined, 7, 3, undefined, 2]);
      expect(imp.dropTotals()).to.deep.equal([
        { node: "wan", dev: "edge", packets: 10, bytes: 1000 },
        { node: "wan", dev: "home", packets: 2, bytes: 200 },
      ]);
    });

    it("an unreadable counter is not guessed", async () => {
      const k = new FakeKernel(false);
      const imp = new Impairer(k);
      await imp.apply("wan", "edge", { impairment: { partition: true } });
      k.failNext = { match: (a) => a[1] === "-j", stderr: "Error: busy\n" };
      await imp.clear("wan", "edge");
      expect(imp.applied[1].dropped).to.equal(undefined);
      expect(imp.dropTotals()).to.deep.equal([]);
    });

    it("clearAll clears every impaired interface", async () => {
      const k = new FakeKernel(false);
      const imp = new Impairer(k);
      await imp.apply("wan", "edge", { impairment: { partition: true } });
      await imp.apply("wan", "home", { impairment: { everyNth: 2 } });
      await imp.apply("firewall", "edge", { impairment: { loss: { kind: "random", percent: 1 } } });
      expect(k.tables.size).to.equal(3);
      await imp.clearAll();
      expect(k.tables.size).to.equal(0);
      await imp.clearAll(); // nothing left to do
      expect(imp.applied.filter((a) => a.action === "clear")).to.have.length(3);
    });

    it("clear asks every backend, the wire too, even for a target this Impairer never impaired (a cut-short impair's leftovers)", async () => {
      const k = new FakeKernel(false);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vpnlab-apply-"));
      try {
        const imp = new Impairer({ exec: k, dir });
        await imp.clear("wan", "edge");
        const table = wireNames(dir, "wan", "edge").table;
        const asked = k.calls.filter((c) => c.argv.join(" ") === `nft list table inet ${table}`);
        expect(asked, JSON.stringify(k.calls.map((c) => c.argv.join(" ")))).to.have.length(1);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it("a clear with keep ends the fault; clearAll still clears that interface (what was kept goes)", async () => {
      const k = new FakeKernel(false);
      const imp = new Impairer(k);
      await imp.apply("wan", "edge", { impairment: { partition: true } });
      await imp.clear("wan", "edge", "egress", { keep: true });
      expect(k.tables.size).to.equal(0);
      expect(imp.hasKept()).to.equal(true);
      await imp.clearAll();
      const clears = imp.applied.filter((a) => a.action === "clear");
      expect(clears.map((c) => `${c.node}/${c.dev} ${c.direction}`), "the keep clear, then clearAll's").to.deep.equal(["wan/edge egress", "wan/edge egress"]);
      expect(imp.hasKept()).to.equal(false);
    });

    it("clearAll tries every interface and reports the failures together", async () => {
      const k = new FakeKernel(false);
      const imp = new Impairer(k);
      await imp.apply("wan", "edge", { impairment: { partition: true } });
      await imp.apply("wan", "home", { impairment: { partition: true } });
      k.failNext = { match: (a) => a[0] === "nft" && a[1] === "-f", stderr: "Error: Could not process rule: Operation not permitted\n" };
      let caught: unknown;
      try {
        await imp.clearAll();
      } catch (e) {
        caught = e;
      }
      expect(caught).to.be.instanceOf(AggregateError);
      expect((caught as AggregateError).errors).to.have.length(1);
      expect(k.tables.size).to.equal(1);
    });

    it("runs operations on one interface in call order", async () => {
      const k = new FakeKernel(false);
      const imp = new Impairer(k);
      await Promise.all([
        imp.apply("wan", "edge", { impairment: { loss: { kind: "random", percent: 1 } } }),
        imp.apply("wan", "edge", { impairment: { loss: { kind: "random", percent: 2 } } }),
        imp.clear("wan", "edge"),
        imp.apply("wan", "edge", { impairment: { loss: { kind: "random", percent: 3 } } }),
      ]);
      expect(k.tables.get("wan/vpnlab_impair_edge")).to.contain("< 300 ");
      expect(imp.applied.map((a) => a.action)).to.deep.equal(["apply", "apply", "clear", "apply"]);
    });
  });

  describe("on a pretend kernel with netem", () => {
    it("uses netem, and switches backends cleanly both ways", async () => {
      const k = new FakeKernel(true);
      const imp = new Impairer(k);
      const r1 = await imp.apply("wan", "edge", { impairment: { delayMs: 100, jitterMs: 10 } });
      expect(r1).to.deep.equal({ backend: "netem", argv: ["tc", "qdisc", "replace", "dev", "edge", "root", "handle", "564c:", "netem", "delay", "100ms", "10ms"] });
      expect(k.roots.get("wan/edge")).to.equal("netem");

      const r2 = await imp.apply("wan", "edge", { impairment: { everyNth: 10 } }); // netem cannot: nftables, and the netem goes
      expect(r2.backend).to.equal("nftables");
      expect(k.roots.has("wan/edge")).to.equal(false);
      expect(k.tables.has("wan/vpnlab_impair_edge")).to.equal(true);

      const r3 = await imp.apply("wan", "edge", { impairment: { loss: { kind: "gemodel", p: 1, r: 30 } } }); // back to netem, the table goes
      expect(r3.argv?.slice(9)).to.deep.equal(["loss", "gemodel", "1%", "30%"]);
      expect(k.roots.get("wan/edge")).to.equal("netem");
      expect(k.tables.has("wan/vpnlab_impair_edge")).to.equal(false);

      await imp.clear("wan", "edge");
      expect(k.roots.size).to.equal(0);
      expect(imp.applied.map((a) => a.backend ?? a.action)).to.deep.equal(["netem", "nftables", "netem", "clear"]);
    });

    it("clear never deletes a root qdisc that is not a netem", async () => {
      const k = new FakeKernel(true);
      k.roots.set("wan/edge", "tbf");
      await new Impairer(k).clear("wan", "edge");
      expect(k.roots.get("wan/edge")).to.equal("tbf");
    });
  });

  describe("on real namespaces (root; veth a <-> b, 2000 UDP datagrams from a to b)", function () {
    let pair: NetnsPair | undefined;
    let impairer: Impairer | undefined;
    let netem = false;
    before(async function () {
      if (!isRoot()) this.skip();
      pair = await createNetnsPair();
      impairer = new Impairer(pair.exec);
      netem = (await probeNetem(pair.exec, pair.a, pair.devA)).available;
    });
    after(async () => {
      try {
        await impairer?.clearAll();
      } finally {
        await pair?.destroy();
      }
    });
    const ready = (): { pair: NetnsPair; impairer: Impairer } => {
      if (!pair || !impairer) throw new Error("no namespaces");
      return { pair, impairer };
    };

    it("baseline: no loss", async () => {
      const { pair } = ready();
      const m = await measureUdpLoss(pair, 2000);
      console.log(`        baseline: ${show(m)}`);
      expect(m.lossPercent, show(m)).to.be.at.most(1);
    });

    it("30% random loss on a's egress measures 24..36%", async () => {
      const { pair, impairer } = ready();
      const r = await impairer.apply(pair.a, pair.devA, { impairment: { loss: { kind: "random", percent: 30 } } });
      expect(r.backend).to.equal(netem ? "netem" : "nftables");
      const m = await measureUdpLoss(pair, 2000);
      const counted = r.backend === "nftables" ? await nftDropCount(pair.exec, pair.a, "vpnlab_impair_a") : undefined;
      console.log(`        30% ${r.backend}: ${show(m)}${counted === undefined ? "" : `; nft counted ${counted} drops`}`);
      expect(m.lossPercent, show(m)).to.be.within(24, 36);
      if (counted !== undefined) expect(counted, "nft drop counter = datagrams lost").to.equal(m.sent - m.received);
    });

    it("cleared: ~0% loss again", async () => {
      const { pair, impairer } = ready();
      await impairer.clear(pair.a, pair.devA);
      const tables = await pair.exec.exec(pair.a, ["nft", "list", "tables"]);
      expect(tables.stdout).to.not.contain("vpnlab_impair_a");
      // what the kernel dropped was read back before the rules went away: at least the 30% step's datagrams
      const total = impairer.dropTotals().find((t) => t.dev === pair.devA);
      expect(total?.packets ?? 0, JSON.stringify(impairer.dropTotals())).to.be.greaterThan(400);
      const m = await measureUdpLoss(pair, 2000);
      console.log(`        cleared: ${show(m)}`);
      expect(m.lossPercent, show(m)).to.be.at.most(1);
    });

    it("every 10th packet: exactly the 10th, 20th, ... are lost (nftables)", async () => {
      const { pair, impairer } = ready();
      const r = await impairer.apply(pair.a, pair.devA, { impairment: { everyNth: 10 } });
      expect(r.backend).to.equal("nftables");
      const m = await measureUdpLoss(pair, 2000);
      console.log(`        every 10th: ${show(m)}`);
      const expected = Array.from({ length: 200 }, (_, i) => i * 10 + 9);
      expect(m.missing, show(m)).to.deep.equal(expected);
    });

    it("partition: nothing arrives", async () => {
      const { pair, impairer } = ready();
      const r = await impairer.apply(pair.a, pair.devA, { impairment: { partition: true } });
      expect(r.backend).to.equal(netem ? "netem" : "nftables");
      const m = await measureUdpLoss(pair, 500);
      console.log(`        partition: ${show(m)}`);
      expect(m.received, show(m)).to.equal(0);
    });

    it("delay: refused without netem (the partition stays), served by netem where it exists", async () => {
      const { pair, impairer } = ready();
      if (netem) {
        const r = await impairer.apply(pair.a, pair.devA, { impairment: { delayMs: 20 } });
        expect(r.backend).to.equal("netem");
        return;
      }
      let caught: unknown;
      try {
        await impairer.apply(pair.a, pair.devA, { impairment: { delayMs: 20 } });
      } catch (e) {
        caught = e;
      }
      expect(caught).to.be.instanceOf(ImpairmentRefused);
      console.log(`        refused: ${(caught as Error).message}`);
      expect((caught as Error).message).to.match(/netem is not available here \(the kernel has no netem qdisc/);
      const tables = await pair.exec.exec(pair.a, ["nft", "list", "table", "inet", "vpnlab_impair_a"]);
      expect(tables.stdout).to.contain('comment "partition"');
    });

    it("records which backend served each step", () => {
      const { impairer } = ready();
      const steps = impairer.applied.map((a) => `${a.action}:${a.backend ?? (a.cleared ?? []).join("+")}:${a.description}`);
      const b = netem ? "netem" : "nftables";
      expect(steps.slice(0, 4)).to.deep.equal([
        `apply:${b}:loss 30% (random)`,
        `clear:${b}:cleared`,
        "apply:nftables:drop every 10th packet",
        `apply:${b}:partition (drop everything)`,
      ]);
    });
  });
});
