// The Docker backend: every node a container on one engine (dockerode), with
// no Docker network; its network namespace is named under /run/netns (a link
// to /proc/<pid>/ns/net, as containerlab does) so the nets are wired, and
// every iproute2/nft/tc/ss/tcpdump/conntrack step runs, from the host exactly
// as on the netns runtime. Programs of the node (agents, daemons) run inside
// the container (its files, its namespaces) through nsenter, as host children
// the lab watches and stops by PID.
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import type Dockerode from "dockerode";
import { run, type ExecOptions, type ExecResult } from "../../exec";
import type { NetSpec, NodeSpec } from "../../topology/model";
import { configureAddresses, wireNet } from "../links";
import { NETNS_DIR, cgroupNames, createNamespace, isNamespaceLink, killPid, listNamespaces, namespaceProcesses, removeNamespaces, staleLink, stillAlive, untilGone } from "../namespaces";
import { RuntimeBase } from "../base";
import { programArgv } from "../programs";
import type { HarnessProgram, Removal, Runtime, SpawnOptions } from "../runtime";
import { NS_PREFIX, labDir, processStart, writeState, type LabState } from "../state";
import { LABEL, capsOfMask, cgroupProcsFiles, containerName, containerOptions, nsenterArgv, type Confinement } from "./container";
import { engineOf } from "./engines";
import { IMAGE_APP_DIR, IMAGE_NODE } from "./image";

/** One engine of a lab (a lab is whole on one engine). */
export interface DockerEngine {
  /** The URL as given (recorded in the lab's state, so gc and down reach the same engine); none: DOCKER_HOST or the local socket. */
  url?: string;
  /** dockerode for its queries (list, inspect: a short timeout), connected on first use (the same client every time). */
  connect(): Promise<Dockerode>;
  /** dockerode for container create, start and remove (a longer timeout: under load these take seconds). */
  lifecycle(): Promise<Dockerode>;
}

interface Started {
  pid: number; // the container's init, in the host's PID namespace
  start: string; // its start time, so a recycled PID is never taken for it
  confine: Confinement; // its cgroups and capabilities, which programs started in it get too
}

export class DockerRuntime extends RuntimeBase implements Runtime {
  readonly kind = "docker" as const;
  private readonly started = new Map<string, Started>();

  constructor(
    labId: string,
    state: LabState,
    private readonly engine: DockerEngine,
    /** The node image's tag on the engine, resolved once, when the first node is created. */
    private readonly image: (docker: Dockerode) => Promise<string>,
  ) {
    super(labId, state);
  }

  netnsName(node: string): string {
    return containerName(this.labId, node);
  }

  harnessArgv(program: HarnessProgram, args: readonly string[] = []): string[] {
    return programArgv(IMAGE_NODE, IMAGE_APP_DIR, program, args);
  }

  enterArgv(node: string): string[] {
    return ["docker", ...(this.engine.url ? ["-H", this.engine.url] : []), "exec", "-it", containerName(this.labId, node), "bash"];
  }

  private record(ns: string): void {
    // recorded before it exists: if we are killed in between, gc still finds it by name (and the container by label)
    this.state.namespaces.push(ns);
    writeState(this.state);
  }

  private imageTag?: Promise<string>;

  createNode(node: NodeSpec): Promise<void> {
    return this.step(async () => {
      this.imageTag ??= this.engine.connect().then((d) => this.image(d));
      const image = await this.imageTag;
      const name = containerName(this.labId, node.name);
      this.record(name);
      const c = await (await this.engine.lifecycle()).createContainer(
        containerOptions({ labId: this.labId, node, image, topology: this.state.topology, runDir: labDir(this.labId), ownerPid: this.state.ownerPid, ownerStart: this.state.ownerStart }),
      );
      await c.start();
      const pid = (await (await this.engine.connect()).getContainer(c.id).inspect()).State.Pid;
      const start = processStart(pid);
      // a remote engine's PID may name an unrelated local process: wiring its namespace would touch this host
      if (!pid || !start || !cgroupNames(pid, c.id)) {
        throw new Error(`container ${name} started, but its init (pid ${pid}) is not a process of this host: the docker runtime wires containers from the host they run on, so engine ${this.engine.url ?? "DOCKER_HOST"} must be local (unix://)`);
      }
      this.started.set(node.name, { pid, start, confine: confinementOf(pid) });
      // whose namespace the link names, recorded before it exists: once the container dies its PID may be any process's
      this.state.links = { ...this.state.links, [name]: { pid, start, container: c.id } };
      writeState(this.state);
      // the containerlab way: the container's namespace under the name `ip netns` knows
      fs.mkdirSync(NETNS_DIR, { recursive: true });
      fs.rmSync(`${NETNS_DIR}/${name}`, { force: true });
      fs.symlinkSync(`/proc/${pid}/ns/net`, `${NETNS_DIR}/${name}`);
    });
  }

  createNet(net: NetSpec): Promise<void> {
    return this.step(() =>
      // through liveLink: a link whose container died names whatever process got its PID
      wireNet(this.labId, net, (n) => this.liveLink(n), async (ns) => {
        this.record(ns);
        await createNamespace(ns);
      }),
    );
  }

  configureNode(node: NodeSpec): Promise<void> {
    return this.step(async () => configureAddresses(this.liveLink(node.name), node));
  }

  /** The node's namespace name, once its link is known to still name the container's namespace (else throws: never a foreign one). */
  private liveLink(node: string): string {
    const name = this.netnsName(node);
    const stale = staleLink(name, this.state.links?.[name]);
    if (stale) throw new Error(`lab ${this.labId}: node ${node} is gone (${stale})`);
    return name;
  }

  exec(node: string, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    // the host's tools in the node's network namespace: works with any image
    let ns: string;
    try {
      ns = this.liveLink(node);
    } catch (e) {
      return Promise.reject(e);
    }
    return run(["ip", "netns", "exec", ns, ...argv], opts);
  }

  spawn(node: string, argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    if (opts.fromHost) return this.startChild(["ip", "netns", "exec", this.liveLink(node), ...argv], opts);
    const s = this.startedOf(node);
    if (!s) throw new Error(`lab ${this.labId}: no container for node ${node}`);
    // a recycled PID: nsenter would enter (and confine the program to) some other process's namespaces
    const now = processStart(s.pid);
    if (now !== s.start) throw new Error(`lab ${this.labId}: node ${node} is gone (its container's init, pid ${s.pid}, ${now === undefined ? "has exited" : `now started at ${now}, not ${s.start}`})`);
    const confine = { ...s.confine, caps: [...new Set([...s.confine.caps, ...(opts.capabilities ?? [])])] };
    return signalsToProgram(this.startChild(nsenterArgv(s.pid, argv, confine), opts));
  }

  /**
   * The node's container as this process started it, or — for a lab another process built (`vpnlab impair` on a
   * lab held by `vpnlab up`) — as its record names it, once the link is known to still name that container.
   */
  private startedOf(node: string): Started | undefined {
    const known = this.started.get(node);
    if (known) return known;
    const link = this.state.links?.[containerName(this.labId, node)];
    if (!link) return undefined;
    this.liveLink(node); // throws for a stale link: never a recycled PID's namespaces or cgroups
    const s = { pid: link.pid, start: link.start, confine: confinementOf(link.pid) };
    this.started.set(node, s);
    return s;
  }

  async vanished(): Promise<string[]> {
    const gone: string[] = [];
    for (const [node, s] of this.started) {
      const name = containerName(this.labId, node);
      if (processStart(s.pid) !== s.start) gone.push(`container ${name} (node ${node})`);
      // without its name the host's tools (impairments, nftables, evidence) no longer reach the node
      else if (!isNamespaceLink(name)) gone.push(`namespace ${name} (node ${node})`);
    }
    const bridges = `${NS_PREFIX}${this.labId}-net-`;
    for (const ns of this.state.namespaces) {
      if (ns.startsWith(bridges) && !fs.existsSync(`${NETNS_DIR}/${ns}`)) gone.push(`namespace ${ns} (the bridge of net ${ns.slice(bridges.length)})`);
    }
    return gone;
  }

  async destroy(): Promise<void> {
    await this.quiesce();
    // nothing was recorded, so nothing was created: the engine need not even answer (a lab that could not start)
    if (this.state.namespaces.length === 0) return;
    const { left } = await removeDockerLab(this.engine, this.labId, this.state);
    if (left.length) throw new Error(`lab ${this.labId}: could not remove ${left.join(", ")} (see \`vpnlab gc\`)`);
  }
}

/**
 * Make child.kill() (what stopProcess uses) signal the program inside the container
 * rather than its nsenter: nsenter then reaps it and exits with its status. Killing
 * nsenter instead would orphan the program to the host's init (setpriv's parent-death
 * signal still ends it), and a zombie of the container's PID namespace that the
 * host's init is slow to reap holds up the container's removal (measured here: 1-1.5 s).
 */
function signalsToProgram(child: ChildProcess): ChildProcess {
  const nsenterKill = child.kill.bind(child);
  child.kill = (signal?: NodeJS.Signals | number): boolean => {
    const program = child.pid === undefined ? undefined : firstChild(child.pid);
    if (program === undefined || child.exitCode !== null || child.signalCode !== null) return nsenterKill(signal);
    try {
      process.kill(program, signal ?? "SIGTERM");
      return true;
    } catch {
      return nsenterKill(signal);
    }
  };
  return child;
}

/** The container init's cgroups and capability bounding set (read once it runs). */
function confinementOf(pid: number): Confinement {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const bnd = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (!bnd) throw new Error(`no CapBnd in /proc/${pid}/status`);
  const procCgroup = fs.readFileSync(`/proc/${pid}/cgroup`, "utf8");
  const cgroupProcs = cgroupProcsFiles(procCgroup, fs.readFileSync("/proc/self/mountinfo", "utf8")).filter((f) => fs.existsSync(f));
  // without one, programs started in the container would run in the host's cgroups: unconfined
  if (cgroupProcs.length === 0) {
    throw new Error(`no cgroup.procs file of the container's cgroups (${procCgroup.trim().split("\n").join("; ")}) under this host's cgroup mounts (/proc/self/mountinfo): programs started in it could not be confined to them`);
  }
  return { cgroupProcs, caps: capsOfMask(bnd) };
}

/** The (only) child of a process, from /proc; undefined when it has none (yet, or any more). */
function firstChild(pid: number): number | undefined {
  try {
    const first = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/)[0];
    return first ? Number(first) : undefined;
  } catch {
    return undefined;
  }
}

/** The lab's containers on the engine, found by label only: a container without vpnlab's labels is never one of them. */
export async function labContainers(docker: Dockerode, labId?: string): Promise<Dockerode.ContainerInfo[]> {
  const label = labId ? [`${LABEL.lab}=${labId}`, `${LABEL.runtime}=docker`] : [LABEL.lab, `${LABEL.runtime}=docker`];
  return docker.listContainers({ all: true, filters: JSON.stringify({ label }) });
}

/**
 * Everything of one docker lab, found by record, by name and by label: its
 * containers (removed with everything in them), the host processes that were
 * still in their network namespaces (a capture of a killed run), the namespace
 * links and the bridge namespaces. Idempotent. A link that no longer names the
 * process recorded for it (a dead container's PID reused, the host's namespace)
 * is only unlinked: nothing in the namespace it now names is touched.
 */
export async function removeDockerLab(engine: DockerEngine, labId: string, state: LabState | undefined): Promise<Removal> {
  const prefix = `${NS_PREFIX}${labId}-`;
  const names = new Set([...(await listNamespaces()), ...(state?.namespaces ?? [])].filter((ns) => ns.startsWith(prefix)));
  const links = [...names].filter((ns) => isNamespaceLink(ns));
  // read while the containers still hold the namespaces: afterwards the links dangle
  const live = links.filter((l) => staleLink(l, state?.links?.[l]) === undefined);
  const removed: string[] = [];
  const left: string[] = [];
  let containers: Dockerode.ContainerInfo[];
  try {
    containers = await labContainers(await engine.connect(), labId);
  } catch (e) {
    return unreachableEngine(engine, labId, e as Error, links, live, [...names].filter((ns) => !links.includes(ns)));
  }
  const inside = (await Promise.all(live.map((l) => namespaceProcesses(l)))).flat();
  const lifecycle = containers.length ? await engine.lifecycle() : undefined;
  await Promise.all(
    containers.map(async (c) => {
      const name = c.Names[0]?.replace(/^\//, "") ?? c.Id.slice(0, 12);
      try {
        await lifecycle!.getContainer(c.Id).remove({ force: true, v: true });
        removed.push(`container ${name}`);
      } catch (e) {
        if ((e as { statusCode?: number }).statusCode === 404) return; // gone meanwhile
        left.push(`container ${name} (${(e as Error).message.split("\n")[0]})`);
      }
    }),
  );
  // the containers' own processes went with them; what remains ran from the host
  const stray = stillAlive(inside);
  stray.forEach((p) => killPid(p.pid, "SIGTERM", p.start));
  const stuck = await untilGone(async () => stillAlive(stray));
  if (stuck.length) left.push(`processes ${stuck.map((p) => p.pid).join(", ")} in the namespaces of lab ${labId}`);
  for (const l of links) {
    fs.rmSync(`${NETNS_DIR}/${l}`, { force: true });
    removed.push(`namespace link ${l}`);
  }
  const bridges = await removeNamespaces([...names].filter((ns) => !links.includes(ns)));
  removed.push(...bridges.removed.map((n) => `namespace ${n}`));
  left.push(...bridges.left.map((n) => `namespace ${n}`));
  return { removed, left };
}

/** The engine's unix socket when it is one and no longer exists (the engine is gone, and with it its containers' processes). */
function socketGone(url: string | undefined): string | undefined {
  let socket: string | undefined;
  try {
    socket = engineOf(url).options.socketPath;
  } catch {
    return undefined;
  }
  return socket && !fs.existsSync(socket) ? socket : undefined;
}

/**
 * What can go of a docker lab whose engine does not answer: its stale links (they name no
 * container any more) and its bridge namespaces (the host's own); a link still naming its
 * container stays (the container may run). The containers are left, so the record is kept,
 * unless the engine's socket is gone: then there is no engine to hold any.
 */
async function unreachableEngine(engine: DockerEngine, labId: string, why: Error, links: readonly string[], live: readonly string[], bridgeNs: readonly string[]): Promise<Removal> {
  const removed: string[] = [];
  const left: string[] = [];
  for (const l of links.filter((x) => !live.includes(x))) {
    fs.rmSync(`${NETNS_DIR}/${l}`, { force: true });
    removed.push(`namespace link ${l}`);
  }
  left.push(...live.map((l) => `namespace link ${l} (its container still runs)`));
  const bridges = await removeNamespaces(bridgeNs);
  removed.push(...bridges.removed.map((n) => `namespace ${n}`));
  left.push(...bridges.left.map((n) => `namespace ${n}`));
  const gone = socketGone(engine.url);
  if (!gone) left.push(`containers of lab ${labId} on engine ${engine.url ?? engineOf().url} (unreachable: ${why.message.split("\n")[0]})`);
  return { removed, left };
}
