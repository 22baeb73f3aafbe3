// What a lab node's container is, as data (pure, for tests): no network of
// Docker's at all (the runtime wires the lab's nets into its namespace, the
// containerlab way), a sleeping init that holds the namespaces, the lab's run
// directory at the same path as on the host, and labels by which `vpnlab ls`,
// `down` and `gc` find it — and without which they never touch a container.
import type Dockerode from "dockerode";
import type { NodeSpec } from "../../topology/model";
import { nodeNamespace, nodeSysctls } from "../links";

export const LABEL = {
  lab: "vpnlab.lab",
  node: "vpnlab.node",
  owner: "vpnlab.owner", // "<pid>:<start>" of the vpnlab process that owns the lab
  topology: "vpnlab.topology",
  runtime: "vpnlab.runtime",
} as const;

export interface ContainerPlan {
  labId: string;
  node: NodeSpec;
  image: string;
  topology: string;
  /** The lab's run directory (configs, sockets, logs the harness writes), mounted at the same path. */
  runDir: string;
  ownerPid: number;
  ownerStart: string;
}

/** The container's name: the node's namespace name, so `docker ps` and `ip netns` agree. */
export function containerName(labId: string, node: string): string {
  return nodeNamespace(labId, node);
}

export function containerLabels(p: Pick<ContainerPlan, "labId" | "topology" | "ownerPid" | "ownerStart"> & { node: string }): Record<string, string> {
  return {
    [LABEL.lab]: p.labId,
    [LABEL.node]: p.node,
    [LABEL.owner]: `${p.ownerPid}:${p.ownerStart}`,
    [LABEL.topology]: p.topology,
    [LABEL.runtime]: "docker",
  };
}

export function containerOptions(p: ContainerPlan): Dockerode.ContainerCreateOptions {
  return {
    name: containerName(p.labId, p.node.name),
    Image: p.image,
    Hostname: p.node.name,
    // PID 1 only holds the namespaces; the harness starts every program from the host (nsenter)
    Cmd: ["sleep", "infinity"],
    Labels: containerLabels({ ...p, node: p.node.name }),
    HostConfig: {
      // no Docker network: no management interface, no gateway on a host bridge, no address pool to overlap
      NetworkMode: "none",
      Init: true,
      CapAdd: ["NET_ADMIN", "NET_RAW"],
      Devices: [{ PathOnHost: "/dev/net/tun", PathInContainer: "/dev/net/tun", CgroupPermissions: "rwm" }],
      Sysctls: nodeSysctls(p.node.role),
      Binds: [`${p.runDir}:${p.runDir}`],
      AutoRemove: false,
      RestartPolicy: { Name: "no" },
    },
  };
}

/**
 * What a program started in a container from the host is held to, as the container's own
 * processes are: its cgroups (`cgroup.procs` files on the host) and its capability bounding set.
 */
export interface Confinement {
  cgroupProcs: readonly string[];
  /** setpriv names (cap_N or net_admin): the container's bounding set, plus what the program asks for. */
  caps: readonly string[];
}

// A fixed script: the host child writes its own PID into each cgroup.procs given before "--"
// (so nsenter and what it forks are the container's), then execs the rest. Paths arrive as arguments only.
const CGROUP_SCRIPT = 'n=0; for f; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 125; n=$((n+1)); done; shift $((n+1)); exec "$@"';

/** The argv that runs `argv` inside a container whose init has host PID `pid`, as a child the host can signal. */
export function nsenterArgv(pid: number, argv: readonly string[], c: Confinement): string[] {
  // -p forks: the program is nsenter's child, and nsenter (util-linux 2.38) forwards no signal to it.
  // setpriv --pdeathsig makes the program get SIGTERM when its nsenter dies, so stopping or
  // killing the host child stops the program too. No --wd: nsenter would open it before entering
  // the mount namespace, leaving a working directory the program cannot name (HAProxy refuses to
  // start then); entering the mount namespace puts it at the container's root by itself.
  // --bounding-set: root's capabilities after exec are its bounding set, so the program has the container's, not the host's.
  return [
    "sh", "-c", CGROUP_SCRIPT, "vpnlab-cgroup", ...c.cgroupProcs, "--",
    "nsenter", "-t", String(pid), "-m", "-u", "-i", "-n", "-p", "--",
    "setpriv", "--pdeathsig", "TERM", "--bounding-set", ["-all", ...c.caps.map((x) => `+${x}`)].join(","), "--", ...argv,
  ];
}

/** Capability numbers set in a /proc/PID/status Cap* mask (hex), as setpriv names (cap_N). Pure. */
export function capsOfMask(hex: string): string[] {
  const mask = BigInt(`0x${hex.trim()}`);
  const caps: string[] = [];
  for (let n = 0n; n < 64n; n++) if ((mask >> n) & 1n) caps.push(`cap_${n}`);
  return caps;
}

/** A mountinfo field as the path it names: the kernel escapes space, tab, newline and backslash as \ooo octal. Pure. */
export function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * The host's cgroup.procs files of the cgroups a process is in, from its /proc/PID/cgroup and
 * this host's /proc/self/mountinfo (cgroup v1 hierarchies by controller, or the v2 tree). A mount
 * of a subtree (root not "/") serves the cgroups under that subtree; a whole-hierarchy mount is
 * preferred. A cgroup no mount reaches gives no file (the caller refuses when none is left). Pure.
 */
export function cgroupProcsFiles(procCgroup: string, mountinfo: string): string[] {
  const mounts = mountinfo.split("\n").flatMap((line) => {
    const [pre, post] = line.split(" - ");
    if (!post) return [];
    const f = pre.split(" ");
    const [fstype, , opts] = post.split(" ");
    if (fstype !== "cgroup" && fstype !== "cgroup2") return [];
    return [{ fstype, root: unescapeMountinfo(f[3]), point: unescapeMountinfo(f[4]), opts: (opts ?? "").split(",") }];
  });
  const files: string[] = [];
  for (const line of procCgroup.split("\n")) {
    const m = /^(\d+):([^:]*):(\/.*)$/.exec(line.trim());
    if (!m) continue;
    const [, id, ctl, p] = m;
    const within = (root: string) => root === "/" || p === root || p.startsWith(`${root}/`);
    const mount = mounts
      .filter((x) => (id === "0" && ctl === "" ? x.fstype === "cgroup2" : x.fstype === "cgroup" && ctl.split(",").every((c) => x.opts.includes(c))))
      .filter((x) => within(x.root))
      // the whole hierarchy first, then the deepest subtree
      .sort((a, b) => (a.root === "/" ? -1 : b.root === "/" ? 1 : b.root.length - a.root.length))[0];
    if (!mount) continue;
    const rest = mount.root === "/" ? p : p.slice(mount.root.length);
    files.push(`${mount.point}${rest === "/" ? "" : rest}/cgroup.procs`);
  }
  return [...new Set(files)];
}
