import { expect } from "chai";
import { Dpd } from "./dpd";

describe("dpd", () => {
  it("declares the peer down after `retries` unanswered probes, one per interval", () => {
    const d = new Dpd({ intervalMs: 1000, retries: 3 }, 0);
    const actions = [500, 1000, 2000, 3000, 4000, 5000].map((t) => d.tick(t));
    expect(actions).to.deep.equal(["none", "probe", "probe", "probe", "down", "none"]);
    expect(d.isDown).to.equal(true);
  });

  it("stays up while proof keeps arriving and resets the missed count", () => {
    const d = new Dpd({ intervalMs: 1000, retries: 3 }, 0);
    expect(d.tick(1000)).to.equal("probe");
    expect(d.tick(2000)).to.equal("probe");
    d.proof(2100);
    expect(d.missedProbes).to.equal(0);
    expect(d.tick(3000)).to.equal("none");
    expect(d.tick(3100)).to.equal("probe");
  });

  it("ignores proof once down: a dead tunnel stays dead", () => {
    const d = new Dpd({ intervalMs: 100, retries: 1 }, 0);
    d.tick(100);
    expect(d.tick(200)).to.equal("down");
    d.proof(250);
    expect(d.isDown).to.equal(true);
    expect(d.tick(400)).to.equal("none");
  });
});
