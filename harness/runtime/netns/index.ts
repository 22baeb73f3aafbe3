// The netns runtime as the registry sees it.
import { labIdOfName } from "../links";
import { isNamespaceLink, listNamespaces } from "../namespaces";
import type { RuntimeModule } from "../runtime";
import { LAB_ID_RE, readState } from "../state";
import { NetnsRuntime, removeNetnsLab } from "./netns";

export const netnsRuntime: RuntimeModule = {
  kind: "netns",
  async unavailable() {
    if (process.getuid?.() !== 0) return "the netns runtime needs root (network namespaces): run as root";
    return undefined;
  },
  create: (labId, state) => new NetnsRuntime(labId, state),
  locations(_config, cli) {
    // one location: this host; an engine list means the user meant a runtime that has engines
    if (cli && cli.length > 0) throw new Error("--engine is for the docker runtime: add --runtime docker (or runtime: docker in the file or the config)");
    return [{ name: "", options: {} }];
  },
  // what namespaces need (root, iproute2, nft) is what every lab needs: doctor checks it for the host
  doctorChecks: async () => [],
  async listObjects() {
    const byLab = new Map<string, string[]>();
    for (const ns of await listNamespaces()) {
      const id = labIdOfName(ns, LAB_ID_RE);
      // links to containers' namespaces are listed by the docker runtime, with their containers
      if (!id || isNamespaceLink(ns)) continue;
      // a lab of another runtime (a docker lab's bridge namespaces) is that runtime's to list and remove
      const runtime = readState(id)?.runtime;
      if (runtime !== undefined && runtime !== "netns") continue;
      byLab.set(id, [...(byLab.get(id) ?? []), `namespace ${ns}`]);
    }
    return byLab;
  },
  async removeLab(labId, state) {
    const r = await removeNetnsLab(labId, state);
    return { removed: r.removed.map((ns) => `namespace ${ns}`), left: r.left.map((ns) => `namespace ${ns}`) };
  },
};
