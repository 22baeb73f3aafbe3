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
