// The wire on real traffic, in throwaway namespaces x — r — y: what a fault
// configures is what the datagrams measure (loss, delay, duplicates, reorder,
// rate), the same seed drops the same packets, matches and directions hit
// what they name, and a clear leaves nothing behind.
import { expect } from "chai";
import * as fs from "node:fs";
import { run } from "../../../exec";
import { processStart } from "../../../runtime/state";
import type { Fault } from "../../fault";
import { isRoot, netnsExec } from "../../testkit";
import { waitEvent, type Netns } from "../../../testkit/netns";
import { ETHERNET_HEADER } from "./engine";
import { wireBackend, wireStats } from "./index";
import { wireNames, type WireState } from "./plan";
import { createChain, tcpGoodput, udpRun, wireLeftovers, type Chain } from "./testkit";

const within = (got: number, want: number, tol: number): boolean => Math.abs(got - want) <= tol;

describe("impair/backends/wire (root, namespaces)", function () {
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
    const nums = `loss ${m.lossPercent.toFixed(2)}%, duplicate ${m.duplicatePercent.toFixed(2)}%, median delay ${m.medianDelayMs.toFixed(2)} ms (p10/p50/p90 ${[0.1, 0.5, 0.9].map((q) => d[Math.floor(q * (d.length - 1))].toFixed(2)).join("/")}); wire ${JSON.stringify({ ...s, dropList: s?.dropList.length })}`;
    expect(within(m.lossPercent, 10, 3), nums).to.equal(true);
    expect(within(m.duplicatePercent, 10 * 0.9, 3), nums).to.equal(true); // a lost packet is never duplicated (netem)
    expect(within(m.medianDelayMs, 100, 10), nums).to.equal(true);
    expect(s?.seen, nums).to.equal(2000);
    expect(s?.dropped, nums).to.equal(m.missing.length);
    await clearAndCheck(c.r.name, "ry", "egress");
  });

  it("a clear under traffic ends the fault, not the packets it holds: what was queued behind a 200 ms delay is still delivered", async () => {
    await apply(c.r.name, "ry", { impairment: { delayMs: 200 }, seed: 5 });
    // 600 datagrams over ~1.2 s; the clear lands in the middle, with ~100 of them queued in the wire
    const running = udpRun(netnsExec, c.x.name, c.y.name, c.ipY, 600, { gapMs: 2 });
    // the sender takes a while to start: clear once the wire has seen a third of them
    let queued = 0;
    for (let i = 0; i < 200; i++) {
      const st = await wireStats(c.dir, c.r.name, "ry");
      queued = st?.queued ?? 0;
      if ((st?.seen ?? 0) >= 200) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    await clearAndCheck(c.r.name, "ry", "egress");
    const m = await running;
    const slow = m.arrivals.filter((a) => a[1] > 150).length;
    const nums = `queued at the clear ${queued}, lost ${m.missing.length} (${JSON.stringify(m.missing.slice(0, 20))}), delayed arrivals ${slow}, undelayed ${m.arrivals.length - slow}`;
    expect(queued, nums).to.be.greaterThan(20);
    expect(slow, nums).to.be.greaterThan(queued - 1);
    expect(m.missing, nums).to.deep.equal([]);
  });

  it("ingress, delivered locally on a host (forwarding off): loss as configured; clear restores its sysctls", async () => {
    const before = (await c.y.exec(["sysctl", "-n", "net.ipv4.conf.y.forwarding"])).stdout.trim();
    await apply(c.y.name, "y", { impairment: { loss: { kind: "random", percent: 20 } }, direction: "ingress", seed: 3 });
    const m = await udpRun(netnsExec, c.x.name, c.y.name, c.ipY, 2000);
    const s = await wireStats(c.dir, c.y.name, "y", "ingress");
    const nums = `loss ${m.lossPercent.toFixed(2)}%; wire ${JSON.stringify({ ...s, dropList: s?.dropList.length })}`;
    expect(within(m.lossPercent, 20, 3), nums).to.equal(true);
    expect(s?.dropped, nums).to.equal(m.missing.length);
    await clearAndCheck(c.y.name, "y", "ingress");
    expect((await c.y.exec(["sysctl", "-n", "net.ipv4.conf.y.forwarding"])).stdout.trim(), "y's forwarding after clear").to.equal(before);
  });

  it("egress, sent by the node itself, and ingress, forwarded: each measured on its own path", async () => {
    await apply(c.r.name, "ry", { impairment: { delayMs: 100 } });
    const local = await udpRun(netnsExec, c.r.name, c.y.name, c.ipY, 500, { gapMs: 2 });
    expect(within(local.medianDelayMs, 100, 10), `r → y median one-way ${local.medianDelayMs.toFixed(2)} ms, loss ${local.lossPercent}%`).to.equal(true);
    await clearAndCheck(c.r.name, "ry", "egress");
    await apply(c.r.name, "rx", { impairment: { delayMs: 100 }, direction: "ingress" });
    const fwd = await udpRun(netnsExec, c.x.name, c.y.name, c.ipY, 500, { gapMs: 2 });
    expect(within(fwd.medianDelayMs, 100, 10), `x → y (ingress on r's rx) median one-way ${fwd.medianDelayMs.toFixed(2)} ms, loss ${fwd.lossPercent}%`).to.equal(true);
    // the other way is not on rx's ingress: no delay
    const back = await udpRun(netnsExec, c.y.name, c.x.name, c.ipX, 300, { gapMs: 2 });
    expect(back.medianDelayMs, `y → x median one-way ${back.medianDelayMs.toFixed(2)} ms`).to.be.below(20);
    await clearAndCheck(c.r.name, "rx", "ingress");
  });

  it("the same seed drops the same datagrams on two runs; another seed others", async () => {
    const port = 41000;
    const match = { proto: "udp" as const, dport: port };
    const pattern = async (seed: number): Promise<number[]> => {
      await apply(c.r.name, "ry", { impairment: { loss: { kind: "random", percent: 30 } }, match, seed });
      const m = await udpRun(netnsExec, c.x.name, c.y.name, c.ipY, 400, { port });
      await clearAndCheck(c.r.name, "ry", "egress");
      return m.missing;
    };
    const a = await pattern(1234);
    const b = await pattern(1234);
    const other = await pattern(1235);
    expect(b, `seed 1234: run 1 lost ${a.length} (${a.slice(0, 10).join(",")}…), run 2 lost ${b.length} (${b.slice(0, 10).join(",")}…)`).to.deep.equal(a);
    expect(within((100 * a.length) / 400, 30, 8), `seed 1234 lost ${a.length} of 400`).to.equal(true);
    expect(other, `seed 1235 lost ${other.length} (${other.slice(0, 10).join(",")}…)`).to.not.deep.equal(a);
  });

  it("drops exactly the chosen datagrams of the matched flow, and nothing of another flow", async () => {
    const port = 41001;
    await apply(c.r.name, "ry", { impairment: { dropPackets: [5, 17] }, match: { proto: "udp", dport: port } });
    const other = await udpRun(netnsExec, c.x.name, c.y.name, c.ipY, 200, { port: port + 1 });
    const hit = await udpRun(netnsExec, c.x.name, c.y.name, c.ipY, 200, { port });
    expect(hit.missing, `matched flow lost ${JSON.stringify(hit.missing)}`).to.deep.equal([4, 16]);
    expect(other.missing, `other flow lost ${JSON.stringify(other.missing)}`).to.deep.equal([]);
    const s = await wireStats(c.dir, c.r.name, "ry");
    expect(s?.seen, JSON.stringify(s)).to.equal(200);
    await clearAndCheck(c.r.name, "ry", "egress");
  });

  it("reorder: its share goes at once, overtaking the delayed datagrams", async () => {
    await apply(c.r.name, "ry", { impairment: { delayMs: 30, reorder: 25 }, seed: 5 });
    const m = await udpRun(netnsExec, c.x.name, c.y.name, c.ipY, 2000, { gapMs: 2 });
    const early = (100 * m.arrivals.filter((a) => a[1] < 15).length) / m.arrivals.length;
    const nums = `sent at once ${early.toFixed(2)}%, out of order ${m.outOfOrderPercent.toFixed(2)}%, loss ${m.lossPercent}%`;
    expect(within(early, 25, 3), nums).to.equal(true);
    expect(m.outOfOrderPercent, nums).to.be.above(0);
    await clearAndCheck(c.r.name, "ry", "egress");
  });

  it("corrupt: the receiver's UDP checksum drops its share", async () => {
    await apply(c.r.name, "ry", { impairment: { corrupt: 30 }, seed: 8 });
    const m = await udpRun(netnsExec, c.x.name, c.y.name, c.ipY, 2000);
    const s = await wireStats(c.dir, c.r.name, "ry");
    const nums = `lost ${m.lossPercent.toFixed(2)}%, wire corrupted ${s?.corrupted} of ${s?.seen}`;
    expect(within(m.lossPercent, 30, 3), nums).to.equal(true);
    expect(s?.corrupted, nums).to.equal(m.missing.length);
    await clearAndCheck(c.r.name, "ry", "egress");
  });

  it("rate: TCP goodput through 2 mbit/s is the rate less the headers it counts (within 5 %)", async () => {
    await apply(c.r.name, "ry", { impairment: { rateKbit: 2000, limit: 100 } });
    const g = await tcpGoodput(netnsExec, c.x.name, c.y.name, c.ipY, 6000);
    const s = await wireStats(c.dir, c.r.name, "ry");
    // full-sized segments fill the device's MTU; the rate counts each with its Ethernet header, and the payload
    // is the MTU less IPv4 (20), TCP (20) and the timestamps option (12)
    const [link] = JSON.parse((await netnsExec.exec(c.r.name, ["ip", "-j", "link", "show", "dev", "ry"])).stdout) as { mtu: number }[];
    const frame = link.mtu + ETHERNET_HEADER;
    const payload = link.mtu - 20 - 20 - 12;
    const want = (2000 * payload) / frame;
    const nums = `goodput ${g.kbit.toFixed(0)} kbit/s over ${g.ms} ms (${g.bytes} bytes), the limit leaves ${want.toFixed(1)} kbit/s (${payload} of ${frame} B a frame); wire ${JSON.stringify({ ...s, dropList: s?.dropList.length })}`;
    expect(within(g.kbit, want, 0.05 * want), nums).to.equal(true);
    console.log(`        ${nums}`);
    await clearAndCheck(c.r.name, "ry", "egress");
  });

  it("outlives the process that started it: another process reads, reconfigures and clears it", async () => {
    // what `vpnlab impair` then `vpnlab heal` do: the first process applies and exits
    const script = `
      const { wireBackend } = require(${JSON.stringify(require.resolve("./index"))});
      const { namespaceContext } = require(${JSON.stringify(require.resolve("./testkit"))});
      wireBackend.apply(namespaceContext(process.argv[1]), process.argv[2], "ry", { impairment: { delayMs: 100 } })
        .then((r) => process.stdout.write(r.detail + "\\n"), (e) => { process.stderr.write(String(e.stack) + "\\n"); process.exit(1); });
    `;
    const t0 = Date.now();
    const r = await run([process.execPath, "-e", script, c.dir, c.r.name], { timeoutMs: 30_000 });
    expect(r.stdout, r.stderr).to.match(/seed \d+/);
    expect(Date.now() - t0, "the starting process exits once the wire is set").to.be.below(15_000);
    const state = JSON.parse(fs.readFileSync(wireNames(c.dir, c.r.name, "ry").stateFile, "utf8")) as WireState;
    expect(processStart(state.hostPid!), "the wire runs on after its starter exited").to.not.equal(undefined);
    const m = await udpRun(netnsExec, c.x.name, c.y.name, c.ipY, 300, { gapMs: 2 });
    // the median: a sender or receiver the busy host held up now and then moves the mean, not the wire's delay
    expect(within(m.medianDelayMs, 100, 10), `median one-way ${m.medianDelayMs.toFixed(2)} ms (mean ${m.meanDelayMs.toFixed(2)})`).to.equal(true);
    // reconfigured in place: the same process, the new delay
    await apply(c.r.name, "ry", { impairment: { delayMs: 40 } });
    const again = JSON.parse(fs.readFileSync(wireNames(c.dir, c.r.name, "ry").stateFile, "utf8")) as WireState;
    expect(again.hostPid).to.equal(state.hostPid);
    const m2 = await udpRun(netnsExec, c.x.name, c.y.name, c.ipY, 300, { gapMs: 2 });
    expect(within(m2.medianDelayMs, 40, 4), `after the change to 40 ms: median one-way ${m2.medianDelayMs.toFixed(2)} ms (mean ${m2.meanDelayMs.toFixed(2)})`).to.equal(true);
    await clearAndCheck(c.r.name, "ry", "egress");
    expect(processStart(state.hostPid!), `wire ${state.hostPid} after clear`).to.equal(undefined);
  });

  it("an unseeded fault reports the seed it drew, and that seed replays its drops", async () => {
    const port = 41002;
    const match = { proto: "udp" as const, dport: port };
    const applied = await wireBackend.apply(c.ctx, c.r.name, "ry", { impairment: { loss: { kind: "random", percent: 25 } }, match });
    const first = await udpRun(netnsExec, c.x.name, c.y.name, c.ipY, 300, { port });
    await clearAndCheck(c.r.name, "ry", "egress");
    // a field of the result (the record's and Allure's seed), the same as the detail line says
    const seed = applied.seed as number;
    expect(Number.isInteger(seed), JSON.stringify(applied)).to.equal(true);
    expect(applied.detail, JSON.stringify(applied)).to.contain(`seed ${seed}`);
    await apply(c.r.name, "ry", { impairment: { loss: { kind: "random", percent: 25 } }, match, seed });
    const replay = await udpRun(netnsExec, c.x.name, c.y.name, c.ipY, 300, { port });
    await clearAndCheck(c.r.name, "ry", "egress");
    expect(replay.missing, `drew seed ${seed}: lost ${first.missing.length}, replay lost ${replay.missing.length}`).to.deep.equal(first.missing);
  });

  it("two ingress wires on one node: the local rule stays behind them until the last is cleared", async () => {
    await apply(c.r.name, "rx", { impairment: { delayMs: 10 }, direction: "ingress" });
    await apply(c.r.name, "ry", { impairment: { delayMs: 10 }, direction: "ingress" });
    await wireBackend.clear(c.ctx, c.r.name, "rx", "ingress");
    const rules = JSON.parse((await c.r.exec(["ip", "-j", "-4", "rule", "show"])).stdout) as { priority: number; table: string }[];
    expect(rules.some((r) => r.table === "local" && r.priority === 0), JSON.stringify(rules)).to.equal(false);
    const m = await udpRun(netnsExec, c.y.name, c.r.name, c.ipRY, 200, { gapMs: 2 });
    expect(within(m.medianDelayMs, 10, 3), `y → r (local, ingress on ry): median one-way ${m.medianDelayMs.toFixed(2)} ms, loss ${m.lossPercent}%`).to.equal(true);
    await clearAndCheck(c.r.name, "ry", "ingress");
  });

  it("Gilbert-Elliott loss: its stationary rate, in bursts", async () => {
    await apply(c.r.name, "ry", { impairment: { loss: { kind: "gemodel", p: 5, r: 50 } }, seed: 21 });
    const m = await udpRun(netnsExec, c.x.name, c.y.name, c.ipY, 2000);
    const runs = m.missing.filter((v, i) => i > 0 && m.missing[i - 1] === v - 1).length;
    const nums = `loss ${m.lossPercent.toFixed(2)}% (stationary ${((100 * 5) / 55).toFixed(2)}%), ${runs} of ${m.missing.length} losses follow a loss`;
    expect(within(m.lossPercent, (100 * 5) / 55, 3), nums).to.equal(true);
    // independent loss at that rate would have ~9% of its losses follow a loss; the bad state holds 2 packets on average
    expect(runs / m.missing.length, nums).to.be.above(0.3);
    await clearAndCheck(c.r.name, "ry", "egress");
  });

  it("rate with a short queue: what exceeds the limit is dropped and counted", async () => {
    await apply(c.r.name, "ry", { impairment: { rateKbit: 1000, limit: 20 } });
    // 1000-byte datagrams at about one per ms: ~8 mbit/s offered to a 1 mbit/s wire
    const m = await udpRun(netnsExec, c.x.name, c.y.name, c.ipY, 1000, { size: 972 });
    const s = await wireStats(c.dir, c.r.name, "ry");
    const nums = `lost ${m.missing.length} of 1000; wire ${JSON.stringify({ ...s, dropList: s?.dropList.length })}`;
    expect(s?.rateDropped, nums).to.equal(m.missing.length);
    expect(s?.dropped, nums).to.equal(m.missing.length);
    expect(m.missing.length, nums).to.be.above(300);
    await clearAndCheck(c.r.name, "ry", "egress");
  });

  it("a failed apply leaves no half wire: no program, TUN, table or rule", async () => {
    const err = await wireBackend.apply(c.ctx, c.r.name, "nosuch", { impairment: { delayMs: 10 }, direction: "ingress" }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message, "apply on a device the node does not have").to.match(/nosuch/);
    const left = await wireLeftovers(c.r);
    expect(left, left.join("; ")).to.deep.equal([]);
    expect(await wireStats(c.dir, c.r.name, "nosuch", "ingress")).to.equal(undefined);
  });

  const pidOf = (dev: string, direction: Fault["direction"] = "egress"): number | undefined =>
    (JSON.parse(fs.readFileSync(wireNames(c.dir, c.r.name, dev, direction).stateFile, "utf8")) as WireState).hostPid;

  it("a clear with keep ends the fault but keeps the program: the next apply is the same process, only set + steering", async () => {
    await apply(c.r.name, "ry", { impairment: { delayMs: 80 } });
    const pid = pidOf("ry");
    await wireBackend.clear(c.ctx, c.r.name, "ry", "egress", { keep: true });
    const tables = (await c.r.exec(["nft", "list", "tables"])).stdout;
    const off = await udpRun(netnsExec, c.x.name, c.y.name, c.ipY, 200, { gapMs: 2 });
    const t0 = Date.now();
    await apply(c.r.name, "ry", { impairment: { delayMs: 40 } });
    const reapplyMs = Date.now() - t0;
    const on = await udpRun(netnsExec, c.x.name, c.y.name, c.ipY, 200, { gapMs: 2 });
    const nums = `kept pid ${pid} → ${pidOf("ry")}; after the keep clear: median ${off.medianDelayMs.toFixed(2)} ms, tables ${JSON.stringify(tables)}; re-apply took ${reapplyMs} ms, then median ${on.medianDelayMs.toFixed(2)} ms`;
    expect(pid !== undefined && processStart(pid) !== undefined, nums).to.equal(true);
    expect(pidOf("ry"), nums).to.equal(pid);
    expect(tables, nums).to.not.contain(wireNames(c.dir, c.r.name, "ry").table);
    expect(off.medianDelayMs, nums).to.be.below(20);
    expect(within(on.medianDelayMs, 40, 5), nums).to.equal(true);
    await clearAndCheck(c.r.name, "ry", "egress");
    expect(processStart(pid!), nums).to.equal(undefined);
  });

  it("the TUNs get the device's MTU", async () => {
    await c.r.exec(["ip", "link", "set", "dev", "ry", "mtu", "1400"]);
    try {
      await apply(c.r.name, "ry", { impairment: { delayMs: 5 } });
      const n = wireNames(c.dir, c.r.name, "ry");
      const mtus = await Promise.all([n.tunA, n.tunB].map(async (t) => (JSON.parse((await c.r.exec(["ip", "-j", "link", "show", "dev", t])).stdout) as { mtu: number }[])[0].mtu));
      expect(mtus, `TUN MTUs with ry at 1400`).to.deep.equal([1400, 1400]);
      await clearAndCheck(c.r.name, "ry", "egress");
    } finally {
      await c.r.exec(["ip", "link", "set", "dev", "ry", "mtu", "1500"]);
    }
  });

  it("ingress and egress wires on one node (in on rx, out on ry): a packet goes through both, each fault measured, whichever went first", async () => {
    const ingress = (): Promise<string> => apply(c.r.name, "rx", { impairment: { delayMs: 30 }, direction: "ingress", seed: 1 });
    const egress = (): Promise<string> => apply(c.r.name, "ry", { impairment: { delayMs: 50, loss: { kind: "random", percent: 10 } }, seed: 2 });
    for (const order of ["ingress first", "egress first"]) {
      // the chains' order in the kernel follows the order the tables were loaded in
      if (order === "ingress first") await ingress().then(egress);
      else await egress().then(ingress);
      try {
        const m = await udpRun(netnsExec, c.x.name, c.y.name, c.ipY, 1000, { gapMs: 2 });
        const si = await wireStats(c.dir, c.r.name, "rx", "ingress");
        const se = await wireStats(c.dir, c.r.name, "ry", "egress");
        const nums = `${order}: x → y median ${m.medianDelayMs.toFixed(2)} ms (mean ${m.meanDelayMs.toFixed(2)}), loss ${m.lossPercent.toFixed(2)}%; ingress wire seen ${si?.seen} dropped ${si?.dropped}; egress wire seen ${se?.seen} dropped ${se?.dropped}`;
        expect(si?.seen, nums).to.equal(1000);
        expect(se?.seen, nums).to.equal(1000);
        expect(se?.dropped, nums).to.equal(m.missing.length);
        expect(within(m.lossPercent, 10, 3), nums).to.equal(true);
        expect(within(m.medianDelayMs, 80, 8), nums).to.equal(true);
      } finally {
        // whatever the numbers said: a wire left here would fail every later test of the file
        await wireBackend.clear(c.ctx, c.r.name, "rx", "ingress");
        await clearAndCheck(c.r.name, "ry", "egress");
      }
    }
  });

  it("never steers TTL-1 packets for the node (ingress: the hop into TUN A would drop them) nor broadcasts (egress): both still arrive", async () => {
    const port = 41003;
    // y listens on every address; r broadcasts on ry's subnet
    // counts from its bind (it says "ready") until its stdin closes, once the sender is done, plus 300 ms for the wire's 10 ms delay
    const RECV = `const s=require("node:dgram").createSocket("udp4");let n=0;s.on("message",()=>n++);s.bind(${port},()=>process.stdout.write(JSON.stringify({event:"ready"})+"\\n"));process.stdin.resume();process.stdin.on("end",()=>setTimeout(()=>{process.stdout.write(JSON.stringify({event:"count",n})+"\\n");process.exit(0)},300));`;
    const SEND = (ip: string, opts: string) =>
      `const s=require("node:dgram").createSocket("udp4");s.bind(0,()=>{${opts};let i=0;const t=setInterval(()=>{s.send("x",${port},"${ip}");if(++i===20){clearInterval(t);setTimeout(()=>process.exit(0),100)}},20)});setTimeout(()=>{},0);`;
    const count = async (to: Netns, from: string, ip: string, opts: string): Promise<number> => {
      // the sender starts once the receiver is bound (not after a guessed while): a slow start loses nothing
      const { child } = await to.node(RECV);
      const counted = waitEvent(child, "count", 20_000);
      await netnsExec.exec(from, [process.execPath, "-e", SEND(ip, opts)], { timeoutMs: 20_000 });
      child.stdin?.end();
      return Number((await counted).n);
    };
    await apply(c.r.name, "ry", { impairment: { delayMs: 10 } });
    const bcast = await count(c.y, c.r.name, "10.201.2.255", "s.setBroadcast(true)");
    await clearAndCheck(c.r.name, "ry", "egress");
    await apply(c.r.name, "rx", { impairment: { delayMs: 10 }, direction: "ingress" });
    const ttl1 = await count(c.r, c.x.name, c.ipRX, "s.setTTL(1)");
    await clearAndCheck(c.r.name, "rx", "ingress");
    expect([bcast, ttl1], `of 20 each: broadcasts from r through its egress wire ${bcast}, TTL-1 datagrams x → r through r's ingress wire ${ttl1}`).to.deep.equal([20, 20]);
  });

  it("two devices whose names' hashes collide: the second wire is refused, the first keeps working", async () => {
    // two device names with the same fwmark/table number
    const seen = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; !pair; i++) {
      const dev = `vd${i}`;
      const mark = wireNames(c.dir, c.r.name, dev).mark;
      const other = seen.get(mark);
      if (other) pair = [other, dev];
      seen.set(mark, dev);
    }
    // the two ends of one veth pair in r (no dummy module here)
    await c.r.exec(["ip", "link", "add", pair[0], "type", "veth", "peer", "name", pair[1]]);
    try {
      for (const d of pair) await c.r.exec(["ip", "link", "set", "dev", d, "up"]);
      await apply(c.r.name, pair[0], { impairment: { delayMs: 10 } });
      const err = await wireBackend.apply(c.ctx, c.r.name, pair[1], { impairment: { delayMs: 10 } }).then(
        () => undefined,
        (e: Error) => e,
      );
      const route = (await c.r.exec(["ip", "route", "show", "table", String(wireNames(c.dir, c.r.name, pair[0]).mark)])).stdout.trim();
      const nums = `${pair.join(" and ")} share mark ${wireNames(c.dir, c.r.name, pair[0]).mark}: second apply ${err ? err.message : "accepted"}; table: ${route}`;
      expect(err?.message, nums).to.match(/collide/);
      expect(route, nums).to.contain(wireNames(c.dir, c.r.name, pair[0]).tunA);
      expect(await wireStats(c.dir, c.r.name, pair[0]), nums).to.not.equal(undefined);
      await clearAndCheck(c.r.name, pair[0], "egress");
    } finally {
      await c.r.exec(["ip", "link", "del", pair[0]]).catch(() => undefined);
    }
  });

  it("two ingress wires on one node: cleared together, no error; the node's rp_filter stays off until the last goes", async () => {
    const rp = async (): Promise<string> => (await c.r.exec(["sysctl", "-n", "net.ipv4.conf.all.rp_filter"])).stdout.trim();
    const before = await rp();
    await c.r.exec(["sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=1"]);
    try {
      await apply(c.r.name, "rx", { impairment: { delayMs: 10 }, direction: "ingress" });
      await apply(c.r.name, "ry", { impairment: { delayMs: 10 }, direction: "ingress" });
      await wireBackend.clear(c.ctx, c.r.name, "rx", "ingress");
      const whileRy = await rp();
      await wireBackend.clear(c.ctx, c.r.name, "ry", "ingress");
      const after = await rp();
      expect([whileRy, after], `all.rp_filter with ry's wire left, then after both`).to.deep.equal(["0", "1"]);
      // cleared in parallel (as clearAll does)
      await apply(c.r.name, "rx", { impairment: { delayMs: 10 }, direction: "ingress" });
      await apply(c.r.name, "ry", { impairment: { delayMs: 10 }, direction: "ingress" });
      const results = await Promise.allSettled([wireBackend.clear(c.ctx, c.r.name, "rx", "ingress"), wireBackend.clear(c.ctx, c.r.name, "ry", "ingress")]);
      const left = await wireLeftovers(c.r);
      const nums = `parallel clears: ${results.map((r) => (r.status === "rejected" ? String(r.reason) : "ok")).join("; ")}; left ${left.join("; ")}; rp_filter ${await rp()}`;
      expect(results.map((r) => r.status), nums).to.deep.equal(["fulfilled", "fulfilled"]);
      expect(left, nums).to.deep.equal([]);
      expect(await rp(), nums).to.equal("1");
    } finally {
      await c.r.exec(["sysctl", "-q", "-w", `net.ipv4.conf.all.rp_filter=${before}`]);
    }
  });
});
