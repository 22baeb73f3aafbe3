import { expect } from "chai";
import { ReplayWindow } from "./replay";
import { prng } from "./testkit";

/** The obvious model: remember every accepted number. Slow, but clearly right. */
class NaiveWindow {
  private top = 0;
  private readonly seen = new Set<number>();
  constructor(private readonly size: number) {}
  check(seq: number): boolean {
    if (seq === 0) return false;
    if (seq > this.top) return true;
    return this.top - seq < this.size && !this.seen.has(seq);
  }
  update(seq: number): void {
    if (!this.check(seq)) return;
    this.seen.add(seq);
    this.top = Math.max(this.top, seq);
  }
}


describe("vpn/replay ReplayWindow", () => {
  it("never accepts sequence number 0", () => {
    expect(new ReplayWindow().check(0)).to.equal(false);
  });

  it("accepts a number once", () => {
    const w = new ReplayWindow();
    expect(w.check(1)).to.equal(true);
    w.update(1);
    expect(w.check(1)).to.equal(false);
    expect(w.check(2)).to.equal(true);
  });

  it("check() alone does not record anything (the update comes after the ICV check)", () => {
    const w = new ReplayWindow();
    expect(w.check(5)).to.equal(true);
    expect(w.check(5)).to.equal(true);
  });

  it("accepts out-of-order numbers inside the window once, rejects older ones", () => {
    const w = new ReplayWindow(64);
    w.update(100);
    expect(w.check(36)).to.equal(false, "100 - 36 = 64: just left of the window");
    expect(w.check(37)).to.equal(true, "100 - 37 = 63: the oldest number in the window");
    w.update(37);
    expect(w.check(37)).to.equal(false);
    expect(w.check(50)).to.equal(true);
    w.update(50);
    expect(w.check(50)).to.equal(false);
    expect(w.check(99)).to.equal(true);
  });

  it("slides: numbers fall out of the window as higher ones arrive", () => {
    const w = new ReplayWindow(64);
    w.update(10);
    expect(w.check(9)).to.equal(true);
    w.update(74); // 74 - 9 = 65
    expect(w.check(9)).to.equal(false);
    expect(w.check(11)).to.equal(true);
  });

  it("a big jump clears the bits of numbers that alias old ones in the ring", () => {
    const w = new ReplayWindow(64);
    for (let s = 1; s <= 200; s++) w.update(s);
    w.update(1000);
    for (let s = 937; s < 1000; s++) expect(w.check(s), `seq ${s}`).to.equal(true);
    expect(w.check(936)).to.equal(false);
  });

  it("works at the top of the 32-bit space", () => {
    const w = new ReplayWindow(64);
    w.update(0xffffffff - 10);
    w.update(0xffffffff);
    expect(w.check(0xffffffff)).to.equal(false);
    expect(w.check(0xffffffff - 10)).to.equal(false);
    expect(w.check(0xffffffff - 11)).to.equal(true);
    expect(w.check(0xffffffff - 64)).to.equal(false);
    expect(w.check(0x100000000)).to.equal(false, "not a 32-bit sequence number");
  });

  it("rejects bad sizes", () => {
    expect(() => new ReplayWindow(0)).to.throw(RangeError);
    expect(() => new ReplayWindow(1.5)).to.throw(RangeError);
  });

  for (const size of [1, 31, 32, 33, 64, 100, 1024]) {
    it(`agrees with a naive model on random traffic (size ${size})`, () => {
      const rnd = prng(size);
      const w = new ReplayWindow(size);
      const model = new NaiveWindow(size);
      let top = 1;
      for (let i = 0; i < 5000; i++) {
        const r = rnd();
        // Mostly near the top (reordering, duplicates), sometimes a jump ahead.
        if (r < 0.05) top += 1 + Math.floor(rnd() * size * 4);
        else if (r < 0.5) top += 1;
        const seq = Math.max(0, top - Math.floor(rnd() * (size + 8)));
        expect(w.check(seq), `check(${seq}) at step ${i}`).to.equal(model.check(seq));
        if (rnd() < 0.9) {
          w.update(seq);
          model.update(seq);
        }
      }
    });
  }
});
