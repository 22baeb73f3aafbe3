// Before a lab is built: can some impairment backend serve every chaos step
// of a scenario on this host? A step no backend can serve is refused up front
// (at `vpnlab check` and at the scenario's start), never half-way through a
// run. What each backend can express is its own pure declaration
// (ImpairBackendImpl.unsupported); whether it is there is asked of the host:
// netem needs the kernel's sch_netem, the others are assumed present (each
// still checks itself on the node when it applies).
import * as fs from "node:fs";
import * as os from "node:os";
import type { Scenario } from "../topology/model";
import { chooseBackend } from "./backend";
import type { Fault } from "./fault";
import { BACKENDS } from "./backends";
import type { Availability, ImpairBackend, ImpairBackendImpl } from "./backends/types";

/** netem as the host's files tell it (no root, nothing created): loaded, built in, or a module the kernel can load. */
export function netemPassive(root = "/"): Availability {
  const at = (p: string) => fs.existsSync(`${root}${p}`);
  if (at("sys/module/sch_netem")) return { available: true };
  const mods = `lib/modules/${os.release()}`;
  try {
    if (fs.readFileSync(`${root}${mods}/modules.builtin`, "utf8").includes("sch_netem")) return { available: true };
  } catch {
    // no list of built-in modules: look for the loadable one
  }
  for (const ext of ["ko", "ko.xz", "ko.zst", "ko.gz"]) if (at(`${mods}/kernel/net/sched/sch_netem.${ext}`)) return { available: true };
  return { available: false, reason: `the kernel has no netem qdisc (no /sys/module/sch_netem, no sch_netem module under /${mods})` };
}

/**
 * The first chaos step no backend can serve given `availability`, as a message
 * naming the step's line, what it asks and why each backend says no; undefined
 * when every step has a backend. Pure.
 */
export function chaosRefusalWith(scenario: Scenario, availability: (b: ImpairBackend) => Availability, backends: readonly ImpairBackendImpl[] = BACKENDS): string | undefined {
  for (const step of scenario.chaos) {
    if (!step.fault) continue;
    const choice = chooseBackend(step.fault, availability, backends);
    const on = step.on.net ? `${step.on.node}.${step.on.net}` : step.on.node;
    const what = step.schedule ? ` (${step.schedule})` : "";
    if ("refused" in choice) return `${scenario.file}:${step.line}: the chaos step on ${on}${what} cannot run on this host — ${choice.refused}`;
    const fw = wireOnFirewall(scenario, step.on.node, choice.backend);
    if (fw) return `${scenario.file}:${step.line}: the chaos step on ${on}${what} cannot run — ${fw}`;
  }
  return undefined;
}

/**
 * Why a fault the wire would serve cannot go on `node` when that node carries the scenario's firewall;
 * undefined when it can. The wire hands each packet to a TUN and back, so the firewall's conntrack sees it
 * twice: a NATed or redirected packet comes back already rewritten, matches neither direction of its
 * entry and is dropped, and masquerade gets no binding. Pure.
 */
export function wireOnFirewall(scenario: Pick<Scenario, "firewall" | "nodes">, node: string, backend: ImpairBackend): string | undefined {
  const fw = scenario.firewall?.node;
  if (backend !== "wire" || node !== fw) return undefined;
  const me = scenario.nodes.find((n) => n.name === fw);
  const nets = new Set(me?.links.map((l) => l.net) ?? []);
  const hops = scenario.nodes.filter((n) => n.name !== fw).flatMap((n) => n.links.filter((l) => nets.has(l.net)).map((l) => `${n.name}.${l.net}`));
  const instead = hops.length ? `impair a hop next to it instead (${hops.join(", ")})` : "impair a hop next to it instead";
  return (
    `it needs the userspace wire, which cannot run on ${fw}, the node that carries the firewall: each packet would pass its conntrack twice ` +
    `(a NATed or redirected packet comes back from the wire already rewritten, matches neither direction of its entry and is dropped) — ` +
    `${instead}; drops nftables serves (loss, drop, every, partition without a seed) may stay on ${fw}`
  );
}

/**
 * `vpnlab impair` on a held lab: the refusal of wireOnFirewall for `fault` on `node`, with this host's backends
 * (netem asked of the host's files only when the wire would otherwise serve it).
 */
export async function heldWireRefusal(scenario: Pick<Scenario, "firewall" | "nodes">, node: string, fault: Fault): Promise<string | undefined> {
  if (node !== scenario.firewall?.node) return undefined;
  const without = chooseBackend(fault, (b) => (b === "netem" ? { available: false } : { available: true }));
  if ("refused" in without || without.backend !== "wire") return undefined;
  netemProbe ??= Promise.resolve(netemPassive());
  const netem = await netemProbe;
  const real = chooseBackend(fault, (b) => (b === "netem" ? netem : { available: true }));
  return "refused" in real ? undefined : wireOnFirewall(scenario, node, real.backend);
}

/** Only the backends no other registered one can stand in for are asked about; netem is probed once per process. */
let netemProbe: Promise<Availability> | undefined;

/** The refusal (see chaosRefusalWith) on this host, asking the kernel about netem only when a step needs it. */
export async function chaosRefusal(scenario: Scenario): Promise<string | undefined> {
  // without netem's answer: does any step need it? (the common case — loss through nftables — asks nothing)
  const optimistic = chaosRefusalWith(scenario, () => ({ available: true }));
  if (optimistic) return optimistic;
  const withoutNetem = chaosRefusalWith(scenario, (b) => (b === "netem" ? { available: false } : { available: true }));
  if (!withoutNetem) return undefined;
  netemProbe ??= Promise.resolve(netemPassive());
  const netem = await netemProbe;
  return chaosRefusalWith(scenario, (b) => (b === "netem" ? netem : { available: true }));
}
