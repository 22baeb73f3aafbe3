// Ingress through an IFB: the names and command plans, then the plumbing for
// real on this host (which has ifb, the ingress qdisc, u32 and mirred but no
// netem): a tbf on the IFB's root stands in for the netem, and the packets it
// counts and drops prove that what arrives on the device passes through it.
import { expect } from "chai";
import { ifbName, ingressPlan, installIngress, isIfbLink, removeIngress } from "./ifb";
import { waitUntil } from "../wait";
import { parseQdiscJson, tcQdiscStatsArgv } from "./tc";
import { createNetnsPair, isRoot, measureUdpLoss, type NetnsPair, type UdpMeasurement } from "./testkit";

describe("impair/ifb", () => {
  it("names vpnlab's IFB after the device, within the kernel's 15 bytes", () => {
    expect(ifbName("edge")).to.equal("vli-edge");
    expect(ifbName("eth0.100")).to.equal("vli-eth0.100");
    expect(ifbName("abcdefghijk")).to.equal("vli-abcdefghijk"); // 15 bytes: still the plain name
    const long = ifbName("abcdefghijkl");
    expect(long).to.match(/^vli-[0-9a-f]{11}$/);
    expect(long).to.equal(ifbName("abcdefghijkl")); // stable: a later clear finds it
    expect(ifbName("abcdefghijkm")).to.not.equal(long);
    expect(() => ifbName("bad/dev")).to.throw(/invalid interface name/);
  });

  it("tells an ifb from another link in `ip -j -d link show`", () => {
    expect(isIfbLink('[{"ifname":"vli-d0","linkinfo":{"info_kind":"ifb"}}]')).to.equal(true);
    expect(isIfbLink('[{"ifname":"vli-d0","linkinfo":{"info_kind":"veth"}}]')).to.equal(false);
    expect(isIfbLink('[{"ifname":"vli-d0"}]')).to.equal(false);
    expect(isIfbLink("not json")).to.equal(false);
  });

  describe("ingressPlan", () => {
    const root = { kind: "netem", params: ["delay", "10ms"] };
    it("from nothing: IFB, its qdisc, the ingress qdisc, then the redirect (the qdisc is there before any packet is)", () => {
      expect(ingressPlan("d0", root, undefined, { ifbExists: false, devQdiscs: [], ourFilter: false }).map((a) => a.join(" "))).to.deep.equal([
        "ip link add vli-d0 type ifb",
        "ip link set dev vli-d0 up",
        "tc qdisc replace dev vli-d0 root handle 564c: netem delay 10ms",
        "tc qdisc add dev d0 handle ffff: ingress",
        "tc filter add dev d0 parent ffff: protocol all pref 22092 u32 match u32 0 0 action mirred egress redirect dev vli-d0",
      ]);
    });
    it("over an earlier one: keeps the IFB and the ingress qdisc, replaces the filter", () => {
      const devQdiscs = [{ kind: "ingress", handle: "ffff:", root: false, parent: "ffff:fff1", options: {} }];
      expect(ingressPlan("d0", root, { proto: "tcp", dport: 443 }, { ifbExists: true, devQdiscs, ourFilter: true }).map((a) => a.join(" "))).to.deep.equal([
        "ip link set dev vli-d0 up",
        "tc qdisc replace dev vli-d0 root handle 564c: netem delay 10ms",
        "tc filter del dev d0 parent ffff: pref 22092",
        "tc filter add dev d0 parent ffff: protocol ip pref 22092 u32 match ip protocol 6 0xff match ip dport 443 0xffff action mirred egress redirect dev vli-d0",
      ]);
    });
  });

  describe("on real namespaces (root; UDP from a to b, b's ingress through vli-b)", function () {
    let pair: NetnsPair | undefined;
    before(async function () {
      if (!isRoot()) this.skip();
      pair = await createNetnsPair();
    });
    after(async () => {
      if (pair) await removeIngress(pair.exec, pair.b, pair.devB).catch(() => undefined);
      await pair?.destroy();
    });
    const ready = (): NetnsPair => {
      if (!pair) throw new Error("no namespaces");
      return pair;
    };
    const ifbStats = async (p: NetnsPair): Promise<{ packets: number; drops: number; qlen: number }> => {
      const r = await p.exec.exec(p.b, tcQdiscStatsArgv(ifbName(p.devB)));
      const q = (JSON.parse(r.stdout) as { handle?: string; packets?: number; drops?: number; qlen?: number }[]).find((x) => x.handle === "564c:");
      return { packets: q?.packets ?? -1, drops: q?.drops ?? -1, qlen: q?.qlen ?? -1 };
    };
    const show = (m: UdpMeasurement): string => `sent ${m.sent}, received ${m.received}, lost ${m.lossPercent.toFixed(1)}%`;

    it("every arriving datagram passes the IFB's qdisc and is delivered", async () => {
      const p = ready();
      const plan = await installIngress(p.exec, p.b, p.devB, { kind: "tbf", params: ["rate", "100mbit", "burst", "256kbit", "latency", "50ms"] }, undefined);
      expect(plan[0]).to.deep.equal(["ip", "link", "add", "vli-b", "type", "ifb"]);
      const m = await measureUdpLoss(p, 500);
      const s = await ifbStats(p);
      console.log(`        via vli-b: ${show(m)}; tbf on vli-b passed ${s.packets}, dropped ${s.drops}`);
      expect(m.received, show(m)).to.equal(500);
      expect(s.packets, `tbf on vli-b passed ${s.packets}`).to.be.at.least(500);
    });

    it("the IFB's qdisc acts on them: a 16 kbit/s tbf there loses most of a burst", async () => {
      const p = ready();
      await installIngress(p.exec, p.b, p.devB, { kind: "tbf", params: ["rate", "16kbit", "burst", "2kb", "latency", "5ms"] }, undefined);
      const before = await ifbStats(p);
      const m = await measureUdpLoss(p, 500);
      const s = await ifbStats(p);
      console.log(`        16kbit tbf on vli-b: ${show(m)}; tbf dropped ${s.drops - before.drops}`);
      expect(m.lossPercent, show(m)).to.be.greaterThan(50);
      // what tbf did not drop it still held (its ~2 kB queue, ~40 of these datagrams) when the receiver stopped
      const lost = m.sent - m.received;
      expect(s.drops - before.drops, `tbf drops vs datagrams lost: ${show(m)}`).to.be.within(lost - 50, lost);
    });

    it("a flow match redirects only the matching datagrams", async () => {
      const p = ready();
      const held = (await ifbStats(p)).qlen;
      await installIngress(p.exec, p.b, p.devB, { kind: "tbf", params: ["rate", "100mbit", "burst", "256kbit", "latency", "50ms"] }, { proto: "udp", dport: 41234 });
      // `tc qdisc replace` keeps the tbf and its queue: what the 16 kbit/s one above still held leaves it
      // at the new rate, once its pending timer fires — counted in `packets` then, not one of ours. Start
      // counting once the queue is empty (the drain), or those datagrams land in this test's count.
      const before = await waitUntil(async () => {
        const s = await ifbStats(p);
        return s.qlen === 0 ? s : undefined;
      }, { what: "vli-b's tbf to hand on what the previous test left in it", timeoutMs: 10_000, intervalMs: 20 });
      const hit = await measureUdpLoss(p, 300, 41234);
      const miss = await measureUdpLoss(p, 200, 41235);
      const s = await ifbStats(p);
      console.log(`        match udp dport 41234: ${show(hit)} / other port ${show(miss)}; vli-b passed ${s.packets - before.packets} (held ${held} from before, drained first)`);
      expect(hit.received, show(hit)).to.equal(300);
      expect(miss.received, show(miss)).to.equal(200);
      expect(s.packets - before.packets, "packets through vli-b = the matching datagrams").to.equal(300);
    });

    it("removeIngress takes away the filter, the ingress qdisc and the IFB; traffic still flows", async () => {
      const p = ready();
      const done = await removeIngress(p.exec, p.b, p.devB);
      expect(done.map((a) => a.join(" "))).to.deep.equal(["tc filter del dev b parent ffff: pref 22092", "tc qdisc del dev b ingress", "ip link del dev vli-b"]);
      const q = parseQdiscJson((await p.exec.exec(p.b, ["tc", "-j", "qdisc", "show", "dev", "b"])).stdout);
      expect(q.map((x) => x.kind)).to.not.include("ingress");
      const link = await p.exec.exec(p.b, ["ip", "link", "show", "dev", "vli-b"], { allowFailure: true });
      expect(link.code).to.not.equal(0);
      expect(await removeIngress(p.exec, p.b, p.devB)).to.deep.equal([]);
      const m = await measureUdpLoss(p, 200);
      expect(m.received, show(m)).to.equal(200);
    });
  });
});
