// Runs impairments on nodes: picks the backend per (node, device), replaces
// whatever impairment was there before, clears, and keeps a record of every
// step (which backend served it, with the exact argv or ruleset).
import type { NodeExec, Runtime } from "../runtime/runtime";
import { type ImpairBackend, chooseBackend } from "./backend";
import { BACKENDS, backendNamed } from "./backends";
import type { Availability, BackendContext, ClearOptions } from "./backends/types";
import { addDrops, NO_DROPS, type DropCount } from "./counters";
import { describeSelection, type Direction, type Fault, type FlowMatch, validateFault } from "./fault";
import { checkDeviceName, describeImpairment, type Impairment, ImpairmentUnsupported } from "./impairment";

export interface AppliedRecord {
  at: string; // ISO 8601
  node: string;
  dev: string;
  action: "apply" | "clear";
  /** Which packets: egress unless said otherwise. */
  direction: Direction;
  /** apply: the backend that served it. */
  backend?: ImpairBackend;
  /** clear: the backends this Impairer had active there (each is cleaned up regardless). */
  cleared?: ImpairBackend[];
  impairment?: Impairment;
  match?: FlowMatch;
  seed?: number;
  description: string;
  /** netem: the tc argv that was run. */
  argv?: string[];
  /** nftables: the table that was loaded. */
  ruleset?: string;
  /** wire: its configuration. */
  detail?: string;
  /** apply (replacing an earlier impairment) and clear: what the kernel counted as dropped since the previous step here. */
  dropped?: DropCount;
}

export interface AppliedResult {
  backend: ImpairBackend;
  argv?: string[];
  ruleset?: string;
  detail?: string;
  /** The seed the fault's random decisions started from: its own, or the one the backend drew (the wire, unseeded). */
  seed?: number;
}

/** No backend on this node can express the impairment; nothing was changed. */
export class ImpairmentRefused extends Error {
  constructor(
    readonly node: string,
    readonly dev: string,
    readonly fault: Fault,
    readonly reasons: ImpairmentUnsupported[],
    reason: string,
  ) {
    super(`${node}/${dev}: ${reason}`);
    this.name = "ImpairmentRefused";
  }
}

interface Active {
  node: string;
  dev: string;
  direction: Direction;
  /** The fault in place, for reading its counters (undefined after a failed apply). */
  fault?: Fault;
  backends: Set<ImpairBackend>;
}

/** Packets an Impairer's rules dropped on one interface, over its whole life. */
export interface DropTotal extends DropCount {
  node: string;
  dev: string;
}

/** Where an Impairer reaches nodes: a NodeExec, or a lab's whole runtime (which the wire needs to start its program). */
export type ImpairerHost = NodeExec | { exec: NodeExec; runtime?: Runtime; dir?: string };

export class Impairer {
  readonly applied: AppliedRecord[] = [];
  private readonly active = new Map<string, Active>();
  /** Where a clear kept a backend's machinery up (prepare, clear with keep): clearAll removes it. */
  private readonly kept = new Map<string, { node: string; dev: string; direction: Direction }>();
  private readonly locks = new Map<string, Promise<void>>();
  private readonly totals = new Map<string, DropTotal>();
  private readonly ctx: BackendContext;
  // conclusive availability answers, per backend and node
  private readonly availability = new Map<string, Availability>();

  constructor(
    host: ImpairerHost,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.ctx = "exec" in host && typeof host.exec === "function" ? { exec: host as NodeExec } : (host as BackendContext);
  }

  /** Impair DEV on NODE (egress unless the fault says ingress), replacing any previous fault there. Throws ImpairmentRefused when no backend can. */
  async apply(node: string, dev: string, fault: Fault): Promise<AppliedResult> {
    checkDeviceName(dev);
    validateFault(fault);
    const direction = fault.direction ?? "egress";
    return this.serialize(node, dev, direction, async () => {
      const choice = await this.choose(node, dev, fault);
      const state = this.state(node, dev, direction);
      // replacing the rules may reset their counters: read what the previous fault dropped first
      const dropped = state.backends.size > 0 ? await this.harvest(state, choice.backend) : undefined;
      const chosen = backendNamed(choice.backend);
      const done = await chosen.apply(this.ctx, node, dev, { ...fault, direction });
      state.backends.add(choice.backend);
      state.fault = structuredClone({ ...fault, direction });
      // the new rules are in place: only now remove another backend's (no moment without either)
      for (const other of [...state.backends]) {
        if (other === choice.backend) continue;
        await backendNamed(other).clear(this.ctx, node, dev, direction);
        state.backends.delete(other);
      }
      const result: AppliedResult = { backend: choice.backend, ...done };
      const seed = fault.seed ?? done.seed;
      if (seed !== undefined) result.seed = seed;
      const sel = describeSelection({ ...fault, seed });
      this.applied.push({
        at: this.now().toISOString(),
        node,
        dev,
        action: "apply",
        direction,
        impairment: structuredClone(fault.impairment),
        ...(fault.match ? { match: structuredClone(fault.match) } : {}),
        description: describeImpairment(fault.impairment) + (sel ? ` [${sel}]` : ""),
        ...result,
        ...(dropped ? { dropped } : {}),
      });
      return result;
    });
  }

  /**
   * Make a later apply of FAULT on DEV quick (the backend that would serve it starts what it runs: the wire's
   * program), impairing nothing yet. clearAll (or a clear without keep) removes it. Throws ImpairmentRefused.
   */
  async prepare(node: string, dev: string, fault: Fault): Promise<void> {
    checkDeviceName(dev);
    validateFault(fault);
    const direction = fault.direction ?? "egress";
    return this.serialize(node, dev, direction, async () => {
      const b = backendNamed((await this.choose(node, dev, fault)).backend);
      if (!b.prepare) return;
      await b.prepare(this.ctx, node, dev, direction);
      this.kept.set(key(node, dev, direction), { node, dev, direction });
    });
  }

  /**
   * Remove any fault from DEV on NODE in one direction (every backend, whatever this Impairer knows). Idempotent.
   * With keep, a backend keeps what makes the next apply quick (the wire's program) until clearAll.
   */
  async clear(node: string, dev: string, direction: Direction = "egress", opts: ClearOptions = {}): Promise<void> {
    checkDeviceName(dev);
    return this.serialize(node, dev, direction, async () => {
      const state = this.active.get(key(node, dev, direction));
      const known = [...(state?.backends ?? [])];
      const dropped = state && known.length > 0 ? await this.harvest(state, undefined) : undefined;
      // every backend, not only the known ones: an apply that failed half-way, or another process's cut-short
      // impair, may have left something (each backend's clear is cheap when it has nothing there)
      for (const b of BACKENDS) await b.clear(this.ctx, node, dev, direction, opts);
      if (opts.keep) this.kept.set(key(node, dev, direction), { node, dev, direction });
      else this.kept.delete(key(node, dev, direction));
      this.active.delete(key(node, dev, direction));
      this.applied.push({
        at: this.now().toISOString(),
        node,
        dev,
        action: "clear",
        direction,
        cleared: known,
        description: "cleared",
        ...(dropped ? { dropped } : {}),
      });
    });
  }

  /**
   * Take over a fault another process put in place (a held lab's record, `vpnlab impair`): a later apply here
   * harvests and replaces it, a clear harvests it and removes it with the backend that served it.
   */
  adopt(node: string, dev: string, fault: Fault, backend: ImpairBackend): void {
    checkDeviceName(dev);
    const direction = fault.direction ?? "egress";
    const state = this.state(node, dev, direction);
    state.backends.add(backend);
    state.fault = structuredClone({ ...fault, direction });
  }

  /** Clear every (node, device, direction) this Impairer has impaired; tries them all, then throws if any failed. */
  async clearAll(): Promise<void> {
    // the faults in place and whatever a clear with keep (or prepare) left up
    const all = new Map<string, { node: string; dev: string; direction: Direction }>(this.kept);
    for (const [k, a] of this.active) all.set(k, a);
    const targets = [...all.values()];
    const results = await Promise.allSettled(targets.map((t) => this.clear(t.node, t.dev, t.direction)));
    const errors = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
    if (errors.length > 0) throw new AggregateError(errors, `clearing impairments failed on ${errors.length} of ${targets.length} interfaces`);
  }

  /** Whether a clear with keep (or prepare) left something up that clearAll would remove. */
  hasKept(): boolean {
    return this.kept.size > 0;
  }

  /** The faults in place now, per (node, device, direction). */
  activeFaults(): { node: string; dev: string; direction: Direction; backends: ImpairBackend[]; fault?: Fault }[] {
    return [...this.active.values()].map((a) => ({ node: a.node, dev: a.dev, direction: a.direction, backends: [...a.backends], ...(a.fault ? { fault: structuredClone(a.fault) } : {}) }));
  }

  /** Every interface this Impairer impaired, with what its rules dropped (read at each replace and clear). */
  dropTotals(): DropTotal[] {
    return [...this.totals.values()].map((t) => ({ ...t }));
  }

  /** The backend that serves the fault here (the registry's first that can and is available). Throws ImpairmentRefused. */
  private async choose(node: string, dev: string, fault: Fault): Promise<{ backend: ImpairBackend }> {
    const avail = new Map<ImpairBackend, Availability>();
    for (const b of BACKENDS) {
      if (b.unsupported(fault).length === 0) avail.set(b.name, await this.available(b.name, node, dev));
    }
    const choice = chooseBackend(fault, (b) => avail.get(b) ?? { available: true });
    if ("refused" in choice) throw new ImpairmentRefused(node, dev, fault, choice.reasons, choice.refused);
    return choice;
  }

  private async available(b: ImpairBackend, node: string, dev: string): Promise<Availability> {
    const k = `${b}\u0000${node}`;
    const known = this.availability.get(k);
    if (known) return known;
    const a = await backendNamed(b).available(this.ctx, node, dev);
    this.availability.set(k, a);
    return a;
  }

  /** Read the drop counters of the backends active there before they change. A counter that cannot be read is not guessed. */
  private async harvest(state: Active, next: ImpairBackend | undefined): Promise<DropCount | undefined> {
    if (!state.fault) return undefined;
    const reads: (DropCount | undefined)[] = [];
    for (const b of state.backends) {
      reads.push(await backendNamed(b).harvest(this.ctx, state.node, state.dev, state.fault, next));
    }
    const read = reads.filter((d): d is DropCount => d !== undefined);
    if (read.length === 0) return undefined;
    const got = read.reduce(addDrops, NO_DROPS);
    const k = `${state.node}\u0000${state.dev}`;
    const t = this.totals.get(k) ?? { node: state.node, dev: state.dev, ...NO_DROPS };
    this.totals.set(k, { ...t, ...addDrops(t, got) });
    return got;
  }

  private state(node: string, dev: string, direction: Direction): Active {
    const k = key(node, dev, direction);
    let s = this.active.get(k);
    if (!s) {
      s = { node, dev, direction, backends: new Set() };
      this.active.set(k, s);
    }
    return s;
  }

  /** One operation at a time per (node, dev, direction), in call order. */
  private serialize<T>(node: string, dev: string, direction: Direction, fn: () => Promise<T>): Promise<T> {
    const k = key(node, dev, direction);
    const prev = this.locks.get(k) ?? Promise.resolve();
    const run = prev.then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(k, tail);
    void tail.then(() => {
      if (this.locks.get(k) === tail) this.locks.delete(k);
    });
    return run;
  }
}

function key(node: string, dev: string, direction: Direction): string {
  return `${node}\u0000${dev}\u0000${direction}`;
}
