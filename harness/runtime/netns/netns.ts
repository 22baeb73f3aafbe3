// The embedded default backend: every node is a network namespace, every net
// a veth pair (two members) or a bridge living in a namespace of its own
// (more members). Interfaces are created directly inside the lab's
// namespaces (`ip link add ... netns A type veth peer ... netns B`), so the
// host's own namespace never sees a lab interface, even for a moment.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { run, stopProcess, type ExecOptions, type ExecResult } from "../../exec";
import type { NetSpec, NodeSpec, Role } from "../../topology/model";
import type { Runtime, SpawnOptions } from "../runtime";
import { NS_PREFIX, processStart, writeState, type LabState } from "../state";

// a '-' can never appear in a node name, so the bridge cannot clash with a member port named after its node
const BRIDGE = "br-lab";
const FORWARDING_ROLES: readonly Role[] = ["router", "firewall", "vpn-headend"];

export function nodeNamespace(labId: string, node: string): string {
  return `${NS_PREFIX}${labId}-${node}`;
}
export function bridgeNamespace(labId: string, net: string): string {
  return `${NS_PREFIX}${labId}-net-${net}`;
}

/** The `ip -batch` lines that give a node its addresses, routes and sysctls. Pure, for tests. */
export function nodeConfigBatch(node: NodeSpec): string[] {
  const lines: string[] = [];
  for (const l of node.links) {
    lines.push(`address add ${l.ip.addr}/${l.ip.prefix} dev ${l.net}`);
    lines.push(`link set dev ${l.net} up`);
  }
  const gw = node.links.find((l) => l.gw);
  if (gw?.gw) lines.push(`route add default via ${gw.gw} dev ${gw.net}`);
  for (const r of node.routes) lines.push(`route add ${r.to.addr}/${r.to.prefix} via ${r.via}`);
  return lines;
}

export function nodeSysctls(role: Role): Record<string, string> {
  return {
    // lab nets carry only what the scenario sends: no IPv6 autoconf, MLD or RA noise through lossy hops
    "net.ipv6.conf.all.disable_ipv6": "1",
    "net.ipv6.conf.default.disable_ipv6": "1",
    "net.ipv4.ip_forward": FORWARDING_ROLES.includes(role) ? "1" : "0",
    // tunnel replies leave by a different interface than the encapsulated packets arrived on
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
  };
}

export class NetnsRuntime implements Runtime {
  readonly kind = "netns" as const;
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    readonly labId: string,
    private readonly state: LabState,
  ) {}

  netnsName(node: string): string {
    return nodeNamespace(this.labId, node);
  }

  /**
   * Run one building step. A teardown that starts meanwhile waits for it to
   * settle before it deletes anything, and no step starts after teardown:
   * a signal in the middle of Lab.up leaves nothing behind.
   */
  private async step<T>(what: () => Promise<T>): Promise<T> {
    if (this.destroyed) throw new Error(`lab ${this.labId} is being torn down`);
    const p = what();
    this.inFlight.add(p);
    try {
      return await p;
    } finally {
      this.inFlight.delete(p);
    }
  }

  private async addNamespace(ns: string): Promise<void> {
    // record first: if we are killed between the two, gc still finds it by name
    this.state.namespaces.push(ns);
    writeState(this.state);
    await run(["ip", "netns", "add", ns]);
    await run(["ip", "-n", ns, "link", "set", "dev", "lo", "up"]);
  }

  createNode(node: NodeSpec): Promise<void> {
    return this.step(async () => {
      const ns = this.netnsName(node.name);
      await this.addNamespace(ns);
      const sysctls = Object.entries(nodeSysctls(node.role)).map(([k, v]) => `${k}=${v}`);
      await run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", ...sysctls]);
    });
  }

  createNet(net: NetSpec): Promise<void> {
    return this.step(() => this.wireNet(net));
  }

  private async wireNet(net: NetSpec): Promise<void> {
    const [a, b] = net.members;
    if (net.members.length === 2) {
      await run(["ip", "link", "add", "name", net.name, "netns", this.netnsName(a.node), "type", "veth",
        "peer", "name", net.name, "netns", this.netnsName(b.node)]);
      return;
    }
    const brNs = bridgeNamespace(this.labId, net.name);
    await this.addNamespace(brNs);
    await run(["ip", "-n", brNs, "link", "add", "name", BRIDGE, "type", "bridge"]);
    await run(["ip", "-n", brNs, "link", "set", "dev", BRIDGE, "up"]);
    for (const m of net.members) {
      await run(["ip", "link", "add", "name", net.name, "netns", this.netnsName(m.node), "type", "veth",
        "peer", "name", m.node, "netns", brNs]);
      await run(["ip", "-n", brNs, "link", "set", "dev", m.node, "master", BRIDGE, "up"]);
    }
  }

  configureNode(node: NodeSpec): Promise<void> {
    return this.step(() => run(["ip", "-n", this.netnsName(node.name), "-batch", "-"], { input: nodeConfigBatch(node).join("\n") + "\n" })).then(() => undefined);
  }

  exec(node: string, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return run(["ip", "netns", "exec", this.netnsName(node), ...argv], opts);
  }

  spawn(node: string, argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    if (this.destroyed) throw new Error(`lab ${this.labId} is already down`);
    let stdio: ("pipe" | number)[] = ["pipe", "pipe", "pipe"];
    if (opts.logFile) {
      const fd = fs.openSync(opts.logFile, "a");
      stdio = ["pipe", "pipe", fd];
    }
    // `ip netns exec` execs the program, so the child's PID is the program's PID
    const child = spawn("ip", ["netns", "exec", this.netnsName(node), ...argv], {
      stdio,
      env: { ...process.env, ...opts.env },
    });
    // a failed spawn (EAGAIN, ENOMEM) surfaces as the child's exit, never as an uncaught error
    child.on("error", () => undefined);
    if (typeof stdio[2] === "number") fs.closeSync(stdio[2]);
    if (child.pid) {
      this.state.pids.push(child.pid);
      writeState(this.state);
    }
    this.children.add(child);
    child.on("exit", () => this.children.delete(child));
    return child;
  }

  async vanished(): Promise<string[]> {
    // `ip netns del` unlinks the name at once, even while processes keep the namespace itself alive
    const prefix = `${NS_PREFIX}${this.labId}-`;
    return this.state.namespaces
      .filter((ns) => !fs.existsSync(`/run/netns/${ns}`))
      .map((ns) => {
        const rest = ns.slice(prefix.length);
        return rest.startsWith("net-") ? `namespace ${ns} (the bridge of net ${rest.slice(4)})` : `namespace ${ns} (node ${rest})`;
      });
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
    await Promise.allSettled([...this.inFlight]);
    await stopChildren([...this.children]);
    // by name as well as by record: whatever carries this lab's prefix is this lab's
    const prefix = `${NS_PREFIX}${this.labId}-`;
    const named = (await listNamespaces()).filter((ns) => ns.startsWith(prefix));
    const { left } = await removeNamespaces([...new Set([...this.state.namespaces, ...named])]);
    if (left.length) throw new Error(`lab ${this.labId}: could not remove ${left.join(", ")} (see \`vpnlab gc\`)`);
  }
}

async function stopChildren(children: ChildProcess[]): Promise<void> {
  for (const c of children) c.stdin?.end(); // agents leave by themselves when their stdin closes
  await Promise.all(children.map((c) => stopProcess(c, 1500)));
}

/** PIDs of every process living in a namespace (all of them are the lab's: nothing else runs there). */
export async function namespacePids(ns: string): Promise<number[]> {
  const r = await run(["ip", "netns", "pids", ns], { allowFailure: true });
  if (r.code !== 0) return [];
  return r.stdout.split(/\s+/).filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 1);
}

/**
 * Kill what still runs inside the namespaces, by PID, then delete them. Idempotent.
 * A namespace whose processes would not die is left in place (named, so gc can retry),
 * never unmounted under them: that would hide a live namespace nobody could find again.
 */
export async function removeNamespaces(namespaces: readonly string[]): Promise<{ removed: string[]; left: string[] }> {
  const existing = new Set(await listNamespaces());
  const present = namespaces.filter((ns) => existing.has(ns));
  const removed: string[] = [];
  const left: string[] = [];
  for (const ns of present) {
    for (const pid of await namespacePids(ns)) killPid(pid, "SIGTERM");
  }
  for (const ns of present) {
    let alive = await namespacePids(ns);
    for (let i = 0; i < 40 && alive.length > 0; i++) {
      if (i === 20) alive.forEach((pid) => killPid(pid, "SIGKILL"));
      await new Promise((r) => setTimeout(r, 50));
      alive = await namespacePids(ns);
    }
    if (alive.length > 0) {
      left.push(ns);
      continue;
    }
    const r = await run(["ip", "netns", "del", ns], { allowFailure: true });
    (r.code === 0 ? removed : left).push(ns);
  }
  return { removed, left };
}

function killPid(pid: number, sig: NodeJS.Signals): void {
  if (processStart(pid) === undefined) return;
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export async function listNamespaces(): Promise<string[]> {
  const r = await run(["ip", "netns", "list"], { allowFailure: true });
  return r.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0])
    .filter(Boolean);
}
