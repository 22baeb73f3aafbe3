// nftables drop rules: random loss, chosen packets, every Nth, a partition,
// on either direction and for a flow match; a table per device and direction.
import { nftListTableArgv, parseNftDrops } from "../counters";
import { ImpairmentUnsupported } from "../impairment";
import { NFTABLES, nftDeleteTable, nftLossRuleset, nftReplaceScript, nftTableName, nftUnsupported } from "../nftables";
import type { ImpairBackendImpl } from "./types";

export const nftablesBackend: ImpairBackendImpl = {
  name: "nftables",
  unsupported(fault) {
    const out = nftUnsupported(fault.impairment);
    const loss = fault.impairment.loss;
    if (fault.seed !== undefined && loss?.kind === "random" && loss.percent > 0 && loss.percent < 100) {
      out.push(new ImpairmentUnsupported("seed", NFTABLES, "numgen random draws from the kernel's generator, which cannot be seeded"));
    }
    return out;
  },
  async available() {
    return { available: true };
  },
  async apply(ctx, node, dev, fault) {
    const table = nftTableName(dev, fault.direction);
    const ruleset = nftLossRuleset(table, dev, fault.impairment, { direction: fault.direction, match: fault.match });
    await ctx.exec.exec(node, ["nft", "-f", "-"], { input: nftReplaceScript(table, ruleset) });
    return { ruleset };
  },
  async harvest(ctx, node, dev, fault) {
    // a replace resets the rules' counters: always read them first
    const r = await ctx.exec.exec(node, nftListTableArgv(nftTableName(dev, fault.direction)), { allowFailure: true });
    if (r.code !== 0) return undefined;
    try {
      return parseNftDrops(r.stdout);
    } catch {
      return undefined;
    }
  },
  async clear(ctx, node, dev, direction) {
    await ctx.exec.exec(node, ["nft", "-f", "-"], { input: nftDeleteTable(nftTableName(dev, direction)) });
  },
};
