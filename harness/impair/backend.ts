// Which backend serves an impairment on a node: netem when the kernel has it
// and it can express the impairment, else nftables when it can, else a
// refusal with the reasons. Never a silently weaker substitute.
import type { NodeExec } from "../runtime/runtime";
import { BACKENDS } from "./backends";
import type { Availability, ImpairBackend, ImpairBackendImpl } from "./backends/types";
import { describeSelection, type Fault, validateFault } from "./fault";
import { describeImpairment, type ImpairmentUnsupported } from "./impairment";
import { classifyTcError, explicitRoot, firstLines, parseQdiscJson, tcQdiscArgv, tcQdiscDelRootArgv, tcQdiscShowRootArgv } from "./tc";

export type { ImpairBackend } from "./backends/types";

export interface NetemProbe {
  available: boolean;
  /** Why not (the kernel's own words where it gave any). */
  reason?: string;
}

// Per runtime (the NodeExec object) and node. Only conclusive answers are kept.
const probeCache = new WeakMap<NodeExec, Map<string, Promise<NetemProbe>>>();

/**
 * Does the node's kernel have the netem qdisc? Found out by trying: a netem
 * with zero delay is added as DEV's root qdisc and deleted again. When DEV
 * already carries a root qdisc somebody added, it is left alone: a netem there
 * answers the question, anything else makes the probe use the node's `lo`.
 * The answer is cached per runtime and node.
 */
export function probeNetem(exec: NodeExec, node: string, dev: string): Promise<NetemProbe> {
  let perNode = probeCache.get(exec);
  if (!perNode) {
    perNode = new Map();
    probeCache.set(exec, perNode);
  }
  const cached = perNode.get(node);
  if (cached) return cached;
  const cache = perNode;
  const p = probeOnce(exec, node, dev).then(
    (r) => {
      if (!r.conclusive) cache.delete(node);
      return r.available ? { available: true } : { available: false, reason: r.reason };
    },
    (e: unknown) => {
      cache.delete(node);
      throw e;
    },
  );
  perNode.set(node, p);
  return p;
}

/** Forget cached probe answers (all of a runtime's, or one node's). */
export function forgetNetemProbe(exec: NodeExec, node?: string): void {
  if (node === undefined) probeCache.delete(exec);
  else probeCache.get(exec)?.delete(node);
}

async function probeOnce(exec: NodeExec, node: string, dev: string): Promise<NetemProbe & { conclusive: boolean }> {
  const shown = await exec.exec(node, tcQdiscShowRootArgv(dev), { allowFailure: true });
  if (shown.code !== 0) {
    return { available: false, conclusive: false, reason: `netem probe on ${node}/${dev} inconclusive: ${firstLines(shown)}` };
  }
  const root = explicitRoot(parseQdiscJson(shown.stdout));
  if (root?.kind === "netem") return { available: true, conclusive: true };
  const probeDev = root ? "lo" : dev;
  const added = await exec.exec(node, tcQdiscArgv("add", probeDev, "netem", ["delay", "0ms"]), { allowFailure: true });
  if (added.code === 0) {
    await exec.exec(node, tcQdiscDelRootArgv(probeDev)); // throws (loudly) if our probe qdisc cannot be removed
    return { available: true, conclusive: true };
  }
  if (classifyTcError(added.stderr) === "kind-unknown") {
    return { available: false, conclusive: true, reason: `the kernel has no netem qdisc (tc: ${firstLines(added)})` };
  }
  return { available: false, conclusive: false, reason: `netem probe on ${node}/${probeDev} inconclusive: ${firstLines(added)}` };
}

export type BackendChoice = { backend: ImpairBackend } | { refused: string; reasons: ImpairmentUnsupported[] };

/**
 * The first backend, in the registry's order, that can serve the whole fault
 * and is available on the node; else a refusal naming, for each backend, what
 * it cannot do or why it is not there. Throws InvalidImpairment for values no
 * backend should ever see. `availability` answers for the node in question.
 */
export function chooseBackend(
  fault: Fault,
  availability: (b: ImpairBackend) => Availability,
  backends: readonly ImpairBackendImpl[] = BACKENDS,
): BackendChoice {
  validateFault(fault);
  const why: string[] = [];
  const reasons: ImpairmentUnsupported[] = [];
  for (const b of backends) {
    const no = b.unsupported(fault);
    const a = availability(b.name);
    if (no.length === 0 && a.available) return { backend: b.name };
    if (!a.available) why.push(`${b.name} is not available here${a.reason ? ` (${a.reason})` : ""}`);
    else {
      why.push(no.map((e) => e.message).join("; "));
      reasons.push(...no);
    }
  }
  const sel = describeSelection(fault);
  return { refused: `no backend can apply "${describeImpairment(fault.impairment)}${sel ? ` [${sel}]` : ""}": ${why.join("; ")}`, reasons };
}
