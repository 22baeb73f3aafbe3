// Runs impairments on nodes: picks the backend per (node, device), replaces
// whatever impairment was there before, clears, and keeps a record of every
// step (which backend served it, with the exact argv or ruleset).
import type { NodeExec } from "../runtime/runtime";
import { type ImpairBackend, chooseBackend, probeNetem } from "./backend";
import { checkDeviceName, describeImpairment, type Impairment, ImpairmentUnsupported, validateImpairment } from "./impairment";
import { addDrops, NO_DROPS, nftListTableArgv, parseNetemDrops, parseNftDrops, tcStatsArgv, type DropCount } from "./counters";
import { netemArgv, netemClearArgv } from "./netem";
import { nftDeleteTable, nftLossRuleset, nftReplaceScript, nftTableName } from "./nftables";
import { showExplicitRoot } from "./tc";

export interface AppliedRecord {
  at: string; // ISO 8601
  node: string;
  dev: string;
  action: "apply" | "clear";
  /** apply: the backend that served it. */
  backend?: ImpairBackend;
  /** clear: the backends this Impairer had active there (both are cleaned up regardless). */
  cleared?: ImpairBackend[];
  impairment?: Impairment;
  description: string;
  /** netem: the tc argv that was run. */
  argv?: string[];
  /** nftables: the table that was loaded. */
  ruleset?: string;
  /** apply (replacing an earlier impairment) and clear: what the kernel counted as dropped since the previous step here. */
  dropped?: DropCount;
}

export interface AppliedResult {
  backend: ImpairBackend;
  argv?: string[];
  ruleset?: string;
}

/** No backend on this node can express the impairment; nothing was changed. */
export class ImpairmentRefused extends Error {
  constructor(
    readonly node: string,
    readonly dev: string,
    readonly impairment: Impairment,
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
  backends: Set<ImpairBackend>;
}

/** Packets an Impairer's rules dropped on one interface, over its whole life. */
export interface DropTotal extends DropCount {
  node: string;
  dev: string;
}

export class Impairer {
  readonly applied: AppliedRecord[] = [];
  private readonly active = new Map<string, Active>();
  private readonly locks = new Map<string, Promise<void>>();
  private readonly totals = new Map<string, DropTotal>();

  constructor(
    private readonly exec: NodeExec,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Impair DEV's egress on NODE, replacing any previous impairment there. Throws ImpairmentRefused when no backend can. */
  async apply(node: string, dev: string, imp: Impairment): Promise<AppliedResult> {
    checkDeviceName(dev);
    validateImpairment(imp);
    return this.serialize(node, dev, async () => {
      const probe = await probeNetem(this.exec, node, dev);
      const choice = chooseBackend(imp, probe.available, probe.reason);
      if ("refused" in choice) throw new ImpairmentRefused(node, dev, imp, choice.reasons, choice.refused);
      const state = this.state(node, dev);
      // replacing the rules resets their counters: read what the previous impairment dropped first
      const dropped = state.backends.size > 0 ? await this.harvest(node, dev, state.backends, choice.backend) : undefined;
      let result: AppliedResult;
      if (choice.backend === "netem") {
        const argv = netemArgv(dev, imp);
        await this.exec.exec(node, argv);
        state.backends.add("netem");
        if (state.backends.has("nftables")) {
          await this.removeNft(node, dev);
          state.backends.delete("nftables");
        }
        result = { backend: "netem", argv };
      } else {
        const table = nftTableName(dev);
        const ruleset = nftLossRuleset(table, dev, imp);
        await this.exec.exec(node, ["nft", "-f", "-"], { input: nftReplaceScript(table, ruleset) });
        state.backends.add("nftables");
        if (state.backends.has("netem")) {
          await this.removeNetem(node, dev);
          state.backends.delete("netem");
        }
        result = { backend: "nftables", ruleset };
      }
      this.applied.push({
        at: this.now().toISOString(),
        node,
        dev,
        action: "apply",
        impairment: structuredClone(imp),
        description: describeImpairment(imp),
        ...result,
        ...(dropped ? { dropped } : {}),
      });
      return result;
    });
  }

  /** Remove any impairment from DEV on NODE (both backends, whatever this Impairer knows). Idempotent. */
  async clear(node: string, dev: string): Promise<void> {
    checkDeviceName(dev);
    return this.serialize(node, dev, async () => {
      const known = [...(this.active.get(key(node, dev))?.backends ?? [])];
      const dropped = known.length > 0 ? await this.harvest(node, dev, new Set(known)) : undefined;
      await this.removeNft(node, dev);
      await this.removeNetem(node, dev);
      this.active.delete(key(node, dev));
      this.applied.push({
        at: this.now().toISOString(),
        node,
        dev,
        action: "clear",
        cleared: known,
        description: "cleared",
        ...(dropped ? { dropped } : {}),
      });
    });
  }

  /** Clear every (node, device) this Impairer has impaired; tries them all, then throws if any failed. */
  async clearAll(): Promise<void> {
    const targets = [...this.active.values()];
    const results = await Promise.allSettled(targets.map((t) => this.clear(t.node, t.dev)));
    const errors = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
    if (errors.length > 0) throw new AggregateError(errors, `clearing impairments failed on ${errors.length} of ${targets.length} interfaces`);
  }

  /** Every interface this Impairer impaired, with what its rules dropped (read at each replace and clear). */
  dropTotals(): DropTotal[] {
    return [...this.totals.values()].map((t) => ({ ...t }));
  }

  /**
   * Read the drop counters of the backends active on DEV before they go away: nftables always (a
   * replace resets its counters), netem only when it is about to be removed (`tc qdisc replace`
   * keeps a netem's statistics). A counter that cannot be read is not guessed: it counts nothing.
   */
  private async harvest(node: string, dev: string, active: Set<ImpairBackend>, next?: ImpairBackend): Promise<DropCount | undefined> {
    const reads: (DropCount | undefined)[] = [];
    if (active.has("nftables")) {
      const r = await this.exec.exec(node, nftListTableArgv(nftTableName(dev)), { allowFailure: true });
      reads.push(r.code === 0 ? safeParse(parseNftDrops, r.stdout) : undefined);
    }
    if (active.has("netem") && next !== "netem") {
      const r = await this.exec.exec(node, tcStatsArgv(dev), { allowFailure: true });
      reads.push(r.code === 0 ? safeParse(parseNetemDrops, r.stdout) : undefined);
    }
    const read = reads.filter((d): d is DropCount => d !== undefined);
    if (read.length === 0) return undefined;
    const got = read.reduce(addDrops, NO_DROPS);
    const k = key(node, dev);
    const t = this.totals.get(k) ?? { node, dev, ...NO_DROPS };
    this.totals.set(k, { ...t, ...addDrops(t, got) });
    return got;
  }

  private state(node: string, dev: string): Active {
    const k = key(node, dev);
    let s = this.active.get(k);
    if (!s) {
      s = { node, dev, backends: new Set() };
      this.active.set(k, s);
    }
    return s;
  }

  private async removeNft(node: string, dev: string): Promise<void> {
    await this.exec.exec(node, ["nft", "-f", "-"], { input: nftDeleteTable(nftTableName(dev)) });
  }

  /** Deletes DEV's root qdisc only when it is a netem (another kind is not ours to remove). */
  private async removeNetem(node: string, dev: string): Promise<void> {
    const root = await showExplicitRoot(this.exec, node, dev);
    if (root?.kind === "netem") await this.exec.exec(node, netemClearArgv(dev));
  }

  /** One operation at a time per (node, dev), in call order. */
  private serialize<T>(node: string, dev: string, fn: () => Promise<T>): Promise<T> {
    const k = key(node, dev);
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

function safeParse(parse: (s: string) => DropCount, stdout: string): DropCount | undefined {
  try {
    return parse(stdout);
  } catch {
    return undefined;
  }
}

function key(node: string, dev: string): string {
  return `${node}\u0000${dev}`;
}
