// The netem backend against a pretend tc/ip (FakeTc): the command sequences
// for egress, a flow match and ingress through an IFB, the readback, the
// refusals and what clear removes (only vpnlab's own objects).
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import type { Fault } from "../fault";
import { FakeTc } from "../tcfake";
import { createNetemBackend, egressPlan, netemDropsByHandle, PRIO_PARAMS } from "./netem";
import type { BackendContext } from "./types";

const TC_61 = () => "tc utility, iproute2-6.1.0, libbpf 1.1.2\n";
const TC_66 = () => "tc utility, iproute2-6.6.0\n";

function kernel(caps: ConstructorParameters<typeof FakeTc>[0] = { netem: true, prio: true, seed: false }): { k: FakeTc; ctx: BackendContext } {
  const k = new FakeTc(caps);
  k.links.set("wan/edge", "veth");
  return { k, ctx: { exec: k } };
}

const PRIOMAP = PRIO_PARAMS.join(" ");

describe("impair/backends/netem", () => {
  it("loading this module first still fills the registry (no import cycle through ../backend)", () => {
    const js = `require(${JSON.stringify(require.resolve("./netem"))}); console.log(JSON.stringify(require(${JSON.stringify(require.resolve("./index"))}).BACKENDS.map((b) => b && b.name)))`;
    const names = JSON.parse(execFileSync(process.execPath, ["-e", js], { encoding: "utf8" })) as (string | null)[];
    expect(names).to.include("netem");
    expect(names).to.not.include(null);
  });

  describe("unsupported", () => {
    const b61 = createNetemBackend({ tcVersion: TC_61 });
    const b66 = createNetemBackend({ tcVersion: TC_66 });
    it("serves every netem option, both directions and a flow match", () => {
      const f: Fault = {
        impairment: { delayMs: 10, jitterMs: 2, delayDistribution: "normal", reorder: 5, reorderGap: 2, loss: { kind: "state", p13: 1 }, limit: 10 },
        direction: "ingress",
        match: { proto: "tcp", dport: 10000 },
      };
      expect(b61.unsupported(f)).to.deep.equal([]);
    });
    it("refuses a seed when tc is older than 6.6, naming the version", () => {
      const r = b61.unsupported({ impairment: { loss: { kind: "random", percent: 5 } }, seed: 1 });
      expect(r.map((e) => e.field)).to.deep.equal(["seed"]);
      expect(r[0].message).to.equal("netem cannot express seed: tc is iproute2 6.1.0, and netem's seed needs iproute2 ≥ 6.6 (and a kernel whose netem keeps it)");
      expect(b66.unsupported({ impairment: { loss: { kind: "random", percent: 5 } }, seed: 1 })).to.deep.equal([]);
    });
    it("refuses what netem's random generators cannot do", () => {
      expect(b66.unsupported({ impairment: { everyNth: 3, dropPackets: [2] } }).map((e) => e.field)).to.deep.equal(["everyNth", "dropPackets"]);
    });
  });

  describe("egress", () => {
    it("installs under its own handle and reads it back", async () => {
      const { k, ctx } = kernel();
      const r = await createNetemBackend({ tcVersion: TC_61 }).apply(ctx, "wan", "edge", { impairment: { delayMs: 100, jitterMs: 10, limit: 50 } });
      expect(r).to.deep.equal({ argv: ["tc", "qdisc", "replace", "dev", "edge", "root", "handle", "564c:", "netem", "limit", "50", "delay", "100ms", "10ms"] });
      expect(k.calls.map((c) => c.argv.join(" "))).to.deep.equal([
        "tc -j qdisc show dev edge",
        "tc qdisc replace dev edge root handle 564c: netem limit 50 delay 100ms 10ms",
        "tc -j qdisc show dev edge",
      ]);
      // a replace in place: the same handle, new options
      await createNetemBackend({ tcVersion: TC_61 }).apply(ctx, "wan", "edge", { impairment: { loss: { kind: "random", percent: 5 } } });
      expect(k.changes().at(-1)).to.equal("tc qdisc replace dev edge root handle 564c: netem loss random 5%");
      expect(k.qdiscs.get("wan/edge")).to.have.length(1);
    });

    it("passes a seed and confirms the kernel kept it; a kernel that drops it is an error naming both", async () => {
      const { k, ctx } = kernel({ netem: true, prio: true, seed: true });
      const b = createNetemBackend({ tcVersion: TC_66 });
      const r = await b.apply(ctx, "wan", "edge", { impairment: { loss: { kind: "random", percent: 5 } }, seed: 42 });
      expect(r.argv?.slice(-2)).to.deep.equal(["seed", "42"]);
      k.keepSeed = false;
      let err: unknown;
      try {
        await b.apply(ctx, "wan", "edge", { impairment: { loss: { kind: "random", percent: 5 } }, seed: 43 });
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).to.equal(
        "wan/edge: netem 564c: does not hold what was asked: seed asked 43, tc shows nothing (this kernel's netem has no seeded generator); vpnlab's netem there was removed",
      );
      // an unseeded netem does not stay in place of the seeded one asked for
      expect(k.qdiscs.get("wan/edge") ?? []).to.deep.equal([]);
    });

    it("will not replace a root qdisc it did not install", async () => {
      const { k, ctx } = kernel();
      await k.exec("wan", ["tc", "qdisc", "replace", "dev", "edge", "root", "handle", "8001:", "tbf", "rate", "1mbit"]);
      let err: unknown;
      try {
        await createNetemBackend({ tcVersion: TC_61 }).apply(ctx, "wan", "edge", { impairment: { delayMs: 5 } });
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).to.equal("edge has a root qdisc vpnlab did not install (tbf 8001:); remove it or impair another device");
      expect(k.qdiscs.get("wan/edge")?.map((q) => q.kind)).to.deep.equal(["tbf"]);
    });

    it("a flow match: prio root, netem on band 2, a u32 filter steering the match there; back to a plain netem", async () => {
      const { k, ctx } = kernel();
      const b = createNetemBackend({ tcVersion: TC_61 });
      const r = await b.apply(ctx, "wan", "edge", { impairment: { loss: { kind: "random", percent: 10 } }, match: { proto: "tcp", src: "10.0.0.2", dport: 10000 } });
      const plan = [
        `tc qdisc replace dev edge root handle 564c: prio ${PRIOMAP}`,
        "tc qdisc replace dev edge parent 564c:2 handle 564d: netem loss random 10%",
        "tc filter add dev edge parent 564c: protocol ip pref 22092 u32 match ip protocol 6 0xff match ip src 10.0.0.2/32 match ip dport 10000 0xffff flowid 564c:2",
      ];
      expect(k.changes()).to.deep.equal(plan);
      expect(r.argv?.join(" ")).to.equal(plan[1]);
      expect(r.detail).to.equal(plan.join("\n"));
      // another match: the netem changes in place, the filter is replaced
      await b.apply(ctx, "wan", "edge", { impairment: { loss: { kind: "random", percent: 20 } }, match: { proto: "udp", sport: 4500 } });
      expect(k.changes().slice(3)).to.deep.equal([
        "tc qdisc replace dev edge parent 564c:2 handle 564d: netem loss random 20%",
        "tc filter del dev edge parent 564c: pref 22092",
        "tc filter add dev edge parent 564c: protocol ip pref 22092 u32 match ip protocol 17 0xff match ip sport 4500 0xffff flowid 564c:2",
      ]);
      expect(k.filters.get("wan/edge")).to.have.length(1);
      // no match any more: the prio goes (with its filter), a root netem comes
      await b.apply(ctx, "wan", "edge", { impairment: { delayMs: 5 } });
      expect(k.changes().slice(6)).to.deep.equal(["tc qdisc del dev edge root", "tc qdisc replace dev edge root handle 564c: netem delay 5ms"]);
      expect(k.filters.get("wan/edge") ?? []).to.deep.equal([]);
    });

    it("a kernel without prio: the flow match fails loudly (tc's own words)", async () => {
      const { ctx } = kernel({ netem: true, prio: false });
      let err: unknown;
      try {
        await createNetemBackend({ tcVersion: TC_61 }).apply(ctx, "wan", "edge", { impairment: { delayMs: 5 }, match: { proto: "esp" } });
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).to.match(/tc qdisc replace dev edge root handle 564c: prio[\s\S]*Specified qdisc kind is unknown/);
    });

    it("egressPlan: a netem root of ours becomes a prio only through a delete", () => {
      const ours = [{ kind: "netem", handle: "564c:", root: true, options: {} }];
      expect(egressPlan("e", ["delay", "1ms"], { proto: "icmp" }, { devQdiscs: ours, ourFilter: false })[0]).to.deep.equal(["tc", "qdisc", "del", "dev", "e", "root"]);
      expect(egressPlan("e", ["delay", "1ms"], undefined, { devQdiscs: ours, ourFilter: false })).to.have.length(1);
    });
  });

  describe("ingress through an IFB", () => {
    it("creates vli-DEV, redirects DEV's arriving packets to it, puts the netem on its root, and reads both back", async () => {
      const { k, ctx } = kernel();
      const b = createNetemBackend({ tcVersion: TC_61 });
      const r = await b.apply(ctx, "wan", "edge", { impairment: { delayMs: 50 }, direction: "ingress" });
      const plan = [
        "ip link add vli-edge type ifb",
        "ip link set dev vli-edge up",
        "tc qdisc replace dev vli-edge root handle 564c: netem delay 50ms",
        "tc qdisc add dev edge handle ffff: ingress",
        "tc filter add dev edge parent ffff: protocol all pref 22092 u32 match u32 0 0 action mirred egress redirect dev vli-edge",
      ];
      expect(k.changes()).to.deep.equal(plan);
      expect(r.argv?.join(" ")).to.equal(plan[2]);
      expect(r.detail).to.equal(plan.join("\n"));
      // again, with a match: the IFB and the ingress qdisc stay, the netem changes, the filter is replaced
      await b.apply(ctx, "wan", "edge", { impairment: { delayMs: 60 }, direction: "ingress", match: { proto: "udp", dport: 4500 } });
      expect(k.changes().slice(5)).to.deep.equal([
        "ip link set dev vli-edge up",
        "tc qdisc replace dev vli-edge root handle 564c: netem delay 60ms",
        "tc filter del dev edge parent ffff: pref 22092",
        "tc filter add dev edge parent ffff: protocol ip pref 22092 u32 match ip protocol 17 0xff match ip dport 4500 0xffff action mirred egress redirect dev vli-edge",
      ]);
      // clear: filter, the then empty ingress qdisc, the IFB; egress untouched
      await b.clear(ctx, "wan", "edge", "ingress");
      expect(k.changes().slice(9)).to.deep.equal(["tc filter del dev edge parent ffff: pref 22092", "tc qdisc del dev edge ingress", "ip link del dev vli-edge"]);
      expect(k.links.has("wan/vli-edge")).to.equal(false);
      expect(k.qdiscs.get("wan/edge") ?? []).to.deep.equal([]);
      // idempotent
      const before = k.changes().length;
      await b.clear(ctx, "wan", "edge", "ingress");
      expect(k.changes().length).to.equal(before);
    });

    it("clear keeps an ingress qdisc that still carries somebody else's filter", async () => {
      const { k, ctx } = kernel();
      const b = createNetemBackend({ tcVersion: TC_61 });
      await b.apply(ctx, "wan", "edge", { impairment: { delayMs: 50 }, direction: "ingress" });
      await k.exec("wan", ["tc", "filter", "add", "dev", "edge", "parent", "ffff:", "protocol", "all", "pref", "10", "u32", "match", "u32", "0", "0"]);
      await b.clear(ctx, "wan", "edge", "ingress");
      expect(k.qdiscs.get("wan/edge")?.map((q) => q.kind)).to.deep.equal(["ingress"]);
      expect(k.filters.get("wan/edge")?.map((f) => f.pref)).to.deep.equal([10]);
    });

    it("will not take over a device of that name that is not an ifb", async () => {
      const { k, ctx } = kernel();
      k.links.set("wan/vli-edge", "veth");
      let err: unknown;
      try {
        await createNetemBackend({ tcVersion: TC_61 }).apply(ctx, "wan", "edge", { impairment: { delayMs: 5 }, direction: "ingress" });
      } catch (e) {
        err = e;
      }
      expect((err as Error).message).to.equal("wan: vli-edge exists and is not an ifb device; vpnlab will not take it over");
      expect(k.changes()).to.deep.equal([]);
    });
  });

  describe("clear (egress)", () => {
    it("deletes vpnlab's root only, and is idempotent", async () => {
      const { k, ctx } = kernel();
      const b = createNetemBackend({ tcVersion: TC_61 });
      await b.apply(ctx, "wan", "edge", { impairment: { delayMs: 5 } });
      await b.clear(ctx, "wan", "edge", "egress");
      await b.clear(ctx, "wan", "edge", "egress");
      expect(k.changes()).to.deep.equal(["tc qdisc replace dev edge root handle 564c: netem delay 5ms", "tc qdisc del dev edge root"]);
      await k.exec("wan", ["tc", "qdisc", "replace", "dev", "edge", "root", "handle", "1:", "htb"]);
      await b.clear(ctx, "wan", "edge", "egress");
      expect(k.qdiscs.get("wan/edge")?.map((q) => `${q.kind} ${q.handle}`)).to.deep.equal(["htb 1:"]);
    });
    it("a device that is gone: nothing to do", async () => {
      const { ctx } = kernel();
      await createNetemBackend({ tcVersion: TC_61 }).clear(ctx, "wan", "gone", "egress");
    });
  });

  describe("harvest", () => {
    it("reads the drops of vpnlab's netem (root, prio band, or the IFB's)", async () => {
      const { k, ctx } = kernel();
      const b = createNetemBackend({ tcVersion: TC_61 });
      const f: Fault = { impairment: { loss: { kind: "random", percent: 10 } }, match: { proto: "udp" } };
      await b.apply(ctx, "wan", "edge", f);
      const q = k.qdiscs.get("wan/edge")?.find((x) => x.handle === "564d:");
      if (q) q.drops = 17;
      expect(await b.harvest(ctx, "wan", "edge", f, undefined)).to.deep.equal({ packets: 17, bytes: 0 });
      expect(await b.harvest(ctx, "wan", "edge", f, "netem")).to.equal(undefined);
      expect(await b.harvest(ctx, "wan", "edge", { ...f, direction: "ingress" }, undefined)).to.equal(undefined);
    });
    it("netemDropsByHandle picks the handle asked for", () => {
      const s = '[{"kind":"prio","handle":"564c:","root":true,"options":{},"drops":1},{"kind":"netem","handle":"564d:","parent":"564c:2","options":{},"drops":5}]';
      expect(netemDropsByHandle(s, "564d:")).to.deep.equal({ packets: 5, bytes: 0 });
      expect(netemDropsByHandle(s, "564c:")).to.equal(undefined);
    });
  });
});
