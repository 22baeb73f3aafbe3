import { expect } from "chai";
import { Spread } from "./spread";

// locations as the docker runtime names its engines
const engines = ["unix:///a.sock", "unix:///b.sock"].map((url) => ({ url }));
const later = () => {
  let release!: () => void;
  const p = new Promise<void>((r) => (release = r));
  return { p, release };
};

describe("runtime/spread: labs over a runtime's locations", () => {
  it("puts each new lab on the engine with the fewest running, the first on a tie", async () => {
    const spread = new Spread(engines);
    const gates = [later(), later(), later(), later()];
    const where: string[] = [];
    const runs = gates.map((g) => spread.on(async (e) => (where.push(e.url), await g.p)));
    expect(where).to.deep.equal(["unix:///a.sock", "unix:///b.sock", "unix:///a.sock", "unix:///b.sock"]);
    gates[1].release(); // b has one running now, a two
    await runs[1];
    const fifth = spread.on(async (e) => e.url);
    expect(await fifth).to.equal("unix:///b.sock");
    for (const g of gates) g.release();
    await Promise.all(runs);
  });

  it("frees the engine when the work fails", async () => {
    const spread = new Spread(engines);
    await spread.on(async () => Promise.reject(new Error("lab error"))).catch(() => undefined);
    const where: string[] = [];
    const g = later();
    const a = spread.on(async (e) => (where.push(e.url), await g.p));
    const b = spread.on(async (e) => (where.push(e.url), await g.p));
    expect(where).to.deep.equal(["unix:///a.sock", "unix:///b.sock"]);
    g.release();
    await Promise.all([a, b]);
  });

  it("refuses an empty list, naming what is missing", () => {
    expect(() => new Spread([], "Docker engine")).to.throw(/no Docker engine to run on/);
    expect(() => new Spread([])).to.throw(/no location to run on/);
  });
});
