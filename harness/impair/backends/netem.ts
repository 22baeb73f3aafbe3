// netem through `tc`: the kernel's own impairment qdisc, on the device's root
// (egress). Unavailable where the kernel has no netem (probed by trying).
import { parseNetemDrops, tcStatsArgv } from "../counters";
import { probeNetem } from "../backend";
import { ImpairmentUnsupported } from "../impairment";
import { NETEM, netemArgv, netemClearArgv, netemUnsupported } from "../netem";
import { showExplicitRoot } from "../tc";
import type { ImpairBackendImpl } from "./types";

export const netemBackend: ImpairBackendImpl = {
  name: "netem",
  unsupported(fault) {
    const out = netemUnsupported(fault.impairment);
    if (fault.direction === "ingress") out.push(new ImpairmentUnsupported("direction", NETEM, "ingress needs an IFB device, which this backend does not set up yet"));
    if (fault.match !== undefined) out.push(new ImpairmentUnsupported("match", NETEM, "a root netem impairs every packet of the device; a flow match needs a classifier, which this backend does not set up yet"));
    if (fault.seed !== undefined) out.push(new ImpairmentUnsupported("seed", NETEM, "this backend does not pass netem a seed yet"));
    if (fault.impairment.dropPackets !== undefined) out.push(new ImpairmentUnsupported("dropPackets", NETEM, "its loss generators are random; it cannot drop chosen packets"));
    return out;
  },
  available(ctx, node, dev) {
    return probeNetem(ctx.exec, node, dev);
  },
  async apply(ctx, node, dev, fault) {
    const argv = netemArgv(dev, fault.impairment);
    await ctx.exec.exec(node, argv);
    return { argv };
  },
  async harvest(ctx, node, dev, _fault, next) {
    // `tc qdisc replace` keeps a netem's statistics: read them only when the netem goes away
    if (next === "netem") return undefined;
    const r = await ctx.exec.exec(node, tcStatsArgv(dev), { allowFailure: true });
    if (r.code !== 0) return undefined;
    try {
      return parseNetemDrops(r.stdout);
    } catch {
      return undefined;
    }
  },
  async clear(ctx, node, dev) {
    // only a netem is ours to remove; another root qdisc is somebody else's
    const root = await showExplicitRoot(ctx.exec, node, dev);
    if (root?.kind === "netem") await ctx.exec.exec(node, netemClearArgv(dev));
  },
};
