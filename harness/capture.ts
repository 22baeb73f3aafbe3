// Packet captures: one tcpdump per NODE.NET inside the node, started right
// after the lab is built (before the tunnel, so IKE/TLS handshakes are in it)
// and stopped at the end of the scenario; files under
// reports/captures/<topology>/<variant>-<labId>/<node>.<net>.pcap.
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { stopProcess } from "./exec";
import type { Runtime } from "./runtime/runtime";
import type { CaptureTarget, Scenario } from "./topology/model";
import { forLogLine, waitUntil } from "./wait";

/** Headers and the first bytes of each payload: enough to tell TLS from not-TLS, small enough for a long run. */
export const SNAPLEN = 256;
const LISTEN_TIMEOUT_MS = 10_000;

export const CAPTURES_ROOT = path.join("reports", "captures");

/**
 * tcpdump's argv: interface `net` (a validated net name), written to `file` packet by packet (-U), names not
 * resolved (-n); -Z root: Debian's tcpdump otherwise drops to its own user before it opens the file.
 */
export function tcpdumpArgv(net: string, file: string, snaplen = SNAPLEN): string[] {
  return ["tcpdump", "-i", net, "-w", file, "-U", "-s", String(snaplen), "-n", "-Z", "root"];
}

export function captureFile(dir: string, t: CaptureTarget): string {
  return path.join(dir, `${t.node}.${t.net}.pcap`);
}

export function captureDir(topology: string, variant: string, labId: string, root = CAPTURES_ROOT): string {
  return path.join(root, topology, `${variant}-${labId}`);
}

export interface CaptureRecord {
  target: string; // NODE.NET
  file: string;
  bytes: number;
}

export class Capture {
  private child?: ChildProcess;
  private stopping = false;

  private constructor(
    readonly target: CaptureTarget,
    readonly file: string,
    readonly log: string,
  ) {}

  /**
   * Start tcpdump in `node` on `net` and resolve once it listens (its "listening on" line);
   * `onDeath` is told if it exits before stop() (a harness fault).
   */
  static async start(runtime: Runtime, node: string, net: string, file: string, onDeath: (piece: string, why: string) => void = () => undefined): Promise<Capture> {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // created by us (not tcpdump, which may drop privileges) so the mode is ours
    fs.writeFileSync(file, "", { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    const log = `${file}.log`;
    const c = new Capture({ node, net }, file, log);
    // from the host, in the node's namespace: the pcap lands in the host's reports/ on every runtime
    const child = runtime.spawn(node, tcpdumpArgv(net, file), { logFile: log, fromHost: true });
    c.child = child;
    child.stdout?.resume(); // -w writes nothing here; never let a pipe fill
    child.once("exit", (code, signal) => {
      if (!c.stopping) onDeath(`tcpdump on ${node}.${net} (pid ${child.pid ?? "?"})`, signal ? `exited (${signal})` : `exited (code ${code})`);
    });
    try {
      await waitUntil(forLogLine(log, /listening on /), { what: `tcpdump on ${node}.${net}`, timeoutMs: LISTEN_TIMEOUT_MS, process: child, log });
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  /** Stop tcpdump (SIGTERM: it flushes and closes the file); the record of what it wrote. */
  async stop(): Promise<CaptureRecord> {
    this.stopping = true;
    if (this.child) await stopProcess(this.child);
    let bytes = 0;
    try {
      bytes = fs.statSync(this.file).size;
    } catch {
      bytes = 0;
    }
    return { target: `${this.target.node}.${this.target.net}`, file: this.file, bytes };
  }
}

/**
 * `scenario` with `extra` (`vpnlab run --capture NODE.NET`, repeatable) merged into its own capture list;
 * each must name a node of the scenario on that net (checked like the file's `capture:`).
 */
export function withCaptures(scenario: Scenario, extra: readonly string[]): Scenario {
  if (extra.length === 0) return scenario;
  const merged = [...(scenario.capture ?? [])];
  for (const text of extra) {
    const t = parseCaptureTarget(scenario, text);
    if (!merged.some((m) => m.node === t.node && m.net === t.net)) merged.push(t);
  }
  return { ...scenario, capture: merged };
}

export function parseCaptureTarget(scenario: Scenario, text: string): CaptureTarget {
  const m = /^([a-z][a-z0-9]{0,9})\.([a-z][a-z0-9]{0,9})$/.exec(text);
  if (!m) throw new Error(`--capture ${text}: not NODE.NET — write e.g. wan.edge (wan's interface on net edge)`);
  const [, node, net] = m;
  const spec = scenario.nodes.find((n) => n.name === node);
  if (!spec) throw new Error(`--capture ${text}: no node ${node} in ${scenario.name}/${scenario.variant} — the nodes are: ${scenario.nodes.map((n) => n.name).join(", ")}`);
  const nets = spec.links.map((l) => l.net);
  if (!nets.includes(net)) throw new Error(`--capture ${text}: node ${node} is not on net ${net} — its nets are: ${nets.join(", ")}`);
  return { node, net };
}

/** `vpnlab run --capture NODE.NET ...`: the values given, checked against every scenario to run (before any lab is built). */
export function captureArgs(a: object, scenarios: readonly Scenario[]): string[] {
  const v = "capture" in a ? a.capture : undefined;
  const list = (Array.isArray(v) ? v : v === undefined ? [] : [v]).map(String);
  for (const s of scenarios) withCaptures(s, list);
  return list;
}
