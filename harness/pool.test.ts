import { expect } from "chai";
import { mapPool } from "./pool";

describe("pool: mapPool", () => {
  it("keeps input order, never runs more than N at once, and runs every item once", async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    const out = await mapPool([5, 1, 4, 2, 3], 2, async (x, i) => {
      running++;
      peak = Math.max(peak, running);
      seen.push(i);
      await new Promise((r) => setTimeout(r, x * 3));
      running--;
      return x * 10;
    });
    expect(out).to.deep.equal([50, 10, 40, 20, 30]);
    expect(peak).to.equal(2);
    expect(seen.sort()).to.deep.equal([0, 1, 2, 3, 4]);
  });
  it("one at a time with 1; nothing to do with no items", async () => {
    let peak = 0;
    let running = 0;
    await mapPool([1, 2, 3], 1, async () => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setImmediate(r));
      running--;
    });
    expect(peak).to.equal(1);
    expect(await mapPool([], 4, async () => 1)).to.deep.equal([]);
  });
  it("a rejection rejects the whole", async () => {
    let caught: unknown;
    await mapPool([1, 2], 2, async (x) => {
      if (x === 2) throw new Error("two");
    }).catch((e: unknown) => (caught = e));
    expect(String(caught)).to.contain("two");
  });
});
