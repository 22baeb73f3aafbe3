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

/** The argv that runs `argv` inside a container whose init has host PID `pid`, as a child the host can signal. */
export function nsenterArgv(pid: number, argv: readonly string[]): string[] {
  // -p forks: the program is nsenter's child, and nsenter (util-linux 2.38) forwards no signal to it.
  // setpriv --pdeathsig makes the program get SIGTERM when its nsenter dies, so stopping or
  // killing the host child stops the program too. No --wd: nsenter would open it before entering
  // the mount namespace, leaving a working directory the program cannot name (HAProxy refuses to
  // start then); entering the mount namespace puts it at the container's root by itself.
  return ["nsenter", "-t", String(pid), "-m", "-u", "-i", "-n", "-p", "--", "setpriv", "--pdeathsig", "TERM", "--", ...argv];
}
