// netem through `tc`: the kernel's own impairment qdisc, installed under
// vpnlab's handle and read back to confirm. Egress: the device's root (or,
// for a flow match, a prio root whose second band leads to the netem and a
// u32 filter steering the matching packets there). Ingress: the same netem on
// an IFB the device's arriving packets are redirected to. Unavailable where
// the kernel has no netem (probed by trying).
import { execFileSync } from "node:child_process";
import type { NodeExec } from "../../runtime/runtime";
import type { DropCount } from "../counters";
import type { Fault, FlowMatch } from "../fault";
import { assertIngressRedirect, ifbName, installIngress, removeIngress } from "../ifb";
import { ImpairmentUnsupported } from "../impairment";
import { assertNetemReadback, NETEM, netemParams, netemUnsupported, tcSeedUnsupportedReason } from "../netem";
import {
  explicitRoot,
  parseFilterJson,
  parseQdiscJson,
  type Qdisc,
  tcFilterAddArgv,
  tcFilterDelArgv,
  tcFilterShowArgv,
  tcQdiscDelRootArgv,
  tcQdiscReplaceArgv,
  tcQdiscShowArgv,
  tcQdiscStatsArgv,
  VPNLAB_FILTER_PREF,
  VPNLAB_IMPAIRED_CLASS,
  VPNLAB_NETEM_CHILD_HANDLE,
  VPNLAB_ROOT_HANDLE,
} from "../tc";
import type { ImpairBackendImpl } from "./types";

/** Two bands, every priority to band 1: only what vpnlab's filter steers reaches band 2 (the netem). */
export const PRIO_PARAMS: readonly string[] = ["bands", "2", "priomap", ...Array<string>(16).fill("0")];

/**
 * The egress commands for a netem with these params on DEV, given DEV's
 * qdiscs now. Throws when DEV's root is somebody else's qdisc: vpnlab does
 * not replace what it did not install.
 */
export function egressPlan(dev: string, params: readonly string[], match: FlowMatch | undefined, now: { devQdiscs: readonly Qdisc[]; ourFilter: boolean }): string[][] {
  const root = explicitRoot(now.devQdiscs);
  if (root && root.handle !== VPNLAB_ROOT_HANDLE) {
    throw new Error(`${dev} has a root qdisc vpnlab did not install (${root.kind} ${root.handle}); remove it or impair another device`);
  }
  const want = match === undefined ? NETEM : "prio";
  const plan: string[][] = [];
  let ours = root;
  // a root of the other shape (netem ↔ prio) cannot be changed into this one in place
  if (ours && ours.kind !== want) {
    plan.push(tcQdiscDelRootArgv(dev));
    ours = undefined;
  }
  if (match === undefined) {
    plan.push(tcQdiscReplaceArgv(dev, { root: true }, VPNLAB_ROOT_HANDLE, NETEM, params));
    return plan;
  }
  if (!ours) plan.push(tcQdiscReplaceArgv(dev, { root: true }, VPNLAB_ROOT_HANDLE, "prio", PRIO_PARAMS));
  plan.push(tcQdiscReplaceArgv(dev, { parent: VPNLAB_IMPAIRED_CLASS }, VPNLAB_NETEM_CHILD_HANDLE, NETEM, params));
  if (ours && now.ourFilter) plan.push(tcFilterDelArgv(dev, VPNLAB_ROOT_HANDLE));
  plan.push(tcFilterAddArgv(dev, VPNLAB_ROOT_HANDLE, match, { flowid: VPNLAB_IMPAIRED_CLASS }));
  return plan;
}

/** Where a fault's netem lives: the device that carries it and its handle. */
export function netemLocation(dev: string, fault: Pick<Fault, "direction" | "match">): { dev: string; handle: string } {
  if (fault.direction === "ingress") return { dev: ifbName(dev), handle: VPNLAB_ROOT_HANDLE };
  return { dev, handle: fault.match === undefined ? VPNLAB_ROOT_HANDLE : VPNLAB_NETEM_CHILD_HANDLE };
}

/** The drops netem HANDLE counted, in `tc -s -j qdisc show` output (netem counts a lost packet, not its size). */
export function netemDropsByHandle(stdout: string, handle: string): DropCount | undefined {
  const q = parseQdiscJson(stdout).find((x) => x.kind === NETEM && x.handle === handle);
  return q?.drops === undefined ? undefined : { packets: q.drops, bytes: 0 };
}

async function ourFilterUnder(exec: NodeExec, node: string, dev: string, parent: string): Promise<boolean> {
  const r = await exec.exec(node, tcFilterShowArgv(dev, parent), { allowFailure: true });
  return r.code === 0 && parseFilterJson(r.stdout).some((f) => f.pref === VPNLAB_FILTER_PREF);
}

/** `tc -V` of this host, once (its output, or why it could not be run). */
let tcVersionCache: string | undefined;
function hostTcVersion(): string {
  if (tcVersionCache === undefined) {
    try {
      tcVersionCache = execFileSync("tc", ["-V"], { encoding: "utf8", timeout: 5000, stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      tcVersionCache = `tc -V failed: ${(e as Error).message}`;
    }
  }
  return tcVersionCache;
}

export interface NetemBackendOptions {
  /** `tc -V` output; default: this host's tc, asked once. Decides whether a seed is refused up front. */
  tcVersion?: () => string;
}

export function createNetemBackend(options: NetemBackendOptions = {}): ImpairBackendImpl {
  const tcVersion = options.tcVersion ?? hostTcVersion;
  const backend: ImpairBackendImpl = {
    name: "netem",
    unsupported(fault) {
      const out = netemUnsupported(fault.impairment);
      if (fault.seed !== undefined) {
        const why = tcSeedUnsupportedReason(tcVersion());
        if (why) out.push(new ImpairmentUnsupported("seed", NETEM, why));
      }
      return out;
    },
    async available(ctx, node, dev) {
      // loaded when asked: ../backend imports the registry, which imports this module
      const { probeNetem } = await import("../backend");
      return probeNetem(ctx.exec, node, dev);
    },
    async apply(ctx, node, dev, fault) {
      const { exec } = ctx;
      const opts = fault.seed !== undefined ? { seed: fault.seed } : {};
      const params = netemParams(fault.impairment, opts);
      const at = netemLocation(dev, fault);
      let plan: string[][];
      if (fault.direction === "ingress") {
        plan = await installIngress(exec, node, dev, { kind: NETEM, params }, fault.match);
      } else {
        const devQdiscs = parseQdiscJson((await exec.exec(node, tcQdiscShowArgv(dev))).stdout);
        const ourPrio = explicitRoot(devQdiscs)?.handle === VPNLAB_ROOT_HANDLE && explicitRoot(devQdiscs)?.kind === "prio";
        const ourFilter = ourPrio ? await ourFilterUnder(exec, node, dev, VPNLAB_ROOT_HANDLE) : false;
        plan = egressPlan(dev, params, fault.match, { devQdiscs, ourFilter });
        for (const argv of plan) await exec.exec(node, argv);
      }
      // what the kernel holds now, not only what tc accepted; a netem that is not what was asked does not stay
      try {
        const shown = parseQdiscJson((await exec.exec(node, tcQdiscShowArgv(at.dev))).stdout);
        const where = `${node}/${at.dev}${at.dev !== dev ? ` (ingress of ${dev})` : ""}`;
        assertNetemReadback(where, shown.find((q) => q.handle === at.handle), at.handle, fault.impairment, opts);
        if (fault.direction === "ingress") await assertIngressRedirect(exec, node, dev);
        else if (fault.match !== undefined && !(await ourFilterUnder(exec, node, dev, VPNLAB_ROOT_HANDLE))) {
          throw new Error(`${node}/${dev}: asked for a u32 filter (pref ${VPNLAB_FILTER_PREF}) steering the match to ${VPNLAB_IMPAIRED_CLASS}, tc shows none`);
        }
      } catch (e) {
        await backend.clear(ctx, node, dev, fault.direction);
        throw new Error(`${(e as Error).message}; vpnlab's netem there was removed`);
      }
      const argv = plan.find((a) => a.includes(NETEM)) ?? plan[plan.length - 1];
      return { argv, ...(plan.length > 1 ? { detail: plan.map((a) => a.join(" ")).join("\n") } : {}) };
    },
    async harvest(ctx, node, dev, fault, next) {
      // a netem replaced in place keeps its statistics: read them only when the netem goes away
      if (next === "netem") return undefined;
      const at = netemLocation(dev, fault);
      const r = await ctx.exec.exec(node, tcQdiscStatsArgv(at.dev), { allowFailure: true });
      if (r.code !== 0) return undefined;
      try {
        return netemDropsByHandle(r.stdout, at.handle);
      } catch {
        return undefined;
      }
    },
    async clear(ctx, node, dev, direction) {
      if (direction === "ingress") {
        await removeIngress(ctx.exec, node, dev);
        return;
      }
      // only vpnlab's root (its handle: a netem, or the prio of a flow match) is ours to remove
      const r = await ctx.exec.exec(node, tcQdiscShowArgv(dev), { allowFailure: true });
      if (r.code !== 0) return;
      const root = explicitRoot(parseQdiscJson(r.stdout));
      if (root?.handle === VPNLAB_ROOT_HANDLE && (root.kind === NETEM || root.kind === "prio")) await ctx.exec.exec(node, tcQdiscDelRootArgv(dev));
    },
  };
  return backend;
}

export const netemBackend: ImpairBackendImpl = createNetemBackend();
