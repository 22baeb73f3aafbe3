// A lab held by `vpnlab up`, reached from another process (`vpnlab impair`,
// `heal`, `down`): its runtime recreated from its record, an Impairer over it
// that has adopted the faults the record lists, and the record's fault list
// kept current under a lock (two impair commands at once must not lose one).
import * as fs from "node:fs";
import * as path from "node:path";
import { Impairer } from "../impair/apply";
import type { ImpairBackend } from "../impair/backends/types";
import { describeSelection, type Direction } from "../impair/fault";
import { describeImpairment } from "../impair/impairment";
import type { DropCount } from "../impair/counters";
import { runtimeModule } from "../runtime";
import type { Runtime } from "../runtime/runtime";
import { LAB_ID_RE, labDir, ownerAlive, readState, writeState, type HeldFault, type LabState } from "../runtime/state";
import { loadTopology, selectScenarios } from "../topology/load";
import type { FaultTarget, Scenario } from "../topology/model";
import { UsageError } from "./command";
import { withLockFile } from "./lock";

export interface HeldLab {
  state: LabState;
  scenario: Scenario;
  runtime: Runtime;
  impairer: Impairer;
}

/** The topology file as the lab's owner read it: a relative path is its working directory's. */
function topologyPath(state: LabState): string {
  if (path.isAbsolute(state.file)) return state.file;
  try {
    return path.resolve(fs.readlinkSync(`/proc/${state.ownerPid}/cwd`), state.file);
  } catch {
    return path.resolve(state.file);
  }
}

/**
 * Work on lab LAB's faults (impair, heal): the record to itself (withRecord), the lab opened over it.
 * `needOwner`: the lab must still be held by a live `vpnlab up` (impair); heal and down also work on
 * what an owner left. Throws UsageError naming what is wrong.
 */
export async function withHeldLab<T>(labId: string, needOwner: boolean, fn: (lab: HeldLab) => Promise<T>): Promise<T> {
  if (!LAB_ID_RE.test(labId) || !readState(labId)) throw new UsageError(`no lab named ${labId}; see \`vpnlab ls\``);
  return withRecord(labId, async (state) => fn(await openHeldLab(state, needOwner)));
}

async function openHeldLab(state: LabState, needOwner: boolean): Promise<HeldLab> {
  const labId = state.labId;
  if (needOwner && state.holder !== "up") {
    throw new UsageError(`lab ${labId} belongs to a \`vpnlab run\` or a test (pid ${state.ownerPid}), which applies its own chaos steps: impair a lab held by \`vpnlab up\``);
  }
  if (needOwner && !ownerAlive(state)) throw new UsageError(`lab ${labId} is orphaned (its \`vpnlab up\`, pid ${state.ownerPid}, is gone): \`vpnlab gc\` removes it`);
  let scenario: Scenario;
  try {
    [scenario] = selectScenarios(loadTopology(topologyPath(state)), [state.variant]);
  } catch (e) {
    throw new UsageError(`lab ${labId}: cannot read its topology ${state.file} (variant ${state.variant}) to resolve targets: ${(e as Error).message}`);
  }
  // the record is the runtime's state: a program the wire starts lands in its pids, and gc finds it there
  const runtime = (await runtimeModule(state.runtime)).create(labId, state, state.engine ? { engine: state.engine } : {});
  const impairer = new Impairer({ exec: runtime, runtime, dir: labDir(labId) });
  for (const f of state.faults ?? []) impairer.adopt(f.node, f.dev, f.fault, f.backend);
  return { state, scenario, runtime, impairer };
}

/** NODE or NODE.NET of the lab's scenario, with the interfaces it names. */
export function resolveTarget(scenario: Scenario, text: string): { target: FaultTarget; devs: string[] } {
  const [node, net, more] = text.split(".");
  const spec = scenario.nodes.find((n) => n.name === node);
  if (more !== undefined || !node) throw new UsageError(`target ${text}: not NODE or NODE.NET — write e.g. wan.edge (wan's interface on net edge) or wan (all of wan's)`);
  if (!spec) throw new UsageError(`target ${text}: no node ${node} in ${scenario.name}/${scenario.variant} — the nodes are: ${scenario.nodes.map((n) => n.name).join(", ")}`);
  const nets = spec.links.map((l) => l.net);
  if (net === undefined) return { target: { node }, devs: nets };
  if (!nets.includes(net)) throw new UsageError(`target ${text}: node ${node} is not on net ${net} — its nets are: ${nets.join(", ")}`);
  return { target: { node, net }, devs: [net] };
}

/** A node's first link's address (what --match from=/to= NODE means). */
export function firstAddress(scenario: Scenario, node: string): string | undefined {
  return scenario.nodes.find((n) => n.name === node)?.links[0]?.ip.addr;
}

/** "wan.edge egress" */
export function faultPlace(f: Pick<HeldFault, "node" | "dev" | "direction">): string {
  return `${f.node}.${f.dev} ${f.direction}`;
}

/** "3 packets dropped" / "drops not readable" — what a harvest said. */
export function droppedText(d: DropCount | undefined): string {
  if (!d) return "drops not readable";
  return `${d.packets} packet${d.packets === 1 ? "" : "s"} dropped`;
}

const LOCK_WAIT_MS = 15_000;

/**
 * Run `fn` with the lab's fault list to itself: an exclusive lock file in the lab's directory (withLockFile:
 * created complete, taken over when the process that holds it is gone), then the record re-read, changed by
 * `fn` and written back.
 */
async function withRecord<T>(labId: string, fn: (state: LabState) => Promise<T>): Promise<T> {
  return withLockFile(
    path.join(labDir(labId), "faults.lock"),
    async () => {
      const state = readState(labId);
      if (!state) throw new UsageError(`no lab named ${labId} (it went away); see \`vpnlab ls\``);
      return fn(state);
    },
    { waitMs: LOCK_WAIT_MS, what: `lab ${labId}: its fault record` },
  );
}

/** Record faults in place (replacing what was at each (node, dev, direction)) and drop cleared ones; written at once. */
export function recordFaults(state: LabState, add: HeldFault[], removed: { node: string; dev: string; direction: Direction }[]): void {
  const same = (a: { node: string; dev: string; direction: Direction }, b: { node: string; dev: string; direction: Direction }) => a.node === b.node && a.dev === b.dev && a.direction === b.direction;
  const gone = [...add, ...removed];
  state.faults = [...(state.faults ?? []).filter((f) => !gone.some((g) => same(f, g))), ...add];
  if (state.faults.length === 0) delete state.faults;
  writeState(state);
}

/** "loss 5% (random) [tcp dport 10000]" */
export function faultText(f: HeldFault): string {
  const sel = describeSelection(f.fault);
  return describeImpairment(f.fault.impairment) + (sel ? ` [${sel}]` : "");
}

/**
 * Clear these faults of the lab (each harvested first), printing a line per fault: what it dropped.
 * Every one is tried; the record loses those cleared. How many could not be cleared.
 */
export async function clearFaults(lab: HeldLab, faults: readonly HeldFault[], print: (line: string) => void, warn: (line: string) => void): Promise<number> {
  const cleared: HeldFault[] = [];
  let failed = 0;
  for (const f of faults) {
    try {
      await lab.impairer.clear(f.node, f.dev, f.direction);
      const rec = lab.impairer.applied[lab.impairer.applied.length - 1];
      print(`lab ${lab.state.labId}: ${faultPlace(f)}: cleared ${faultText(f)} (${f.backend}, since ${f.at}): ${droppedText(rec?.dropped)}`);
      cleared.push(f);
    } catch (e) {
      warn(`lab ${lab.state.labId}: ${faultPlace(f)}: could not clear ${faultText(f)} (${f.backend}): ${(e as Error).message}`);
      failed++;
    }
  }
  recordFaults(lab.state, [], cleared);
  return failed;
}

export type { HeldFault, ImpairBackend };
