// The wire on real traffic, in throwaway namespaces x — r — y: what a fault
// configures is what the datagrams measure (loss, delay, duplicates, reorder,
// rate), the same seed drops the same packets, matches and directions hit
// what they name, and a clear leaves nothing behind.
import { expect } from "chai";
import type { Fault } from "../../fault";
import { isRoot, netnsExec } from "../../testkit";
import { wireBackend, wireStats } from "./index";
import { createChain, udpRun, wireLeftovers, type Chain } from "./testkit";

const within = (got: number, want: number, tol: number): boolean => Math.abs(got - want) <= tol;

describe("impair/backends/wire (namespaces)", function () {
  this.timeout(120_000);
  let c: Chain;

  before(async function () {
    if (!isRoot()) this.skip();
    c = await createChain();
  });

  after(async () => {
    await c?.destroy();
  });

  async function apply(node: string, dev: string, fault: Fault): Promise<string> {
    const a = await wireBackend.available(c.ctx, node, dev);
    expect(a, JSON.stringify(a)).to.deep.equal({ available: true });
    return (await wireBackend.apply(c.ctx, node, dev, fault)).detail ?? "";
  }

  async function clearAndCheck(node: string, dev: string, direction: Fault["direction"]): Promise<void> {
    await wireBackend.clear(c.ctx, node, dev, direction);
    const ns = [c.x, c.r, c.y].find((n) => n.name === node)!;
    const left = await wireLeftovers(ns);
    expect(left, `left on ${node}: ${left.join("; ")}`).to.deep.equal([]);
    expect(await wireStats(c.dir, node, dev, direction), "the wire still answers").to.equal(undefined);
  }

  it("egress, forwarded: delay + loss + duplicate as configured", async () => {
    const detail = await apply(c.r.name, "ry", { impairment: { delayMs: 100, loss: { kind: "random", percent: 10 }, duplicate: 10 }, seed: 7 });
    expect(detail).to.match(/seed 7/);
    const m = await udpRun(netnsExec, c.x.name, c.y.name, c.ipY, 2000);
    const s = await wireStats(c.dir, c.r.name, "ry");
    const d = m.arrivals.map((a) => a[1]).sort((a, b) => a - b);
    const nums = `loss ${m.lossPercent.toFixed(2)}%, duplicate ${m.duplicatePercent.toFixed(2)}%, mean delay ${m.meanDelayMs.toFixed(2)} ms (p10/p50/p90 ${[0.1, 0.5, 0.9].map((q) => d[Math.floor(q * (d.length - 1))].toFixed(2)).join("/")}); wire ${JSON.stringify({ ...s, dropList: s?.dropList.length })}`;
    expect(within(m.lossPercent, 10, 3), nums).to.equal(true);
    expect(within(m.duplicatePercent, 10 * 0.9, 3), nums).to.equal(true); // a lost packet is never duplicated (netem)
    expect(within(m.meanDelayMs, 100, 10), nums).to.equal(true);
    expect(s?.seen, nums).to.equal(2000);
    expect(s?.dropped, nums).to.equal(m.missing.length);
    await clearAndCheck(c.r.name, "ry", "egress");
  });
});
