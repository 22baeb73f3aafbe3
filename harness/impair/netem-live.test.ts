// The netem backend on a real kernel: loss on egress, on ingress through the
// IFB, for a flow match, and a seeded pattern twice. Needs the netem qdisc:
// where the kernel has none (this host, CI) the suite is skipped and says why.
import { expect } from "chai";
import { forgetNetemProbe, probeNetem } from "./backend";
import { createNetemBackend } from "./backends/netem";
import type { BackendContext } from "./backends/types";
import type { Fault } from "./fault";
import { ifbName } from "./ifb";
import { tcSeedUnsupportedReason } from "./netem";
import { parseQdiscJson, tcQdiscShowArgv } from "./tc";
import { createNetnsPair, isRoot, measureUdpLoss, type NetnsPair, type UdpMeasurement } from "./testkit";

const show = (m: UdpMeasurement): string => `sent ${m.sent}, received ${m.received}, lost ${m.lossPercent.toFixed(1)}%`;

describe("impair/netem on a real kernel (root; veth a <-> b, UDP from a to b)", function () {
  let pair: NetnsPair | undefined;
  const backend = createNetemBackend();
  let ctx: BackendContext | undefined;

  before(async function () {
    if (!isRoot()) {
      console.log("        skipped: needs root (network namespaces)");
      this.skip();
    }
    pair = await createNetnsPair();
    ctx = { exec: pair.exec };
    forgetNetemProbe(pair.exec);
    const probe = await probeNetem(pair.exec, pair.a, pair.devA);
    if (!probe.available) {
      console.log(`        skipped: ${probe.reason ?? "the kernel has no netem qdisc"}`);
      this.skip();
    }
  });
  after(async () => {
    if (pair && ctx) {
      for (const [node, dev] of [[pair.a, pair.devA], [pair.b, pair.devB]] as const) {
        for (const d of ["egress", "ingress"] as const) await backend.clear(ctx, node, dev, d).catch(() => undefined);
      }
    }
    await pair?.destroy();
  });
  const ready = (): { p: NetnsPair; c: BackendContext } => {
    if (!pair || !ctx) throw new Error("no namespaces");
    return { p: pair, c: ctx };
  };

  it("30% random loss on a's egress: measured 24..36%, netem's drop counter = datagrams lost", async () => {
    const { p, c } = ready();
    const f: Fault = { impairment: { loss: { kind: "random", percent: 30 } } };
    await backend.apply(c, p.a, p.devA, f);
    const m = await measureUdpLoss(p, 2000);
    const drops = await backend.harvest(c, p.a, p.devA, f, undefined);
    console.log(`        egress 30%: ${show(m)}; netem dropped ${drops?.packets}`);
    expect(m.lossPercent, show(m)).to.be.within(24, 36);
    expect(drops?.packets, show(m)).to.equal(m.sent - m.received);
    await backend.clear(c, p.a, p.devA, "egress");
    const roots = parseQdiscJson((await p.exec.exec(p.a, tcQdiscShowArgv(p.devA))).stdout).filter((q) => q.handle === "564c:");
    expect(roots).to.deep.equal([]);
  });

  it("30% random loss on b's ingress (through vli-b): measured 24..36%; clear removes the IFB", async () => {
    const { p, c } = ready();
    await backend.apply(c, p.b, p.devB, { impairment: { loss: { kind: "random", percent: 30 } }, direction: "ingress" });
    const m = await measureUdpLoss(p, 2000);
    console.log(`        ingress 30%: ${show(m)}`);
    expect(m.lossPercent, show(m)).to.be.within(24, 36);
    await backend.clear(c, p.b, p.devB, "ingress");
    const link = await p.exec.exec(p.b, ["ip", "link", "show", "dev", ifbName(p.devB)], { allowFailure: true });
    expect(link.code, "the IFB is gone").to.not.equal(0);
  });

  it("a flow match: 100% loss for one UDP port only (prio + u32 on a's egress)", async function () {
    const { p, c } = ready();
    const prio = await p.exec.exec(p.a, ["tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "prio"], { allowFailure: true });
    if (prio.code !== 0) {
      console.log(`        skipped: the kernel has no prio qdisc (tc: ${prio.stderr.trim()})`);
      this.skip();
    }
    await p.exec.exec(p.a, ["tc", "qdisc", "del", "dev", "lo", "root"]);
    await backend.apply(c, p.a, p.devA, { impairment: { partition: true }, match: { proto: "udp", dport: 41234 } });
    const hit = await measureUdpLoss(p, 200, 41234);
    const miss = await measureUdpLoss(p, 200, 41235);
    console.log(`        match: port 41234 ${show(hit)}; port 41235 ${show(miss)}`);
    expect(hit.received, show(hit)).to.equal(0);
    expect(miss.lossPercent, show(miss)).to.be.at.most(1);
    await backend.clear(c, p.a, p.devA, "egress");
  });

  it("the same seed drops the same datagrams twice (where tc and the kernel keep netem's seed)", async function () {
    const { p, c } = ready();
    const why = tcSeedUnsupportedReason((await p.exec.exec(p.a, ["tc", "-V"])).stdout);
    if (why) {
      console.log(`        skipped: ${why}`);
      this.skip();
    }
    const run = async (seed: number): Promise<number[]> => {
      await backend.clear(c, p.a, p.devA, "egress");
      await backend.apply(c, p.a, p.devA, { impairment: { loss: { kind: "random", percent: 20 } }, seed });
      return (await measureUdpLoss(p, 500)).missing;
    };
    const first = await run(7);
    const second = await run(7);
    const other = await run(8);
    console.log(`        seed 7: ${first.length} lost, again ${second.length}; seed 8: ${other.length}`);
    expect(second).to.deep.equal(first);
    expect(other).to.not.deep.equal(first);
    await backend.clear(c, p.a, p.devA, "egress");
  });
});
