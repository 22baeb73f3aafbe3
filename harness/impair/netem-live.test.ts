// The netem backend on a real kernel: every kind of impairment it serves
// (delay with jitter, random and Gilbert-Elliott loss, duplicate, reorder,
// corrupt, rate), on egress, on ingress through the IFB and for a flow match
// through prio + u32, the read-back of vpnlab's handle, and a clear that
// leaves other people's qdiscs alone. Each test prints what it measured and
// holds it to bounds computed from what was asked (binomial: 4 standard
// deviations; delay: 10 %; rate: 5 % of the goodput the limit leaves).
// Needs the netem qdisc: where the kernel has none (this host, CI's host) the
// suite is skipped and says so; `npm run test:netem` runs it inside a VM on
// Debian's own kernel, where VPNLAB_NETEM_REQUIRED=1 turns any skip into a
// failure.
import { expect } from "chai";
import { forgetNetemProbe, probeNetem } from "./backend";
import { createNetemBackend } from "./backends/netem";
import type { BackendContext } from "./backends/types";
import type { Fault } from "./fault";
import { ifbName } from "./ifb";
import type { Impairment } from "./impairment";
import { netemReadbackMismatches, tcSeedUnsupportedReason } from "./netem";
import { INGRESS_PARENT, parseFilterJson, parseQdiscJson, tcFilterShowArgv, tcQdiscShowArgv, VPNLAB_FILTER_PREF, VPNLAB_NETEM_CHILD_HANDLE, VPNLAB_ROOT_HANDLE } from "./tc";
import { createNetnsPair, isRoot, measureUdpLoss, type NetnsPair } from "./testkit";
import { addFeeder, binomialBounds, delaysBetween, lossRuns, mean, quantile, sentAhead, snmpCounter, startCapture, stddev, udpStream, waitQdiscDrained } from "./udpmeter";

/** Delays (ms) of a stream's datagrams between two capture points, and what its receiver got. */
interface TimedStream {
  delays: number[];
  received: number;
  receiverDropped: number;
}

/** A stream of COUNT (default 300) datagrams, one every ~5 ms, timed by tcpdump in CAPTURE between BEFORE and AFTER. */
async function timedStream(
  p: NetnsPair,
  o: { capture: string; port: number; from?: string; drained: () => Promise<void>; count?: number },
  before: { dev: string; dir: string },
  after: { dev: string; dir?: string },
): Promise<TimedStream> {
  const cap = await startCapture(o.capture, o.port);
  const s = await udpStream(p, { count: o.count ?? 300, port: o.port, perTick: 1, tickMs: 5, drained: o.drained, ...(o.from ? { from: o.from } : {}) }).catch(async (e: unknown) => {
    await cap.stop().catch(() => undefined);
    throw e;
  });
  const seen = await cap.stop();
  return { delays: [...delaysBetween(seen, before, after).values()], received: new Set(s.arrivals.map((a) => a.seq)).size, receiverDropped: s.receiverDropped };
}

const f1 = (n: number): string => n.toFixed(1);
const f2 = (n: number): string => n.toFixed(2);
const say = (line: string): void => console.log(`        ${line}`);
const REQUIRED = process.env.VPNLAB_NETEM_REQUIRED === "1";

/** Skip with REASON on a host that may lack netem; inside the netem VM a missing piece is a failure. */
function skipOrFail(ctx: Mocha.Context, reason: string): never {
  if (REQUIRED) throw new Error(`VPNLAB_NETEM_REQUIRED=1 and ${reason}`);
  say(`skipped: ${reason}`);
  return ctx.skip();
}

describe("impair/netem on a real kernel (root; veth a <-> b, UDP from a to b)", function () {
  let pair: NetnsPair | undefined;
  const backend = createNetemBackend();
  let ctx: BackendContext | undefined;

  before(async function () {
    if (!isRoot()) skipOrFail(this, "needs root (network namespaces)");
    pair = await createNetnsPair();
    ctx = { exec: pair.exec };
    forgetNetemProbe(pair.exec);
    const probe = await probeNetem(pair.exec, pair.a, pair.devA);
    if (!probe.available) {
      skipOrFail(this, `${probe.reason ?? "the kernel has no netem qdisc"} — \`npm run test:netem\` runs this suite on Debian's kernel in a VM`);
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
  /** NODE/DEV's qdiscs now ("kind handle"). */
  const qdiscsOf = async (node: string, dev: string): Promise<string[]> =>
    parseQdiscJson((await ready().p.exec.exec(node, tcQdiscShowArgv(dev))).stdout).map((q) => `${q.kind} ${q.handle}`);
  const drainedA = (): Promise<void> => waitQdiscDrained(ready().p.exec, ready().p.a, ready().p.devA);

  it("30% random loss on a's egress: within 4 sd of 30% of 3000, netem's drop counter = datagrams lost", async () => {
    const { p, c } = ready();
    const n = 3000;
    const f: Fault = { impairment: { loss: { kind: "random", percent: 30 } } };
    await backend.apply(c, p.a, p.devA, f);
    const s = await udpStream(p, { count: n, perTick: 5, tickMs: 2, drained: drainedA });
    const drops = await backend.harvest(c, p.a, p.devA, f, undefined);
    await backend.clear(c, p.a, p.devA, "egress");
    const lost = n - new Set(s.arrivals.map((x) => x.seq)).size;
    const [lo, hi] = binomialBounds(n, 0.3);
    const what = `egress loss 30%: sent ${n}, lost ${lost} = ${f2((100 * lost) / n)}% (bounds ${f1(lo)}..${f1(hi)}); netem dropped ${drops?.packets}; receiver dropped ${s.receiverDropped}`;
    say(what);
    expect(s.receiverDropped, `${what}: the receiver fell behind (its socket buffer overflowed), not a measurement of netem`).to.equal(0);
    expect(lost, what).to.be.within(lo, hi);
    expect(drops?.packets, what).to.equal(lost);
    expect(await qdiscsOf(p.a, p.devA), "vpnlab's root is gone").to.not.include(`netem ${VPNLAB_ROOT_HANDLE}`);
  });

  it("30% random loss on b's ingress (through vli-b): within 4 sd of 30% of 3000, the IFB's netem counts them; clear removes the IFB", async () => {
    const { p, c } = ready();
    const n = 3000;
    const f: Fault = { impairment: { loss: { kind: "random", percent: 30 } }, direction: "ingress" };
    await backend.apply(c, p.b, p.devB, f);
    const s = await udpStream(p, { count: n, perTick: 5, tickMs: 2, drained: () => waitQdiscDrained(p.exec, p.b, ifbName(p.devB)) });
    const drops = await backend.harvest(c, p.b, p.devB, f, undefined);
    await backend.clear(c, p.b, p.devB, "ingress");
    const lost = n - new Set(s.arrivals.map((x) => x.seq)).size;
    const [lo, hi] = binomialBounds(n, 0.3);
    const what = `ingress loss 30% (IFB ${ifbName(p.devB)}): sent ${n}, lost ${lost} = ${f2((100 * lost) / n)}% (bounds ${f1(lo)}..${f1(hi)}); the IFB's netem dropped ${drops?.packets}; receiver dropped ${s.receiverDropped}`;
    say(what);
    expect(s.receiverDropped, `${what}: the receiver fell behind (its socket buffer overflowed), not a measurement of netem`).to.equal(0);
    expect(lost, what).to.be.within(lo, hi);
    expect(drops?.packets, what).to.equal(lost);
    const link = await p.exec.exec(p.b, ["ip", "link", "show", "dev", ifbName(p.devB)], { allowFailure: true });
    expect(link.code, "the IFB is gone").to.not.equal(0);
    expect(await qdiscsOf(p.b, p.devB), "b's ingress qdisc is gone").to.not.include(`ingress ${INGRESS_PARENT}`);
  });

  /**
   * Delay 100ms, then delay 100ms jitter 10ms, timed per datagram on the kernel's clock between
   * two capture points around the netem; asserts and prints what it measured.
   */
  const delayAndJitter = async (where: string, serve: (imp: Impairment, port: number) => Promise<TimedStream>): Promise<void> => {
    const n = 300;
    const fixed = await serve({ delayMs: 100 }, 41240);
    const jittered = await serve({ delayMs: 100, jitterMs: 10 }, 41241);
    // What the VM's own timers add (a netem timer fires late, never early) is the fixed delay's
    // excess; uniform ±10 ms jitter plus that excess predicts the jittered delays' distribution.
    // Kolmogorov-Smirnov distance to it, and to "no jitter" (the fixed delays themselves)
    const slack = fixed.delays.map((d) => d - 100);
    const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));
    const predicted = (x: number): number => mean(slack.map((e) => clamp01((x - 90 - e) / 20)));
    const noJitter = (x: number): number => fixed.delays.filter((d) => d <= x).length / fixed.delays.length;
    const ks = (sample: number[], cdf: (x: number) => number): number => {
      const sorted = [...sample].sort((x, y) => x - y);
      return Math.max(...sorted.map((x, i) => Math.max(Math.abs((i + 1) / sorted.length - cdf(x)), Math.abs(i / sorted.length - cdf(x - 1e-9)))));
    };
    const ksUniform = ks(jittered.delays, predicted);
    const ksNone = ks(jittered.delays, noJitter);
    const critical = 1.95 * Math.sqrt(2 / n); // two samples of n, p = 0.001
    const stats = (d: number[]): string =>
      `mean ${f2(mean(d))} ms, sd ${f2(stddev(d))}, min ${f2(Math.min(...d))}, p10 ${f2(quantile(d, 0.1))}, p50 ${f2(quantile(d, 0.5))}, p90 ${f2(quantile(d, 0.9))}, p99 ${f2(quantile(d, 0.99))}, max ${f2(Math.max(...d))}`;
    const what =
      `${where} delay 100ms: ${fixed.delays.length} of ${n} timed: ${stats(fixed.delays)}; ` +
      `delay 100ms jitter 10ms: ${jittered.delays.length} of ${n} timed: ${stats(jittered.delays)}; ` +
      `KS distance to uniform ±10 ms + the VM's timer lateness ${ksUniform.toFixed(3)}, to no jitter ${ksNone.toFixed(3)} (critical ${critical.toFixed(3)}); ` +
      `received ${fixed.received}/${jittered.received}, receiver dropped ${fixed.receiverDropped}/${jittered.receiverDropped}`;
    say(what);
    for (const r of [fixed, jittered]) {
      expect(r.receiverDropped, what).to.equal(0);
      expect(r.received, what).to.equal(n);
      expect(r.delays.length, what).to.equal(n);
    }
    // never early (the timestamps' own resolution aside); the added delay (median) within 10% of 100 ms
    expect(Math.min(...fixed.delays), what).to.be.at.least(100 - 0.5);
    expect(quantile(fixed.delays, 0.5), what).to.be.within(90, 110);
    expect(Math.min(...jittered.delays), what).to.be.at.least(90 - 0.5);
    expect(quantile(jittered.delays, 0.5), what).to.be.within(90, 110);
    // the jitter: distributed as uniform ±10 ms (plus the lateness), and not as no jitter at all
    expect(ksUniform, what).to.be.at.most(critical);
    expect(ksNone, what).to.be.above(critical);
  };

  it("delay 100ms on a's egress, per datagram on the kernel's timestamps (c -> a -> b): never early, median within 10%; with jitter 10ms: the spread of a uniform ±10 ms", async () => {
    const { p, c } = ready();
    const feeder = await addFeeder(p);
    try {
      await delayAndJitter("egress", async (imp, port) => {
        await backend.apply(c, p.a, p.devA, { impairment: imp });
        // arriving on ac from c (before a's egress qdisc) → leaving a (after its netem)
        const r = await timedStream(p, { capture: p.a, port, from: feeder.ns, drained: drainedA }, { dev: "ac", dir: "In" }, { dev: p.devA, dir: "Out" });
        await backend.clear(c, p.a, p.devA, "egress");
        return r;
      });
    } finally {
      await feeder.destroy();
    }
  });

  it("delay 100ms on b's ingress (through the IFB), per datagram on the kernel's timestamps: never early, median within 10%; with jitter 10ms: the spread of a uniform ±10 ms", async () => {
    const { p, c } = ready();
    const ifb = ifbName(p.devB);
    await delayAndJitter("ingress (IFB)", async (imp, port) => {
      await backend.apply(c, p.b, p.devB, { impairment: imp, direction: "ingress" });
      // arriving on b (before tc's ingress hook) → leaving the IFB (after its netem)
      const r = await timedStream(p, { capture: p.b, port, drained: () => waitQdiscDrained(p.exec, p.b, ifb) }, { dev: p.devB, dir: "In" }, { dev: ifb });
      await backend.clear(c, p.b, p.devB, "ingress");
      return r;
    });
  });

  it("Gilbert-Elliott loss (p 5%, r 20%): loss within 4 sd of 20% (Markov), mean burst within 4 sd of 5", async () => {
    const { p, c } = ready();
    const n = 6000;
    const f: Fault = { impairment: { loss: { kind: "gemodel", p: 5, r: 20 } } };
    await backend.apply(c, p.a, p.devA, f);
    const s = await udpStream(p, { count: n, perTick: 5, tickMs: 2, drained: drainedA });
    const drops = await backend.harvest(c, p.a, p.devA, f, undefined);
    await backend.clear(c, p.a, p.devA, "egress");
    const got = new Set(s.arrivals.map((a) => a.seq));
    const lost = n - got.size;
    const runs = lossRuns(n, got);
    // stationary loss p/(p+r); a Markov chain's count varies (1+λ)/(1-λ) times a binomial's, λ = 1-p-r
    const pi = 0.05 / 0.25;
    const lambda = 1 - 0.05 - 0.2;
    const sd = Math.sqrt(n * pi * (1 - pi) * ((1 + lambda) / (1 - lambda)));
    // bursts are geometric with mean 1/r: sd √(1-r)/r, over the bursts seen
    const burstMean = runs.length ? mean(runs) : 0;
    const burstSe = Math.sqrt(1 - 0.2) / 0.2 / Math.sqrt(Math.max(1, runs.length));
    const what = `GE p 5% r 20%: sent ${n}, lost ${lost} (${f1((100 * lost) / n)}%, bounds ${f1(n * pi - 4 * sd)}..${f1(n * pi + 4 * sd)}), netem dropped ${drops?.packets}; ${runs.length} bursts, mean ${f2(burstMean)} (5 ± ${f2(4 * burstSe)}), longest ${Math.max(0, ...runs)}`;
    say(what);
    expect(s.receiverDropped, `${what}; the receiver fell behind (its socket buffer overflowed): not a measurement of netem`).to.equal(0);
    expect(lost, what).to.be.within(n * pi - 4 * sd, n * pi + 4 * sd);
    expect(drops?.packets, what).to.equal(lost);
    expect(burstMean, what).to.be.within(5 - 4 * burstSe, 5 + 4 * burstSe);
  });

  it("10% duplicate on a's egress: duplicates within 4 sd of 10% of 3000, nothing lost", async () => {
    const { p, c } = ready();
    const n = 3000;
    await backend.apply(c, p.a, p.devA, { impairment: { duplicate: 10 } });
    const s = await udpStream(p, { count: n, perTick: 5, tickMs: 2, drained: drainedA });
    await backend.clear(c, p.a, p.devA, "egress");
    const unique = new Set(s.arrivals.map((a) => a.seq)).size;
    const dups = s.arrivals.length - unique;
    const [lo, hi] = binomialBounds(n, 0.1);
    const what = `duplicate 10%: sent ${n}, received ${s.arrivals.length} (${unique} distinct): ${dups} duplicates = ${f2((100 * dups) / n)}% (bounds ${f1(lo)}..${f1(hi)})`;
    say(what);
    expect(s.receiverDropped, `${what}; the receiver fell behind (its socket buffer overflowed): not a measurement of netem`).to.equal(0);
    expect(unique, what).to.equal(n);
    expect(dups, what).to.be.within(lo, hi);
  });

  it("25% reorder (delay 50ms) on a's egress: datagrams sent ahead within 4 sd of 25% of 2000, every one delivered", async () => {
    const { p, c } = ready();
    const n = 2000;
    await backend.apply(c, p.a, p.devA, { impairment: { delayMs: 50, reorder: 25 } });
    // one every ~1 ms: a datagram sent at once overtakes the delayed ones of the last 50 ms
    const s = await udpStream(p, { count: n, perTick: 1, tickMs: 1, drained: drainedA });
    await backend.clear(c, p.a, p.devA, "egress");
    const ahead = sentAhead(s.arrivals);
    const unique = new Set(s.arrivals.map((a) => a.seq)).size;
    const [lo, hi] = binomialBounds(n, 0.25);
    const what = `reorder 25%: sent ${n}, received ${unique}; ${ahead} arrived before an earlier one = ${f2((100 * ahead) / n)}% (bounds ${f1(lo)}..${f1(hi)})`;
    say(what);
    expect(s.receiverDropped, `${what}; the receiver fell behind (its socket buffer overflowed): not a measurement of netem`).to.equal(0);
    expect(unique, what).to.equal(n);
    expect(ahead, what).to.be.within(lo, hi);
  });

  it("20% corrupt on a's egress: datagrams damaged (dropped for a bad checksum, or changed) within 4 sd of what a flipped bit breaks", async () => {
    const { p, c } = ready();
    const n = 3000;
    const size = 86;
    const snmp = async (): Promise<{ udpCsum: number; ipHdr: number }> => ({
      udpCsum: await snmpCounter(p.exec, p.b, "Udp", "InCsumErrors"),
      ipHdr: (await snmpCounter(p.exec, p.b, "Ip", "InHdrErrors")) + (await snmpCounter(p.exec, p.b, "Ip", "InAddrErrors")),
    });
    const before = await snmp();
    await backend.apply(c, p.a, p.devA, { impairment: { corrupt: 20 } });
    const s = await udpStream(p, { count: n, size, perTick: 5, tickMs: 2, drained: drainedA });
    await backend.clear(c, p.a, p.devA, "egress");
    const after = await snmp();
    const intact = new Set(s.arrivals.filter((a) => a.intact).map((a) => a.seq)).size;
    const changed = s.arrivals.filter((a) => !a.intact).length + s.garbled;
    const damaged = n - intact;
    // netem flips one random bit of the frame (Ethernet 14 + IP 20 + UDP 8 + payload). Flips in the
    // source MAC (6 bytes) and in the destination's group bit go unnoticed: everything else is caught
    // by the receiving side (not our MAC, IP or UDP checksum) or changes the payload
    const frame = 14 + 20 + 8 + size;
    const pDamage = 0.2 * (1 - (6 + 1 / 8) / frame);
    const [lo, hi] = binomialBounds(n, pDamage);
    const what =
      `corrupt 20%: sent ${n}, arrived intact ${intact}, damaged ${damaged} = ${f2((100 * damaged) / n)}% (expected ${f2(100 * pDamage)}%, bounds ${f1(lo)}..${f1(hi)}): ` +
      `${after.udpCsum - before.udpCsum} UDP checksum errors, ${after.ipHdr - before.ipHdr} IP header/address errors, ${changed} arrived changed`;
    say(what);
    expect(s.receiverDropped, `${what}; the receiver fell behind (its socket buffer overflowed): not a measurement of netem`).to.equal(0);
    expect(damaged, what).to.be.within(lo, hi);
    // corruption, not loss: the kernel saw most of them fail their checksums
    expect(after.udpCsum - before.udpCsum + after.ipHdr - before.ipHdr + changed, what).to.be.at.least(damaged / 2);
  });

  it("rate 1mbit on a's egress: goodput within 5% of what 1 Mbit/s leaves of 1000-byte datagrams (42 bytes of Ethernet, IP, UDP headers each)", async () => {
    const { p, c } = ready();
    const n = 300;
    const size = 1000;
    await backend.apply(c, p.a, p.devA, { impairment: { rateKbit: 1000 } });
    // sent faster than the limit (a burst every 2 ms): the queue never runs dry
    const s = await udpStream(p, { count: n, size, perTick: 20, tickMs: 2, drained: drainedA });
    await backend.clear(c, p.a, p.devA, "egress");
    const ts = s.arrivals.map((a) => a.tUs);
    const spanS = (Math.max(...ts) - Math.min(...ts)) / 1e6;
    const goodput = ((s.arrivals.length - 1) * size * 8) / spanS;
    const expected = (1_000_000 * size) / (size + 14 + 20 + 8);
    const what = `rate 1mbit: ${s.arrivals.length} of ${n} datagrams of ${size} bytes in ${f2(spanS)} s: goodput ${f1(goodput / 1000)} kbit/s, expected ${f1(expected / 1000)} kbit/s (${f2((100 * (goodput - expected)) / expected)}%)`;
    say(what);
    expect(s.receiverDropped, `${what}; the receiver fell behind (its socket buffer overflowed): not a measurement of netem`).to.equal(0);
    expect(s.arrivals.length, what).to.equal(n);
    expect(goodput, what).to.be.within(0.95 * expected, 1.05 * expected);
  });

  it("a flow match: 100% loss for one UDP port only (prio + u32 on a's egress), the other port loses nothing", async function () {
    const { p, c } = ready();
    const prio = await p.exec.exec(p.a, ["tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "prio"], { allowFailure: true });
    if (prio.code !== 0) skipOrFail(this, `the kernel has no prio qdisc (tc: ${prio.stderr.trim()})`);
    await p.exec.exec(p.a, ["tc", "qdisc", "del", "dev", "lo", "root"]);
    const fault: Fault = { impairment: { partition: true }, match: { proto: "udp", dport: 41234 } };
    await backend.apply(c, p.a, p.devA, fault);
    try {
      const hit = await udpStream(p, { count: 300, port: 41234, perTick: 5, tickMs: 2, drained: drainedA });
      const miss = await udpStream(p, { count: 300, port: 41235, perTick: 5, tickMs: 2, drained: drainedA });
      const drops = await backend.harvest(c, p.a, p.devA, fault, undefined);
      const what = `match partition: port 41234 sent ${hit.sent} (send errors ${hit.sendErrors}), received ${hit.arrivals.length}, netem dropped ${drops?.packets}; port 41235 sent ${miss.sent}, received ${miss.arrivals.length} (receiver dropped ${miss.receiverDropped})`;
      say(what);
      // the matched flow was really sent and really dropped by vpnlab's netem (not lost before it, not unsent)
      expect([hit.sent, hit.sendErrors], what).to.deep.equal([300, 0]);
      expect(hit.arrivals.length, what).to.equal(0);
      expect(drops?.packets, what).to.equal(300);
      expect(miss.receiverDropped, what).to.equal(0);
      expect(new Set(miss.arrivals.map((x) => x.seq)).size, what).to.equal(300);
    } finally {
      await backend.clear(c, p.a, p.devA, "egress");
    }
  });

  it("a flow match with delay 100ms (prio + u32 on a's egress), per datagram on the kernel's timestamps: the matched port's within 10% of 100 ms, the other port's not delayed at all", async () => {
    const { p, c } = ready();
    const feeder = await addFeeder(p);
    try {
      await backend.apply(c, p.a, p.devA, { impairment: { delayMs: 100 }, match: { proto: "udp", dport: 41236 } });
      const timed = (port: number): Promise<TimedStream> =>
        timedStream(p, { capture: p.a, port, from: feeder.ns, drained: drainedA, count: 200 }, { dev: "ac", dir: "In" }, { dev: p.devA, dir: "Out" });
      const hit = await timed(41236);
      const miss = await timed(41237);
      await backend.clear(c, p.a, p.devA, "egress");
      const stats = (d: number[]): string => `min ${f2(Math.min(...d))} ms, p50 ${f2(quantile(d, 0.5))}, p99 ${f2(quantile(d, 0.99))}, max ${f2(Math.max(...d))}`;
      const what = `match delay 100ms: port 41236 (matched) ${hit.delays.length} timed: ${stats(hit.delays)}; port 41237 ${miss.delays.length} timed: ${stats(miss.delays)}; received ${hit.received}/${miss.received}`;
      say(what);
      for (const r of [hit, miss]) {
        expect(r.receiverDropped, what).to.equal(0);
        expect(r.received, what).to.equal(200);
        expect(r.delays.length, what).to.equal(200);
      }
      expect(Math.min(...hit.delays), what).to.be.at.least(100 - 0.5);
      expect(quantile(hit.delays, 0.5), what).to.be.within(90, 110);
      // not delayed at all: forwarded through a in well under a millisecond, none held for the netem's 100 ms
      expect(quantile(miss.delays, 0.5), what).to.be.at.most(1);
      expect(Math.max(...miss.delays), what).to.be.below(90);
    } finally {
      await feeder.destroy();
    }
  });

  it("the read-back: what tc -j shows under vpnlab's handles (root, the prio's child, the IFB's root) is what was asked", async () => {
    const { p, c } = ready();
    const full: Impairment = {
      limit: 500,
      delayMs: 20,
      jitterMs: 5,
      delayCorrelation: 25,
      loss: { kind: "random", percent: 3, correlation: 10 },
      duplicate: 2,
      reorder: 5,
      reorderGap: 3,
      corrupt: 1,
      rateKbit: 5000,
    };
    const ge: Impairment = { loss: { kind: "gemodel", p: 1, r: 30, h: 10, k: 99 } };
    const state: Impairment = { loss: { kind: "state", p13: 2, p31: 80, p32: 5, p23: 40, p14: 1 } };
    const cases: [string, Fault, string, string, string][] = [
      ["everything", { impairment: full }, p.a, p.devA, VPNLAB_ROOT_HANDLE],
      ["gemodel", { impairment: ge }, p.a, p.devA, VPNLAB_ROOT_HANDLE],
      ["4-state", { impairment: state }, p.a, p.devA, VPNLAB_ROOT_HANDLE],
      ["flow match", { impairment: full, match: { proto: "udp", dport: 5000 } }, p.a, p.devA, VPNLAB_NETEM_CHILD_HANDLE],
      ["ingress", { impairment: ge, direction: "ingress" }, p.b, p.devB, VPNLAB_ROOT_HANDLE],
    ];
    for (const [name, f, node, dev, handle] of cases) {
      await backend.apply(c, node, dev, f);
      const on = f.direction === "ingress" ? ifbName(dev) : dev;
      const q = parseQdiscJson((await p.exec.exec(node, tcQdiscShowArgv(on))).stdout).find((x) => x.handle === handle);
      say(`${name}: ${node.slice(-1)}/${on} ${q?.kind} ${q?.handle} ${JSON.stringify(q?.options)}`);
      expect(q?.kind, name).to.equal("netem");
      expect(netemReadbackMismatches(f.impairment, q?.options ?? {}), name).to.deep.equal([]);
      await backend.clear(c, node, dev, f.direction ?? "egress");
    }
    expect(await qdiscsOf(p.a, p.devA)).to.not.include(`netem ${VPNLAB_ROOT_HANDLE}`);
  });

  it("a clear removes only what vpnlab installed: a foreign root is refused and stays, a foreign netem on lo and a foreign ingress filter stay", async () => {
    const { p, c } = ready();
    // somebody's root on a: vpnlab refuses to replace it and its clear leaves it
    await p.exec.exec(p.a, ["tc", "qdisc", "add", "dev", p.devA, "root", "handle", "1:", "pfifo", "limit", "100"]);
    let refused = "";
    await backend.apply(c, p.a, p.devA, { impairment: { delayMs: 10 } }).catch((e: Error) => (refused = e.message));
    await backend.clear(c, p.a, p.devA, "egress");
    const afterForeignRoot = await qdiscsOf(p.a, p.devA);
    say(`foreign root: apply refused (${refused}); after clear a has ${afterForeignRoot.join(", ")}`);
    expect(refused).to.match(/root qdisc vpnlab did not install \(pfifo 1:\)/);
    expect(afterForeignRoot).to.include("pfifo 1:");
    await p.exec.exec(p.a, ["tc", "qdisc", "del", "dev", p.devA, "root"]);

    // somebody's netem on a's lo, somebody's filter on b's ingress
    await p.exec.exec(p.a, ["tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "netem", "delay", "1ms"]);
    await p.exec.exec(p.b, ["tc", "qdisc", "add", "dev", p.devB, "ingress"]);
    await p.exec.exec(p.b, ["tc", "filter", "add", "dev", p.devB, "parent", INGRESS_PARENT, "pref", "10", "protocol", "ip", "u32", "match", "ip", "dport", "9", "0xffff", "action", "pass"]);
    await backend.apply(c, p.a, p.devA, { impairment: { delayMs: 10 } });
    await backend.apply(c, p.b, p.devB, { impairment: { delayMs: 10 }, direction: "ingress" });
    const filtersDuring = parseFilterJson((await p.exec.exec(p.b, tcFilterShowArgv(p.devB, INGRESS_PARENT))).stdout).map((f) => f.pref);
    await backend.clear(c, p.a, p.devA, "egress");
    await backend.clear(c, p.b, p.devB, "ingress");
    const loAfter = await qdiscsOf(p.a, "lo");
    const aAfter = await qdiscsOf(p.a, p.devA);
    const bAfter = await qdiscsOf(p.b, p.devB);
    const filtersAfter = parseFilterJson((await p.exec.exec(p.b, tcFilterShowArgv(p.devB, INGRESS_PARENT))).stdout).map((f) => f.pref);
    const ifb = await p.exec.exec(p.b, ["ip", "link", "show", "dev", ifbName(p.devB)], { allowFailure: true });
    say(`after clear: a/lo ${loAfter.join(", ")}; a/${p.devA} ${aAfter.join(", ")}; b/${p.devB} ${bAfter.join(", ")}, ingress filter prefs ${[...new Set(filtersAfter)].join(", ")} (during: ${[...new Set(filtersDuring)].join(", ")}); IFB ${ifb.code === 0 ? "still there" : "gone"}`);
    expect(filtersDuring, "vpnlab's filter was there beside the foreign one").to.include.members([10, VPNLAB_FILTER_PREF]);
    expect(loAfter).to.include("netem 1:");
    expect(aAfter).to.not.include(`netem ${VPNLAB_ROOT_HANDLE}`);
    expect(bAfter, "the ingress qdisc that still carries somebody's filter stays").to.include(`ingress ${INGRESS_PARENT}`);
    expect(filtersAfter).to.include(10);
    expect(filtersAfter).to.not.include(VPNLAB_FILTER_PREF);
    expect(ifb.code, "vpnlab's IFB is gone").to.not.equal(0);
    await p.exec.exec(p.a, ["tc", "qdisc", "del", "dev", "lo", "root"]);
    await p.exec.exec(p.b, ["tc", "qdisc", "del", "dev", p.devB, "ingress"]);
  });

  it("a seed: the same datagrams dropped twice where tc passes netem's seed (iproute2 ≥ 6.6); refused up front, naming why, where it cannot", async () => {
    const { p, c } = ready();
    const tcV = (await p.exec.exec(p.a, ["tc", "-V"])).stdout;
    const why = tcSeedUnsupportedReason(tcV);
    const seeded: Fault = { impairment: { loss: { kind: "random", percent: 20 } }, seed: 7 };
    if (why) {
      // the backend asks this host's tc: a seeded fault must be refused before anything is installed
      const refusals = createNetemBackend({ tcVersion: () => tcV }).unsupported(seeded);
      say(`seed: ${tcV.trim()}: refused (${refusals.map((r) => r.message).join("; ")})`);
      expect(refusals.map((r) => r.field)).to.deep.equal(["seed"]);
      expect(refusals[0].reason).to.equal(why);
      return;
    }
    const run = async (seed: number): Promise<number[]> => {
      await backend.clear(c, p.a, p.devA, "egress");
      await backend.apply(c, p.a, p.devA, { ...seeded, seed });
      return (await measureUdpLoss(p, 500)).missing;
    };
    const first = await run(7);
    const second = await run(7);
    const other = await run(8);
    say(`seed 7: ${first.length} lost, again ${second.length}; seed 8: ${other.length}`);
    expect(second).to.deep.equal(first);
    expect(other).to.not.deep.equal(first);
    await backend.clear(c, p.a, p.devA, "egress");
  });
});
