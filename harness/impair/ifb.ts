// Ingress through an IFB device: a qdisc only shapes what a device sends, so
// packets arriving on DEV are redirected (ingress qdisc + u32 filter + mirred)
// to an IFB device of vpnlab's in the same namespace, whose root qdisc then
// acts on them; the IFB hands them back to DEV's receive path. Everything here
// carries vpnlab's name, handle or filter preference, and only that is removed.
import { createHash } from "node:crypto";
import type { NodeExec } from "../runtime/runtime";
import type { FlowMatch } from "./fault";
import { checkDeviceName } from "./impairment";
import {
  INGRESS_PARENT,
  ingressQdisc,
  parseFilterJson,
  parseQdiscJson,
  type Qdisc,
  tcFilterAddArgv,
  tcFilterDelArgv,
  tcFilterShowArgv,
  tcIngressAddArgv,
  tcIngressDelArgv,
  tcQdiscReplaceArgv,
  tcQdiscShowArgv,
  VPNLAB_FILTER_PREF,
  VPNLAB_ROOT_HANDLE,
} from "./tc";

const IFB_PREFIX = "vli-";

/**
 * vpnlab's IFB for DEV: "vli-DEV" when that fits the kernel's 15 bytes, else
 * "vli-" and 11 hex digits of DEV's SHA-1 (stable, so a later clear finds it).
 */
export function ifbName(dev: string): string {
  checkDeviceName(dev);
  const plain = `${IFB_PREFIX}${dev}`;
  if (Buffer.byteLength(plain) <= 15) return checkDeviceName(plain);
  return checkDeviceName(`${IFB_PREFIX}${createHash("sha1").update(dev).digest("hex").slice(0, 11)}`);
}

/** `ip link add IFB type ifb` */
export function ifbAddArgv(ifb: string): string[] {
  return ["ip", "link", "add", checkDeviceName(ifb), "type", "ifb"];
}

/** `ip link set dev IFB up` */
export function ifbUpArgv(ifb: string): string[] {
  return ["ip", "link", "set", "dev", checkDeviceName(ifb), "up"];
}

/** `ip link del dev IFB` */
export function ifbDelArgv(ifb: string): string[] {
  return ["ip", "link", "del", "dev", checkDeviceName(ifb)];
}

/** `ip -j -d link show dev IFB` (its linkinfo tells an ifb from anything else of that name) */
export function ifbShowArgv(ifb: string): string[] {
  return ["ip", "-j", "-d", "link", "show", "dev", checkDeviceName(ifb)];
}

/** True when `ip -j -d link show` describes an ifb device. */
export function isIfbLink(stdout: string): boolean {
  try {
    const list: unknown = JSON.parse(stdout);
    const first: unknown = Array.isArray(list) ? list[0] : undefined;
    const info = typeof first === "object" && first !== null ? (first as { linkinfo?: { info_kind?: unknown } }).linkinfo : undefined;
    return info?.info_kind === "ifb";
  } catch {
    return false;
  }
}

/** The qdisc to put on the IFB's root (netem in the backend; tbf or htb where a test proves the plumbing). */
export interface IfbRootQdisc {
  kind: string;
  params: readonly string[];
}

/**
 * The commands that set up (or update) ingress through the IFB, given what
 * is there now: the IFB (created when missing), DEV's ingress qdisc (added
 * when missing), the root qdisc on the IFB (replaced), and vpnlab's filter
 * (deleted and added again: u32 has no in-place replace of a selector).
 * The IFB's qdisc is in place before any packet is redirected to it.
 */
export function ingressPlan(
  dev: string,
  root: IfbRootQdisc,
  match: FlowMatch | undefined,
  now: { ifbExists: boolean; devQdiscs: readonly Qdisc[]; ourFilter: boolean },
): string[][] {
  const ifb = ifbName(dev);
  const plan: string[][] = [];
  if (!now.ifbExists) plan.push(ifbAddArgv(ifb));
  plan.push(ifbUpArgv(ifb));
  plan.push(tcQdiscReplaceArgv(ifb, { root: true }, VPNLAB_ROOT_HANDLE, root.kind, root.params));
  if (!ingressQdisc(now.devQdiscs)) plan.push(tcIngressAddArgv(dev));
  if (now.ourFilter) plan.push(tcFilterDelArgv(dev, INGRESS_PARENT));
  plan.push(tcFilterAddArgv(dev, INGRESS_PARENT, match, { redirectTo: ifb }));
  return plan;
}

/** What is there now on DEV and its IFB, as ingressPlan needs it. */
export async function ingressState(exec: NodeExec, node: string, dev: string): Promise<{ ifbExists: boolean; devQdiscs: Qdisc[]; ourFilter: boolean }> {
  const link = await exec.exec(node, ifbShowArgv(ifbName(dev)), { allowFailure: true });
  const ifbExists = link.code === 0;
  if (ifbExists && !isIfbLink(link.stdout)) {
    throw new Error(`${node}: ${ifbName(dev)} exists and is not an ifb device; vpnlab will not take it over`);
  }
  const devQdiscs = parseQdiscJson((await exec.exec(node, tcQdiscShowArgv(dev))).stdout);
  const ourFilter = ingressQdisc(devQdiscs) ? await hasOurFilter(exec, node, dev) : false;
  return { ifbExists, devQdiscs, ourFilter };
}

async function hasOurFilter(exec: NodeExec, node: string, dev: string): Promise<boolean> {
  const r = await exec.exec(node, tcFilterShowArgv(dev, INGRESS_PARENT), { allowFailure: true });
  return r.code === 0 && parseFilterJson(r.stdout).some((f) => f.pref === VPNLAB_FILTER_PREF);
}

/** Install ingress through the IFB; returns the argv run, in order. */
export async function installIngress(exec: NodeExec, node: string, dev: string, root: IfbRootQdisc, match: FlowMatch | undefined): Promise<string[][]> {
  const plan = ingressPlan(dev, root, match, await ingressState(exec, node, dev));
  for (const argv of plan) await exec.exec(node, argv);
  return plan;
}

/** Throws unless DEV's ingress has vpnlab's filter redirecting to its IFB. */
export async function assertIngressRedirect(exec: NodeExec, node: string, dev: string): Promise<void> {
  const ifb = ifbName(dev);
  const r = await exec.exec(node, tcFilterShowArgv(dev, INGRESS_PARENT), { allowFailure: true });
  const ours = r.code === 0 ? parseFilterJson(r.stdout).filter((f) => f.pref === VPNLAB_FILTER_PREF) : [];
  const to = ours.map((f) => f.redirectTo).find((d) => d !== undefined);
  if (to !== ifb) {
    throw new Error(`${node}/${dev}: asked for an ingress filter (pref ${VPNLAB_FILTER_PREF}) redirecting to ${ifb}, tc shows ${to ? `one redirecting to ${to}` : "none"}`);
  }
}

/**
 * Remove vpnlab's ingress plumbing from DEV: its filter, the ingress qdisc
 * when no filter of anybody's is left on it (an empty ingress qdisc does
 * nothing), and its IFB. Idempotent; never touches another preference's filter.
 */
export async function removeIngress(exec: NodeExec, node: string, dev: string): Promise<string[][]> {
  const done: string[][] = [];
  const run = async (argv: string[]): Promise<void> => {
    await exec.exec(node, argv);
    done.push(argv);
  };
  const shown = await exec.exec(node, tcQdiscShowArgv(dev), { allowFailure: true });
  if (shown.code === 0 && ingressQdisc(parseQdiscJson(shown.stdout))?.kind === "ingress") {
    if (await hasOurFilter(exec, node, dev)) await run(tcFilterDelArgv(dev, INGRESS_PARENT));
    const left = await exec.exec(node, tcFilterShowArgv(dev, INGRESS_PARENT), { allowFailure: true });
    if (left.code === 0 && parseFilterJson(left.stdout).length === 0) await run(tcIngressDelArgv(dev));
  }
  const ifb = ifbName(dev);
  const link = await exec.exec(node, ifbShowArgv(ifb), { allowFailure: true });
  if (link.code === 0 && isIfbLink(link.stdout)) await run(ifbDelArgv(ifb));
  return done;
}
