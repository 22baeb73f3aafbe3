// The runtime registry: one line per runtime, each loaded only when asked for
// (a netns run never loads dockerode). Nothing outside harness/runtime/
// imports a backend directly; it asks here by name.
import { RUNTIME_KINDS, type RuntimeKind, type Scenario } from "../topology/model";
import type { HostConfig } from "../config";
import type { Location, RuntimeModule, RuntimeOptions } from "./runtime";
import type { LabState } from "./state";

const MODULES: Record<RuntimeKind, () => Promise<RuntimeModule>> = {
  netns: async () => (await import("./netns")).netnsRuntime,
  docker: async () => (await import("./docker")).dockerRuntime,
};

export { RUNTIME_KINDS };
export const DEFAULT_RUNTIME: RuntimeKind = "netns";

export function isRuntimeKind(s: string): s is RuntimeKind {
  return (RUNTIME_KINDS as string[]).includes(s);
}

/**
 * The runtime of a scenario, first found wins: the command line's --runtime, the topology file's runtime:,
 * the host config's runtime:, VPNLAB_RUNTIME, netns. run, up and check all decide it here.
 */
export function chooseRuntime(cli: string | undefined, file: RuntimeKind | undefined, config?: RuntimeKind, env: NodeJS.ProcessEnv = process.env): RuntimeKind {
  const fromEnv = env.VPNLAB_RUNTIME === "" ? undefined : env.VPNLAB_RUNTIME;
  const pick = cli ?? file ?? config ?? fromEnv ?? DEFAULT_RUNTIME;
  if (!isRuntimeKind(pick)) {
    const from = cli !== undefined ? "--runtime" : "VPNLAB_RUNTIME";
    throw new Error(`${from} ${JSON.stringify(pick)} is not a runtime — use one of ${RUNTIME_KINDS.join(", ")}`);
  }
  return pick;
}

/** The scenarios, each with its runtime decided (chooseRuntime) and stored on it: what a lab, a spread and a result read. */
export function withRuntimes(scenarios: readonly Scenario[], cli: string | undefined, config: RuntimeKind | undefined, env: NodeJS.ProcessEnv = process.env): Scenario[] {
  return scenarios.map((s) => ({ ...s, runtime: chooseRuntime(cli, s.runtime, config, env) }));
}

export function runtimeModule(kind: RuntimeKind): Promise<RuntimeModule> {
  const load = MODULES[kind];
  if (!load) throw new Error(`no runtime ${JSON.stringify(kind)} — use one of ${RUNTIME_KINDS.join(", ")}`);
  return load();
}

/** The factory: a new lab's runtime, by name. */
export async function createRuntime(kind: RuntimeKind, labId: string, state: LabState, opts?: RuntimeOptions) {
  return (await runtimeModule(kind)).create(labId, state, opts);
}

/** Every registered runtime's module (gc and ls look through all of them). */
export function allRuntimeModules(): Promise<RuntimeModule[]> {
  return Promise.all(RUNTIME_KINDS.map((k) => runtimeModule(k)));
}

/** Where each lab of a pool goes: per runtime, the least busy of that runtime's locations. */
export interface Placement {
  /** Run `work` at the location the scenario's lab goes to; `several`: its runtime has more than one (say which). */
  on<T>(s: Scenario, work: (where: Location, several: boolean) => Promise<T>): Promise<T>;
}

/**
 * A pool's placement over the locations of each runtime the scenarios run on (decided by withRuntimes), from the
 * host config and the command line's --engine values (`cli`). Values no runtime of these scenarios takes are refused.
 */
export async function placement(scenarios: readonly Scenario[], config: HostConfig | undefined, cli: readonly string[] | undefined): Promise<Placement> {
  const { Spread } = await import("./spread"); // loaded here: `check` loads the registry, not what running needs
  const spreads = new Map<RuntimeKind, InstanceType<typeof Spread<Location>>>();
  const kinds = [...new Set(scenarios.map((s) => chooseRuntime(undefined, s.runtime)))];
  const refused: Error[] = [];
  for (const kind of kinds) {
    const mod = await runtimeModule(kind);
    let places: Location[];
    try {
      places = mod.locations(config, cli);
    } catch (e) {
      if (!cli || cli.length === 0) throw e;
      // another runtime of this run takes them (a variant of its own runtime:); this one keeps its own
      refused.push(e as Error);
      places = mod.locations(config);
    }
    spreads.set(kind, new Spread(places));
  }
  if (kinds.length > 0 && refused.length === kinds.length) throw refused[0];
  return {
    on(s, work) {
      const spread = spreads.get(chooseRuntime(undefined, s.runtime));
      if (!spread) throw new Error(`scenario ${s.variant} runs on ${s.runtime ?? "?"}, which this placement was not made for`);
      return spread.on((p) => work(p, spread.places.length > 1));
    },
  };
}
