// One scenario from start to verdict: lab up → tunnel up → baseline → chaos
// (scheduled steps) → recovery (all faults cleared) → verdict → lab down.
import type { ProbeRecord } from "./probe/types";
import type { TunnelCounters } from "./vpn/impl";
import type { Direction, FlowMatch } from "./impair/fault";
import { stepAction, stepDescription } from "./topology/chaos";
import type { CaptureRecord } from "./capture";
import { measureProxy, type ProxyMechanism } from "./firewall/mechanism";
import type { FirewallEvidence } from "./firewall/start";
import type { DropTotal } from "./impair/apply";
import { chaosRefusal } from "./impair/preflight";
import { Lab, LabFaultError } from "./lab";
import { PhaseStates, type PhaseState } from "./phase-state";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { loopLagOf, type LoopLag } from "./agent/protocol";
import { deliveryBuckets, phaseDelivery, tcpBuckets, tcpPhases, type Bucket, type TcpBucket, type PhaseDelivery, type PhaseWindow, type TcpPhase } from "./probe/phases";
import { decideVerdict, stallCutoffMs, type VerdictInput } from "./probe/verdict";
import { Sentinel, type HostLoad } from "./sentinel";
import type { ChaosStep, FaultTarget, Scenario, Verdict } from "./topology/model";

export interface ChaosRecord {
  atMs: number; // planned, from the start of the baseline
  /** Measured, from the start of the baseline (a step at 0 went in before the probe started: negative). */
  appliedAtMs: number;
  /** When the step's apply or clear returned (its effect is in place from then), from the start of the baseline. */
  effectiveAtMs?: number;
  /** The effect came more than LATE_MS after the planned time (atMs): the timeline was not what the file said. */
  late?: boolean;
  on: string;
  /** In a few words: "loss 5%", "clear", "partition (drop everything)". */
  action: string;
  /** The whole fault: the impairment, then [selection] with the seed (describeImpairment + describeSelection). */
  description?: string;
  /** Which packets: egress unless said (a clear's direction too). */
  direction?: Direction;
  match?: FlowMatch;
  /** The seed the fault's random decisions started from. */
  seed?: number;
  /** The schedule the step was expanded from ("flap 2/3: down"). */
  schedule?: string;
  backend?: string; // which impairment backend served the step
  detail?: string[]; // tc argv or nftables ruleset
  /** Packets the kernel counted as dropped by the impairment this step replaced or cleared. */
  dropped?: number;
}

/** A piece of the lab that died mid-scenario (the result is then a lab error). */
export interface FaultRecord {
  piece: string;
  why: string;
  atMs?: number; // from the start of the baseline, when the scenario had started
  phase: "setup" | "tunnel-up" | "baseline" | "chaos" | "recovery" | "verdict";
}

export interface ScenarioResult {
  topology: string;
  file: string;
  variant: string;
  transport: string;
  impl: string;
  firewallMode: string;
  proxy?: string;
  expect: Verdict;
  outcome: "verdict" | "lab-error";
  verdict?: Verdict;
  passed: boolean;
  reasons: string[];
  error?: string;
  /** Set when a piece of the lab died under the scenario. */
  fault?: FaultRecord;
  labId: string;
  runtime: string;
  /** The Docker engine the lab ran on (docker runtime, when the run named engines). */
  engine?: string;
  startedAt: string;
  /** baselineAt and teardownAt: ms since the epoch (the report's steps are placed by them). */
  timing: { setupMs: number; tunnelUpMs: number; scenarioMs: number; totalMs: number; baselineAt?: number; teardownAt?: number };
  tunnel: { inner?: string; clientDownAtMs?: number; headendDownAtMs?: number; downReason?: string };
  phases: PhaseDelivery[];
  buckets: Bucket[];
  /** The tcp-stream flow, when the probe ran it: bytes the sink received per phase, and whether the one connection lasted. */
  tcp?: { phases: TcpPhase[]; buckets?: TcpBucket[]; bytesWritten: number; bytesReceived: number; connections: number; connected: boolean; error?: string; lasted: boolean; survived: boolean };
  chaos: ChaosRecord[];
  /** The scenario seed (`seed:` or --seed): replay the run with `vpnlab run --seed N`. */
  seed?: number;
  /** The pcap files written (scenario.capture), one per NODE.NET. */
  captures: CaptureRecord[];
  evidence: {
    /** full-proxy only: the stall measured when the faults were cleared and at the end */
    proxy?: { atRecoveryStart: ProxyMechanism; atEnd: ProxyMechanism };
    firewall?: FirewallEvidence; // ruleset, proxy config, the proxy's own view of its connections, the firewall's sockets
    /** What the impairments dropped, read from the kernel (nftables rule counters, netem drops) per interface. */
    faults?: { droppedPackets: number; interfaces: DropTotal[] };
    client?: TunnelCounters; // the tunnel's counters at the client, as its implementation reports them
    headend?: TunnelCounters;
    logs?: Record<string, string>;
    /** The third-party daemons' own state at each phase end (TunnelHandle.state: occtl, swanctl --list-sas). */
    daemonState?: PhaseState[];
    /** How long each agent's event loop stalled from the probe's start to the end of recovery, by node. */
    loopLag?: Record<string, LoopLag>;
    /** The same for vpnlab's own process (which times the chaos steps). */
    harnessLag?: LoopLag;
    /**
     * The host's load over the same window, judged apart from the lab: the overload sentinel's worst
     * stall (sentinelStallAt: ms from the start of the baseline) and the kernel's CPU pressure.
     */
    host?: HostLoad;
    /** The stall the verdict held the sentinel to (max(250 ms, half the probe timeout)); an endpoint's at or over it is named. */
    stallCutoffMs?: number;
    /** The longest stall of an agent (a process that carries the tunnel or the probe): evidence, never an excuse. */
    endpointStall?: { what: string; node: string; ms: number; atMs?: number };
  };
}

/** A step whose effect came later than this after its planned time is marked late. */
export const LATE_MS = 100;

const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

export function targetName(t: FaultTarget): string {
  return t.net ? `${t.node}.${t.net}` : t.node;
}

/** Where a running scenario is, for a test or tool that acts on it (e.g. freezes an endpoint mid-recovery). */
export interface PhaseEvent {
  phase: "baseline" | "chaos" | "recovery";
  lab: Lab;
  /** The overload sentinel's pid (a process apart from the lab). */
  sentinelPid?: number;
  /** The start of the baseline (ms since the epoch). */
  start: number;
}

export interface ScenarioOptions {
  log?: (m: string) => void;
  engine?: string;
  /** Called as each phase begins (recovery: once every fault is cleared). */
  onPhase?: (e: PhaseEvent) => void;
}

export async function runScenario(scenario: Scenario, opts: ScenarioOptions = {}): Promise<ScenarioResult> {
  const t0 = Date.now();
  const fw = scenario.firewall;
  const result: ScenarioResult = {
    topology: scenario.name,
    file: scenario.file,
    variant: scenario.variant,
    transport: scenario.vpn.transport,
    impl: scenario.vpn.impl,
    firewallMode: fw ? fw.mode : "none",
    proxy: fw?.mode === "full-proxy" ? fw.proxy : undefined,
    expect: scenario.expect,
    outcome: "lab-error",
    passed: false,
    reasons: [],
    labId: "",
    runtime: scenario.runtime ?? "",
    startedAt: new Date(t0).toISOString(),
    timing: { setupMs: 0, tunnelUpMs: 0, scenarioMs: 0, totalMs: 0 },
    tunnel: {},
    phases: [],
    buckets: [],
    chaos: [],
    ...(scenario.seed !== undefined ? { seed: scenario.seed } : {}),
    captures: [],
    evidence: {},
  };
  // what no backend on this host can serve is refused before any lab is built, never mid-run
  const refused = await chaosRefusal(scenario);
  if (refused) {
    result.error = refused;
    result.reasons = [refused];
    result.timing.totalMs = Date.now() - t0;
    return result;
  }
  let lab: Lab | undefined;
  const clock: Clock = { phase: "setup" };
  try {
    // named before the lab exists: a lab error on an engine says which one
    if (opts.engine) result.engine = opts.engine;
    lab = await Lab.up(scenario, opts);
    result.labId = lab.labId;
    result.runtime = lab.runtime.kind;
    await lab.guard(lab.startCaptures());
    result.timing.setupMs = Date.now() - t0;
    let up;
    clock.phase = "tunnel-up";
    try {
      up = await lab.guard(lab.tunnelUp());
    } catch (e) {
      if (e instanceof LabFaultError) throw e;
      result.error = (e as Error).message;
      result.reasons.push("the tunnel never came up");
      result.evidence.logs = collectLogs(lab);
      return result;
    }
    result.tunnel.inner = up.inner;
    result.timing.tunnelUpMs = up.ms;
    // vpnlab's own event loop, measured from the probe's start (playTimeline enables it); off again however the timeline ends
    const harnessLoop = monitorEventLoopDelay({ resolution: 10 });
    // the judge of the host: a process apart from the lab, shared by the labs this process runs
    const sentinel = await Sentinel.acquire();
    try {
      await playTimeline({ lab, scenario, result, clock, harnessLoop, sentinel, onPhase: opts.onPhase });
    } finally {
      harnessLoop.disable();
      await sentinel.release();
    }
    result.outcome = "verdict";
  } catch (e) {
    result.outcome = "lab-error";
    result.verdict = undefined;
    result.passed = false;
    const fault = lab?.fault;
    if (fault) {
      // whatever failed after it, the death of a piece of the lab is the cause
      const atMs = clock.start === undefined ? undefined : fault.at - clock.start;
      const phase = atMs === undefined ? clock.phase : phaseAt(scenario, atMs);
      result.fault = { piece: fault.piece, why: fault.why, phase, ...(atMs === undefined ? {} : { atMs }) };
      const when = atMs === undefined ? `during ${phase}` : `${(atMs / 1000).toFixed(2)} s into the scenario (${phase} phase)`;
      result.error = `${fault.piece} ${fault.why} ${when} — a harness fault, not a verdict`;
      result.reasons = [result.error];
    } else {
      result.error = (e as Error).message;
    }
    if (lab) result.evidence.logs = collectLogs(lab);
  } finally {
    if (lab) result.captures = await lab.stopCaptures().catch(() => []);
    if (lab) result.timing.teardownAt = Date.now();
    await lab?.down();
    result.timing.totalMs = Date.now() - t0;
  }
  return result;
}

/** The phase a moment belongs to by the scenario's own windows (ms from the start of the baseline). */
export function phaseAt(scenario: Scenario, atMs: number): FaultRecord["phase"] {
  const { baselineMs, chaosMs, recoveryMs } = scenario.phases;
  if (atMs < baselineMs) return "baseline";
  if (atMs < baselineMs + chaosMs) return "chaos";
  if (atMs < baselineMs + chaosMs + recoveryMs) return "recovery";
  return "verdict";
}

/** Where a scenario is, so that a fault before the baseline can say when it happened. */
interface Clock {
  phase: FaultRecord["phase"];
  start?: number; // the start of the baseline (ms since the epoch)
}

/** What a timeline works with: the lab, the scenario, the result it fills in and the judges of the host. */
interface TimelineContext {
  lab: Lab;
  scenario: Scenario;
  result: ScenarioResult;
  clock: Clock;
  harnessLoop: IntervalHistogram;
  sentinel: Sentinel;
  onPhase: ScenarioOptions["onPhase"];
}

/** A probe that has been stopped, and the windows its records are cut into. */
interface Stopped {
  stopped: Awaited<ReturnType<Lab["stopProbe"]>>;
  windows: PhaseWindow[];
}

/** baseline → chaos (the steps at their times) → recovery (every fault cleared) → the measurements → the verdict. */
async function playTimeline(ctx: TimelineContext): Promise<void> {
  const t = new Timeline(ctx);
  await t.prepareLaterSteps();
  const early = await t.playStepsAtZero();
  await t.startProbe(early);
  await t.playChaosSteps();
  await t.clearAtRecovery();
  const atRecoveryStart = await t.proxyAtRecoveryStart();
  await t.waitForEnd();
  const stopped = await t.stopProbe();
  t.measureDelivery(stopped);
  await t.readEvidence(atRecoveryStart);
  t.decide();
}

class Timeline {
  private readonly lab: Lab;
  private readonly scenario: Scenario;
  private readonly result: ScenarioResult;
  private readonly tunnel: NonNullable<Lab["tunnel"]>;
  /** target and direction → target, for the faults in place */
  private readonly active = new Map<string, string>();
  private readonly steps: ChaosStep[];
  private start = 0;
  private chaosStart = 0;
  private recoveryStart = 0;
  private end = 0;
  private chaosTold = false;
  private hostWindow?: ReturnType<Sentinel["open"]>;
  private states?: PhaseStates;

  constructor(private readonly ctx: TimelineContext) {
    this.lab = ctx.lab;
    this.scenario = ctx.scenario;
    this.result = ctx.result;
    const tunnel = ctx.lab.tunnel;
    if (!tunnel) throw new Error("the timeline needs a tunnel that is up");
    this.tunnel = tunnel;
    ctx.clock.phase = "baseline";
    this.steps = [...ctx.scenario.chaos].sort((a, b) => a.atMs - b.atMs);
  }

  private g<T>(p: Promise<T>): Promise<T> {
    return this.lab.guard(p);
  }

  /** The kernel's drop counts of what a step replaced or cleared. */
  private droppedSince(from: number): number | undefined {
    const got = this.lab.impairer.applied.slice(from).filter((a) => a.dropped);
    return got.length ? got.reduce((n, a) => n + (a.dropped?.packets ?? 0), 0) : undefined;
  }

  private tell(phase: PhaseEvent["phase"]): void {
    const { sentinel, onPhase } = this.ctx;
    onPhase?.({ phase, lab: this.lab, start: this.start, ...(sentinel.pid !== undefined ? { sentinelPid: sentinel.pid } : {}) });
  }

  /** One step: its fault applied (or, for a clear, the fault there removed), recorded as it was served. */
  private async play(step: ChaosStep): Promise<ChaosRecord> {
    const lab = this.lab;
    const f = step.fault;
    const direction = f?.direction ?? step.direction;
    const rec: ChaosRecord = {
      atMs: step.atMs,
      appliedAtMs: 0,
      on: targetName(step.on),
      action: stepAction(step),
      description: stepDescription(step),
      ...(direction ? { direction } : {}),
      ...(f?.match ? { match: f.match } : {}),
      ...(f?.seed !== undefined ? { seed: f.seed } : {}),
      ...(step.schedule ? { schedule: step.schedule } : {}),
    };
    const from = lab.impairer.applied.length;
    const key = `${rec.on} ${direction ?? "egress"}`;
    if (!f) {
      // a step's clear ends the fault but keeps the wire's program up for the next step there (clearAll removes it)
      for (const dev of lab.targetDevices(step.on)) await this.g(lab.impairer.clear(step.on.node, dev, step.direction ?? "egress", { keep: true }));
      this.active.delete(key);
    } else {
      const applied = await this.g(lab.impair(step.on, f));
      this.active.set(key, rec.on);
      rec.backend = applied.map((a) => a.backend).join(",");
      rec.detail = applied.map((a) => (a.argv ? a.argv.join(" ") : (a.ruleset ?? a.detail ?? "")));
      // an unseeded fault's seed as the backend drew it (the wire): the run replays with it
      const drawn = applied.find((a) => a.seed !== undefined)?.seed;
      if (rec.seed === undefined && drawn !== undefined) rec.seed = drawn;
    }
    const dropped = this.droppedSince(from);
    if (dropped !== undefined) rec.dropped = dropped;
    return rec;
  }

  /**
   * What a later step's backend runs (the wire's program: 1-2 s to start) is up before the probe, so that
   * each step is a quick reconfiguration at its time.
   */
  async prepareLaterSteps(): Promise<void> {
    for (const step of this.steps) {
      if (step.atMs === 0 || !step.fault) continue;
      const fault = step.fault;
      for (const dev of this.lab.targetDevices(step.on)) await this.g(this.lab.impairer.prepare(step.on.node, dev, fault));
    }
  }

  /** Steps at 0 are in place before the probe's first packet: packet #1 a fault sees is the probe's first on that path. */
  async playStepsAtZero(): Promise<{ rec: ChaosRecord; at: number; effective: number }[]> {
    const early: { rec: ChaosRecord; at: number; effective: number }[] = [];
    for (const step of this.steps.filter((x) => x.atMs === 0)) {
      const at = Date.now();
      const rec = await this.play(step);
      early.push({ rec, at, effective: Date.now() });
    }
    return early;
  }

  /**
   * The clock starts once the flows run: on an overloaded host starting them can outlast the baseline, which
   * would then hold no probe ("the probe sent nothing in the baseline") instead of a measurement.
   */
  async startProbe(early: { rec: ChaosRecord; at: number; effective: number }[]): Promise<void> {
    const { lab, result, ctx } = this;
    await this.g(lab.startProbe());
    const start = Date.now();
    this.start = start;
    ctx.clock.start = start;
    result.timing.baselineAt = start;
    for (const e of early) result.chaos.push({ ...e.rec, appliedAtMs: e.at - start, effectiveAtMs: e.effective - start });
    await this.g(lab.loopLag(true)); // the window of the agents' stalls (evidence) starts with the probe
    // vpnlab's own loop too: it sleeps until each chaos step and clears the faults at recovery (labs side by side share it)
    ctx.harnessLoop.enable();
    this.hostWindow = ctx.sentinel.open();
    this.tell("baseline");
    const { phases } = this.scenario;
    this.chaosStart = start + phases.baselineMs;
    this.recoveryStart = this.chaosStart + phases.chaosMs;
    this.end = this.recoveryStart + phases.recoveryMs;
    // the third-party daemons' own state at each phase end, not holding the clock
    const tunnel = this.tunnel;
    this.states = new PhaseStates(tunnel.state ? () => tunnel.state!() : undefined, start);
    this.states.at("baseline", this.chaosStart);
  }

  private async chaosBegins(): Promise<void> {
    if (this.chaosTold) return;
    this.chaosTold = true;
    await this.g(sleepUntil(this.chaosStart));
    this.tell("chaos");
  }

  /** Each later step at its planned time, marked late when its effect came more than LATE_MS after it. */
  async playChaosSteps(): Promise<void> {
    const { start, result } = this;
    for (const step of this.steps.filter((x) => x.atMs > 0)) {
      if (step.atMs >= this.scenario.phases.baselineMs) await this.chaosBegins();
      await this.g(sleepUntil(start + step.atMs));
      this.ctx.clock.phase = "chaos";
      const appliedAtMs = Date.now() - start;
      const rec = await this.play(step);
      const effectiveAtMs = Date.now() - start;
      const late = effectiveAtMs - step.atMs > LATE_MS;
      result.chaos.push({
        ...rec,
        appliedAtMs,
        effectiveAtMs,
        ...(late ? { late, description: `${rec.description ?? rec.action} (in effect ${effectiveAtMs - step.atMs} ms late)` } : {}),
      });
    }
    await this.chaosBegins();
  }

  /** Recovery means every fault is gone, whatever the steps said; what a step's clear kept up (the wire's program) goes too. */
  async clearAtRecovery(): Promise<void> {
    const { lab, start, result } = this;
    await this.g(sleepUntil(this.recoveryStart));
    this.states!.now("chaos"); // before the faults are cleared
    this.ctx.clock.phase = "recovery";
    if (this.active.size > 0 || lab.impairer.hasKept()) {
      const from = lab.impairer.applied.length;
      const clearedAt = Date.now() - start; // when the clear began: its own nft/tc work is no stall
      await this.g(lab.impairer.clearAll());
      const effectiveAtMs = Date.now() - start;
      const dropped = this.droppedSince(from);
      const on = [...new Set(this.active.values())].join(",");
      if (this.active.size > 0) {
        result.chaos.push({ atMs: this.recoveryStart - start, appliedAtMs: clearedAt, effectiveAtMs, on, action: "clear (end of chaos phase)", description: "every fault still in place cleared", ...(dropped === undefined ? {} : { dropped }) });
      }
    }
    this.tell("recovery");
    const drops = lab.impairer.dropTotals();
    result.evidence.faults = { droppedPackets: drops.reduce((n, d) => n + d.packets, 0), interfaces: drops };
  }

  private async proxyReading(): Promise<{ client: TunnelCounters; fw: FirewallEvidence; at: number }> {
    const at = Date.now() - this.start;
    const client = await this.tunnel.counters("client"); // first: see measureProxy
    return { client, fw: await this.lab.firewall!.evidence(), at };
  }

  /** A full proxy's stall as the faults are cleared: bytes it holds behind the gap while the client still sends. */
  async proxyAtRecoveryStart(): Promise<{ client: TunnelCounters; fw: FirewallEvidence; at: number } | undefined> {
    return this.scenario.firewall?.mode === "full-proxy" ? await this.g(this.proxyReading()) : undefined;
  }

  /** The end of recovery: the host's window closes (the sentinel, the agents' and vpnlab's own loops). */
  async waitForEnd(): Promise<void> {
    const { result, ctx, start } = this;
    await this.g(sleepUntil(this.end));
    this.states!.now("recovery");
    const host = await ctx.sentinel.close(this.hostWindow!);
    result.evidence.host = { ...host, ...(host.sentinelStallAt !== undefined ? { sentinelStallAt: host.sentinelStallAt - start } : {}) };
    result.evidence.loopLag = await this.g(this.lab.loopLag(false));
    ctx.harnessLoop.disable();
    result.evidence.harnessLag = loopLagOf(ctx.harnessLoop);
  }

  async stopProbe(): Promise<Stopped> {
    const stopped = await this.g(this.lab.stopProbe());
    this.ctx.clock.phase = "verdict";
    const windows: PhaseWindow[] = [
      { name: "baseline", start: this.start, end: this.chaosStart },
      { name: "chaos", start: this.chaosStart, end: this.recoveryStart },
      { name: "recovery", start: this.recoveryStart, end: this.end },
    ];
    return { stopped, windows };
  }

  /** What was delivered per phase and per bucket, for the probe's datagrams and the TCP stream. */
  measureDelivery({ stopped, windows }: Stopped): void {
    const { result, start, end } = this;
    const record: ProbeRecord = stopped.udp;
    result.phases = phaseDelivery(record, windows, this.scenario.probe.timeoutMs);
    result.buckets = deliveryBuckets(record, start, end, this.scenario.probe.timeoutMs);
    if (stopped.tcp) {
      const { sender, sink } = stopped.tcp;
      const phasesTcp = tcpPhases(sink, windows);
      result.tcp = {
        phases: phasesTcp,
        buckets: tcpBuckets(sink, start, end),
        bytesWritten: sender.bytesWritten,
        bytesReceived: sink.bytes,
        connections: sink.connections,
        connected: sender.connectedAt !== null,
        ...(sender.error ? { error: sender.error } : {}),
        // the one connection lasted to the end: not reset, not closed, and the sink never saw a second one
        lasted: !sender.error && !sender.closed && sink.connections === 1,
        survived: !sender.error && !sender.closed && sink.connections === 1 && (phasesTcp.find((p) => p.phase === "recovery")?.bytes ?? 0) > 0,
      };
    }
    result.timing.scenarioMs = end - start;
  }

  /** When each end declared the tunnel down, the counters at both ends and the firewall, the daemons' state. */
  async readEvidence(atRecoveryStart: { client: TunnelCounters; fw: FirewallEvidence; at: number } | undefined): Promise<void> {
    const { result, tunnel, lab, start } = this;
    const clientDown = tunnel.downs().find((d) => d.side === "client");
    const headendDown = tunnel.downs().find((d) => d.side === "headend");
    if (clientDown) {
      result.tunnel.clientDownAtMs = clientDown.at - start;
      result.tunnel.downReason = clientDown.reason;
    }
    if (headendDown) result.tunnel.headendDownAtMs = headendDown.at - start;

    result.evidence.client = await this.g(tunnel.counters("client"));
    result.evidence.headend = await this.g(tunnel.counters("headend"));
    if (lab.firewall) result.evidence.firewall = await this.g(lab.firewall.evidence());
    const daemonState = await this.g(this.states!.all());
    if (daemonState.length) result.evidence.daemonState = daemonState;
    // a piece that died while the numbers were read makes them worthless
    if (lab.fault) throw new LabFaultError(lab.fault);
    if (atRecoveryStart) {
      result.evidence.proxy = {
        atRecoveryStart: measureProxy(atRecoveryStart.fw, atRecoveryStart.client.wireBytesSent, atRecoveryStart.at),
        atEnd: measureProxy(result.evidence.firewall, result.evidence.client.wireBytesSent, Date.now() - start),
      };
    }
  }

  /** The verdict from what was measured; a host judged overloaded (or a late step) throws a LabError instead. */
  decide(): void {
    const { result, scenario, lab, start } = this;
    const { phases, probe } = scenario;
    // the tunnel is down when either end declares it so
    const downAt = firstDownMs(result);
    const downBy = downAt === undefined ? undefined : downAt === result.tunnel.clientDownAtMs ? "client" : "headend";
    const tcpRecovery = result.tcp?.phases.find((p) => p.phase === "recovery")?.bytes ?? 0;
    result.evidence.stallCutoffMs = stallCutoffMs(probe.timeoutMs);
    const endpoint = endpointStall(result, start, scenario);
    if (endpoint) result.evidence.endpointStall = endpoint;
    const late = lateStep(result);
    const outcome = decideVerdict({
      tunnelUp: true,
      probeTimeoutMs: probe.timeoutMs,
      host: { ...result.evidence.host!, ...(result.evidence.host!.sentinelStallAt !== undefined ? { sentinelStallAtMs: result.evidence.host!.sentinelStallAt } : {}) },
      ...(endpoint ? { endpointStall: { what: endpoint.what, ms: endpoint.ms, ...(endpoint.atMs !== undefined ? { atMs: endpoint.atMs } : {}) } } : {}),
      ...(late ? { lateStep: late } : {}),
      tunnelDownAtMs: downAt,
      downBy,
      phases: result.phases,
      // a fault from before the probe's first packet (a step at 0 s) shapes the baseline too
      faultFromStart: scenario.chaos.some((x) => x.atMs === 0 && x.fault !== undefined),
      ...(result.tcp
        ? {
            tcp: {
              recoveryBytes: tcpRecovery,
              offeredRecoveryBytes: Math.round((lab.tcpStreamBytesPerSec * phases.recoveryMs) / 1000),
              connected: result.tcp.connected,
              lasted: result.tcp.lasted,
              ...(result.tcp.error ? { error: result.tcp.error } : {}),
            },
          }
        : {}),
    });
    if (outcome.kind === "lab-error") {
      result.outcome = "lab-error";
      result.reasons = [outcome.reason];
      result.evidence.logs = collectLogs(lab);
      throw new LabError(outcome.reason);
    }
    result.verdict = outcome.verdict;
    result.reasons = outcome.reasons;
    result.passed = outcome.verdict === scenario.expect;
  }
}

export class LabError extends Error {}

/** What each agent carries, for the words of a verdict ("the agent on headend (the VPN headend)"). */
function agentRole(r: Pick<ScenarioResult, "transport">, node: string, scenario?: Scenario): string {
  if (!scenario) return `the agent on ${node}`;
  if (node === scenario.vpn.client) return `the agent on ${node} (the VPN client: its tunnel and the probe's sender)`;
  if (node === scenario.vpn.headend) return `the agent on ${node} (the VPN headend)`;
  return `the agent on ${node} (the probe's responder)`;
}

/**
 * The longest stall of an agent while the probe ran: a process that carries the tunnel or the probe.
 * Evidence about that endpoint for the verdict's reasons — the host is judged by the sentinel.
 */
export function endpointStall(r: Pick<ScenarioResult, "evidence" | "transport">, start: number, scenario?: Scenario): ScenarioResult["evidence"]["endpointStall"] {
  let worst: ScenarioResult["evidence"]["endpointStall"];
  for (const [node, lag] of Object.entries(r.evidence.loopLag ?? {})) {
    const at = lag.stalls?.[0];
    const ms = Math.max(lag.maxMs, at?.ms ?? 0);
    if (!worst || ms > worst.ms) worst = { what: agentRole(r, node, scenario), node, ms, ...(at ? { atMs: at.at - start } : {}) };
  }
  return worst;
}

/**
 * The chaos step (or the end-of-chaos clear) begun latest after its planned time: vpnlab's own clock was
 * held up (when it began, not when its apply returned: the wire's clear waits for its queue to drain).
 */
export function lateStep(r: Pick<ScenarioResult, "chaos">): VerdictInput["lateStep"] {
  let worst: VerdictInput["lateStep"];
  for (const step of r.chaos) {
    const ms = Math.max(0, step.appliedAtMs - step.atMs);
    if (ms > 0 && (!worst || ms > worst.ms)) worst = { what: `the chaos step planned at ${(step.atMs / 1000).toFixed(2)} s (${step.action} on ${step.on}) began`, ms };
  }
  return worst;
}

/** When DPD first declared the tunnel down, at either end (ms from the start of the baseline). */
export function firstDownMs(r: ScenarioResult): number | undefined {
  const t = [r.tunnel.clientDownAtMs, r.tunnel.headendDownAtMs].filter((x): x is number => x !== undefined);
  return t.length ? Math.min(...t) : undefined;
}

function collectLogs(lab: Lab): Record<string, string> {
  const logs: Record<string, string> = {};
  for (const node of lab.agents.keys()) {
    const t = lab.agentLog(node);
    if (t) logs[node] = t;
  }
  return logs;
}
