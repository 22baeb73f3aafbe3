// Impairer.adopt: a second process (`vpnlab heal`, a later `vpnlab impair`)
// takes over the fault a first one applied, from the lab's record.
import { expect } from "chai";
import { Impairer } from "./apply";
import { FakeKernel } from "./testkit";

const loss = (percent: number) => ({ impairment: { loss: { kind: "random" as const, percent } } });

describe("impair/apply: Impairer.adopt (a fault applied by another process)", () => {
  it("clear harvests what the adopted fault dropped and removes its table", async () => {
    const k = new FakeKernel(false);
    await new Impairer(k).apply("wan", "edge", loss(100)); // the first process, gone
    k.drops.set("wan/vpnlab_impair_edge", 12);
    const later = new Impairer(k);
    later.adopt("wan", "edge", loss(100), "nftables");
    expect(later.activeFaults()).to.deep.equal([{ node: "wan", dev: "edge", direction: "egress", backends: ["nftables"], fault: { ...loss(100), direction: "egress" } }]);
    await later.clear("wan", "edge");
    const rec = later.applied[later.applied.length - 1];
    expect([rec.action, rec.cleared, rec.dropped?.packets]).to.deep.equal(["clear", ["nftables"], 12]);
    expect(k.tables.has("wan/vpnlab_impair_edge")).to.equal(false);
    expect(later.activeFaults()).to.deep.equal([]);
  });

  it("apply replaces the adopted fault, reading its drops first", async () => {
    const k = new FakeKernel(false);
    await new Impairer(k).apply("wan", "edge", loss(50));
    k.drops.set("wan/vpnlab_impair_edge", 3);
    const later = new Impairer(k);
    later.adopt("wan", "edge", loss(50), "nftables");
    await later.apply("wan", "edge", loss(10));
    expect(later.applied[0].dropped?.packets).to.equal(3);
    expect(later.activeFaults()[0].fault).to.deep.equal({ ...loss(10), direction: "egress" });
  });
});
