// A running lab: the nodes and nets of one scenario, its firewall policy, and
// the agents on the VPN client, the headend and the probe responder.
//   const lab = await Lab.up(scenario);
//   await lab.tunnelUp();
//   await lab.impair({ node: "wan", net: "edge" }, { impairment: { loss: { kind: "random", percent: 5 } } });
//   ...
//   await lab.down();   // always, also on error; signals are covered by harness/cleanup.ts
import * as fs from "node:fs";
import * as path from "node:path";
import { AgentClient } from "./agent/client";
import type { ProbeConfig, ProbeRecord, TcpSinkReport, TcpStreamRecord } from "./probe/types";
import type { LoopLag } from "./agent/protocol";

/** The tcp-stream flow's rate: enough to fill a few segments per 100 ms, little enough for any lab tunnel. */
const TCP_STREAM_BYTES_PER_SEC = 50_000;
import { Capture, captureDir, captureFile, type CaptureRecord } from "./capture";
import { registerTeardown } from "./cleanup";
import { startFirewall, type FirewallHandle } from "./firewall/start";
import { Impairer } from "./impair/apply";
import type { Direction, Fault } from "./impair/fault";
import { wireNames, type WireState } from "./impair/backends/wire/plan";
import { chooseRuntime, createRuntime } from "./runtime";
import type { Runtime, RuntimeKind } from "./runtime/runtime";
import { labDir, newLabId, processStart, removeState, writeState, type LabState } from "./runtime/state";
import type { FaultTarget, NodeSpec, Scenario } from "./topology/model";
import type { TunnelHandle } from "./vpn/impl";
import { loadImpl } from "./vpn/impls";
import { outsideLink } from "./vpn/plan";
import { notRunnable } from "./vpn/support";

export interface LabOptions {
  /** Default: the scenario's `runtime:`, else VPNLAB_RUNTIME, else netns. */
  runtime?: RuntimeKind;
  /** The Docker engine URL (docker runtime); default DOCKER_HOST. */
  engine?: string;
  log?: (msg: string) => void;
  /** "up" when the lab is held for a person (`vpnlab down` may stop its owner); default "run". */
  holder?: "up" | "run";
}

/** A piece of the lab died under a running scenario: a harness fault, reported as a lab error, never as a verdict. */
export interface LabFault {
  piece: string; // what died, e.g. "agent on client (pid 1234)", "HAProxy on firewall (pid 99)", "namespace vl-...-wan (node wan)"
  at: number; // when it was noticed (ms since the epoch)
  why: string; // how: "exited (SIGKILL)", "deleted"
}

export class LabFaultError extends Error {
  constructor(readonly fault: LabFault) {
    super(`${fault.piece} ${fault.why}`);
  }
}

const WATCH_MS = 250; // how often the runtime is asked whether a namespace/container vanished


export class Lab {
  readonly agents = new Map<string, AgentClient>();
  firewall?: FirewallHandle;
  /** The tcp-stream flow's offered rate (probe stream-rate, else the default). */
  get tcpStreamBytesPerSec(): number {
    const kbit = this.scenario.probe.streamKbit;
    return kbit === undefined ? TCP_STREAM_BYTES_PER_SEC : Math.round((kbit * 1000) / 8);
  }
  /** The tunnel, once up (its implementation's handle). */
  tunnel?: TunnelHandle;
  readonly impairer: Impairer;
  private unregister: () => void = () => undefined;
  private teardown?: Promise<void>;
  /** The packet captures running in this lab (scenario.capture), started by startCaptures. */
  readonly captures: Capture[] = [];
  /** The first harness fault, once one happened. */
  fault?: LabFault;
  private readonly faultWaiters = new Set<(f: LabFault) => void>();
  private watchTimer?: NodeJS.Timeout;

  private constructor(
    readonly scenario: Scenario,
    readonly runtime: Runtime,
    readonly state: LabState,
    readonly dir: string,
    private readonly log: (msg: string) => void,
  ) {
    this.impairer = new Impairer({ exec: runtime, runtime, dir: this.dir });
  }

  get labId(): string {
    return this.state.labId;
  }

  /** Build every node, net, address, route and the firewall policy. Nothing is left behind if any step fails. */
  static async up(scenario: Scenario, opts: LabOptions = {}): Promise<Lab> {
    // refused before anything exists: a lab that cannot carry its tunnel is not worth building
    const cannot = notRunnable(scenario.vpn);
    if (cannot) throw new Error(cannot);
    const kind = opts.runtime ?? chooseRuntime(undefined, scenario.runtime);
    const labId = newLabId();
    const state: LabState = {
      labId,
      runtime: kind,
      ...(opts.engine ? { engine: opts.engine } : {}),
      topology: scenario.name,
      variant: scenario.variant,
      file: scenario.file,
      ownerPid: process.pid,
      holder: opts.holder ?? "run",
      ownerStart: processStart(process.pid) ?? "",
      created: new Date().toISOString(),
      namespaces: [],
      pids: [],
    };
    writeState(state);
    let runtime: Runtime;
    try {
      runtime = await createRuntime(kind, labId, state, opts.engine ? { engine: opts.engine } : {});
    } catch (e) {
      removeState(labId);
      throw e;
    }
    const lab = new Lab(scenario, runtime, state, labDir(labId), opts.log ?? (() => undefined));
    lab.unregister = registerTeardown(() => lab.down());
    try {
      // nodes are independent of each other: a container runtime starts them side by side
      await Promise.all(scenario.nodes.map((n) => runtime.createNode(n)));
      for (const net of scenario.nets) await runtime.createNet(net);
      for (const n of scenario.nodes) await runtime.configureNode(n);
      if (scenario.firewall) lab.firewall = await startFirewall(runtime, scenario.firewall, lab.dir);
      lab.firewall?.onDeath((piece, why) => lab.reportFault(piece, why));
      lab.watchRuntime();
    } catch (e) {
      await lab.down();
      throw e;
    }
    return lab;
  }

  /** Record a harness fault (the first one counts); ignored once teardown began, when pieces stop on purpose. */
  reportFault(piece: string, why: string): void {
    if (this.teardown || this.fault) return;
    this.fault = { piece, at: Date.now(), why };
    for (const w of this.faultWaiters) w(this.fault);
    this.faultWaiters.clear();
  }

  /** Resolve with `p`, or reject with a LabFaultError as soon as a piece of the lab dies (also if one already did). */
  guard<T>(p: Promise<T>): Promise<T> {
    if (this.fault) {
      p.catch(() => undefined); // its own failure after the fault is no news, and must not surface as an unhandled rejection
      return Promise.reject(new LabFaultError(this.fault));
    }
    return new Promise<T>((resolve, reject) => {
      const onFault = (f: LabFault): void => reject(new LabFaultError(f));
      this.faultWaiters.add(onFault);
      p.then(
        (v) => {
          this.faultWaiters.delete(onFault);
          resolve(v);
        },
        (e: unknown) => {
          this.faultWaiters.delete(onFault);
          // a request that failed because its agent died: the death is the cause worth naming
          reject(this.fault ? new LabFaultError(this.fault) : e);
        },
      );
    });
  }

  private watchRuntime(): void {
    let busy = false;
    this.watchTimer = setInterval(() => {
      if (busy || this.teardown) return;
      busy = true;
      this.runtime
        .vanished()
        .then(async (gone) => {
          if (gone.length > 0) return this.reportFault(gone.join(", "), gone.length > 1 ? "were deleted" : "was deleted");
          const dead = await this.deadWires();
          if (dead) this.reportFault(dead, "died while its fault was in place (its traffic would pass unimpaired)");
        })
        .catch(() => undefined)
        .finally(() => (busy = false));
    }, WATCH_MS);
    this.watchTimer.unref();
  }

  /**
   * A wire program of the lab that died while its fault is in place, named ("the wire on wan.edge egress (pid 123)"):
   * its TUN goes with it, the fwmark lookup falls through to the main table, and traffic flows unimpaired while
   * the record says impaired. Each wire (this process's or a `vpnlab impair`'s) leaves a state file in the lab's
   * run directory with its process; its fault is in place while its steering table exists (a clear removes the
   * steering before it stops the program, so a wire stopped on purpose is never reported).
   */
  private async deadWires(): Promise<string | undefined> {
    let files: string[];
    try {
      files = fs.readdirSync(this.dir).filter((f) => /^wire-.+\.json$/.test(f));
    } catch {
      return undefined;
    }
    for (const f of files) {
      let st: WireState;
      try {
        st = JSON.parse(fs.readFileSync(path.join(this.dir, f), "utf8")) as WireState;
      } catch {
        continue; // being written, or gone: the next look decides
      }
      if (st.hostPid === undefined || st.hostStart === undefined || processStart(st.hostPid) === st.hostStart) continue;
      const n = wireNames(this.dir, st.node, st.dev, st.direction);
      // still steered into a TUN nobody reads (and the state file still there: not a clear that just finished)
      const steered = await this.runtime.exec(st.node, ["nft", "list", "table", "inet", n.table], { allowFailure: true });
      if (steered.code === 0 && fs.existsSync(n.stateFile)) return `the wire on ${st.node}.${st.dev} ${st.direction} (pid ${st.hostPid})`;
    }
    return undefined;
  }

  node(name: string): NodeSpec {
    const n = this.scenario.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name} in ${this.scenario.name}`);
    return n;
  }

  private async agent(node: string): Promise<AgentClient> {
    let a = this.agents.get(node);
    if (!a) {
      a = await AgentClient.start(this.runtime, node, path.join(this.dir, `agent-${node}.log`));
      a.onEvent((e) => {
        if (e.event === "log") this.log(`[${node}] ${e.msg}`);
      });
      const piece = `the agent on ${node} (pid ${a.pid ?? "?"})`;
      a.onExit((why) => this.reportFault(piece, why.replace(/^agent on \S+ /, "")));
      this.agents.set(node, a);
    }
    return a;
  }

  /** Each agent's event-loop delay since the last reset, by node (reset: start a new window). */
  async loopLag(reset: boolean): Promise<Record<string, LoopLag>> {
    const out: Record<string, LoopLag> = {};
    await Promise.all([...this.agents].map(async ([node, a]) => (out[node] = await a.request<LoopLag>({ cmd: "loop-lag", reset }))));
    return out;
  }

  /** Start one tcpdump per scenario.capture target (before the tunnel: the handshakes belong in the pcap). */
  async startCaptures(): Promise<void> {
    const dir = captureDir(this.scenario.name, this.scenario.variant, this.labId);
    for (const t of this.scenario.capture ?? []) {
      this.captures.push(await Capture.start(this.runtime, t.node, t.net, captureFile(dir, t), (piece, why) => this.reportFault(piece, why)));
    }
  }

  /** Stop the captures (flushing their files); what each wrote. */
  async stopCaptures(): Promise<CaptureRecord[]> {
    const out: CaptureRecord[] = [];
    for (const c of this.captures.splice(0)) out.push(await c.stop());
    return out;
  }

  /** Start the probe responder and the tunnel (through its implementation); resolve when it is up. */
  async tunnelUp(): Promise<{ inner: string; ms: number }> {
    const t = Date.now();
    const { vpn, probe } = this.scenario;
    const responder = await this.agent(probe.to);
    await responder.request({ cmd: "echo-server", port: probe.port });
    if (probe.flows.includes("tcp-stream")) await responder.request({ cmd: "tcp-sink", port: probe.port });
    const impl = await loadImpl(vpn.impl);
    this.tunnel = await impl.start({
      scenario: this.scenario,
      runtime: this.runtime,
      dir: this.dir,
      agent: (node) => this.agent(node),
      reportFault: (piece, why) => this.reportFault(piece, why),
      log: this.log,
    });
    return { inner: this.tunnel.inner, ms: Date.now() - t };
  }

  async startProbe(): Promise<void> {
    const { probe } = this.scenario;
    const to = outsideLink(this.scenario, probe.to).ip.addr;
    const cfg: ProbeConfig = { to, port: probe.port, ratePerSec: probe.ratePerSec, payloadBytes: 64, timeoutMs: probe.timeoutMs };
    const from = await this.agent(probe.from);
    await from.request({ cmd: "probe-start", config: cfg });
    if (probe.flows.includes("tcp-stream")) await from.request({ cmd: "tcp-stream-start", config: { to, port: probe.port, bytesPerSec: this.tcpStreamBytesPerSec } });
  }

  /** Stop every flow; the TCP stream's record and what its sink received, when it ran. */
  async stopProbe(): Promise<{ udp: ProbeRecord; tcp?: { sender: TcpStreamRecord; sink: TcpSinkReport } }> {
    const { probe } = this.scenario;
    const from = await this.agent(probe.from);
    let tcp: { sender: TcpStreamRecord; sink: TcpSinkReport } | undefined;
    const udpStopped = from.request<ProbeRecord>({ cmd: "probe-stop", graceMs: probe.timeoutMs }, probe.timeoutMs + 10000);
    udpStopped.catch(() => undefined); // awaited below; a rejection meanwhile must not count as unhandled
    if (probe.flows.includes("tcp-stream")) {
      const sender = await from.request<TcpStreamRecord>({ cmd: "tcp-stream-stop" });
      // the sender's last bytes are still in flight: wait for them as long as the datagrams' own grace (in parallel with it)
      const sinkReport = { cmd: "tcp-sink-report", untilBytes: sender.bytesWritten, waitMs: probe.timeoutMs } as const;
      tcp = { sender, sink: await (await this.agent(probe.to)).request<TcpSinkReport>(sinkReport, probe.timeoutMs + 10000) };
    }
    const udp = await udpStopped;
    return { udp, ...(tcp ? { tcp } : {}) };
  }

  /** The interfaces a fault target names: NODE.NET is one, NODE is every interface of the node. */
  targetDevices(target: FaultTarget): string[] {
    return target.net ? [target.net] : this.node(target.node).links.map((l) => l.net);
  }

  async impair(target: FaultTarget, fault: Fault) {
    const results = [];
    for (const dev of this.targetDevices(target)) results.push(await this.impairer.apply(target.node, dev, fault));
    return results;
  }

  async clear(target: FaultTarget, direction: Direction = "egress"): Promise<void> {
    for (const dev of this.targetDevices(target)) await this.impairer.clear(target.node, dev, direction);
  }

  /** Tail of an agent's stderr log, for error reports. */
  agentLog(node: string, maxChars = 2000): string {
    try {
      const text = fs.readFileSync(path.join(this.dir, `agent-${node}.log`), "utf8");
      return text.slice(-maxChars);
    } catch {
      return "";
    }
  }

  /** Tear everything down. Idempotent; never throws; every caller waits for the same teardown to finish. */
  down(): Promise<void> {
    this.teardown ??= this.tearDown();
    return this.teardown;
  }

  private async tearDown(): Promise<void> {
    clearInterval(this.watchTimer);
    await this.stopCaptures().catch(() => undefined); // a scenario that failed early did not stop them
    try {
      await this.tunnel?.stop();
    } catch (e) {
      this.log(`tunnel stop: ${(e as Error).message}`);
    }
    try {
      await this.firewall?.stop();
    } catch (e) {
      this.log(`firewall stop: ${(e as Error).message}`);
    }
    try {
      await this.runtime.destroy();
      removeState(this.labId);
    } catch (e) {
      // the record stays, so `vpnlab ls` shows the lab and `vpnlab gc` retries
      process.stderr.write(`vpnlab: lab ${this.labId}: teardown incomplete: ${(e as Error).message}\n`);
    }
    this.unregister();
  }
}
