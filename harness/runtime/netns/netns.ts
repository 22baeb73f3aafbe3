// The embedded default backend: every node is a network namespace, every net
// a veth pair (two members) or a bridge living in a namespace of its own
// (more members), wired by harness/runtime/links.ts.
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { run, type ExecOptions, type ExecResult } from "../../exec";
import type { NetSpec, NodeSpec } from "../../topology/model";
import { configureAddresses, nodeNamespace, nodeSysctls, wireNet } from "../links";
import { NETNS_DIR, createNamespace, isNamespaceLink, listNamespaces, removeNamespaces } from "../namespaces";
import { hostHarnessArgv } from "../programs";
import type { HarnessProgram, Runtime, SpawnOptions } from "../runtime";
import { RuntimeBase } from "../base";
import { NS_PREFIX, writeState, type LabState } from "../state";

// the helpers below moved to shared modules; re-exported for the callers that know them here
export { bridgeNamespace, nodeConfigBatch, nodeNamespace, nodeSysctls } from "../links";
export { listNamespaces, namespacePids, removeNamespaces } from "../namespaces";

export class NetnsRuntime extends RuntimeBase implements Runtime {
  readonly kind = "netns" as const;

  netnsName(node: string): string {
    return nodeNamespace(this.labId, node);
  }

  harnessArgv(program: HarnessProgram, args: readonly string[] = []): string[] {
    return hostHarnessArgv(program, args);
  }

  enterArgv(node: string): string[] {
    return ["ip", "netns", "exec", this.netnsName(node), "bash"];
  }

  private async addNamespace(ns: string): Promise<void> {
    // record first: if we are killed between the two, gc still finds it by name
    this.state.namespaces.push(ns);
    writeState(this.state);
    await createNamespace(ns);
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
    return this.step(() => wireNet(this.labId, net, (n) => this.netnsName(n), (ns) => this.addNamespace(ns)));
  }

  configureNode(node: NodeSpec): Promise<void> {
    return this.step(() => configureAddresses(this.netnsName(node.name), node));
  }

  exec(node: string, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return run(["ip", "netns", "exec", this.netnsName(node), ...argv], opts);
  }

  spawn(node: string, argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    // `ip netns exec` execs the program, so the child's PID is the program's; a namespace
    // node sees the host's files, so fromHost changes nothing here
    return this.startChild(["ip", "netns", "exec", this.netnsName(node), ...argv], opts);
  }

  async vanished(): Promise<string[]> {
    // `ip netns del` unlinks the name at once, even while processes keep the namespace itself alive
    const prefix = `${NS_PREFIX}${this.labId}-`;
    return this.state.namespaces
      .filter((ns) => !fs.existsSync(`${NETNS_DIR}/${ns}`))
      .map((ns) => {
        const rest = ns.slice(prefix.length);
        return rest.startsWith("net-") ? `namespace ${ns} (the bridge of net ${rest.slice(4)})` : `namespace ${ns} (node ${rest})`;
      });
  }

  async destroy(): Promise<void> {
    await this.quiesce();
    const { left } = await removeNetnsLab(this.labId, this.state);
    if (left.length) throw new Error(`lab ${this.labId}: could not remove ${left.join(", ")} (see \`vpnlab gc\`)`);
  }
}

/** The namespaces of a netns lab: by record and by name (whatever carries the lab's prefix is the lab's). */
export async function removeNetnsLab(labId: string, state: LabState | undefined): Promise<{ removed: string[]; left: string[] }> {
  const prefix = `${NS_PREFIX}${labId}-`;
  // a link to a container's namespace is the docker runtime's to remove, never deleted from here
  const named = (await listNamespaces()).filter((ns) => ns.startsWith(prefix) && !isNamespaceLink(ns));
  // only names that carry the lab's prefix: a damaged record must not make gc touch anything else
  const recorded = (state?.namespaces ?? []).filter((ns) => ns.startsWith(prefix) && !isNamespaceLink(ns));
  return removeNamespaces([...new Set([...recorded, ...named])]);
}
