// Runs impairments on nodes: picks the backend per (node, device), replaces
// whatever impairment was there before, clears, and keeps a record of every
// step (which backend served it, with the exact argv or ruleset).
import type { NodeExec } from "../runtime/runtime";
import { type ImpairBackend, chooseBackend, probeNetem } from "./backend";
import { checkDeviceName, describeImpairment, type Impairment, ImpairmentUnsupported, validateImpairment } from "./impairment";
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

export class Impairer {
  readonly applied: AppliedRecord[] = [];
  private readonly active = new Map<string, Active>();
  private readonly locks = new Map<string, Promise<void>>();

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
      });
      return result;
    });
  }

  /** Remove any impairment from DEV on NODE (both backends, whatever this Impairer knows). Idempotent. */
  async clear(node: string, dev: string): Promise<void> {
    checkDeviceName(dev);
    return this.serialize(node, dev, async () => {
      const known = [...(this.active.get(key(node, dev))?.backends ?? [])];
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

function key(node: string, dev: string): string {
  return `${node}\u0000${dev}`;
}
