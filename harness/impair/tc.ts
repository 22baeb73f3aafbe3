// The project's own typed wrapper around iproute2's `tc` (no usable npm
// package exists). Pure argv builders and parsers; the only code that runs
// anything takes a NodeExec, so every runtime backend is served alike.
import type { ExecResult } from "../exec";
import type { NodeExec } from "../runtime/runtime";
import { checkDeviceName } from "./impairment";

/** One qdisc as `tc -j qdisc show` reports it. */
export interface Qdisc {
  kind: string;
  handle: string; // "8001:"; "0:" is the kernel's default qdisc, not one anybody added
  root: boolean;
  parent?: string;
  options: Record<string, unknown>;
}

export type QdiscVerb = "add" | "replace" | "change";

/** `tc qdisc <verb> dev DEV root KIND PARAMS...` */
export function tcQdiscArgv(verb: QdiscVerb, dev: string, kind: string, params: readonly string[] = []): string[] {
  checkDeviceName(dev);
  if (!/^[a-z_][a-z0-9_]*$/.test(kind)) throw new Error(`invalid qdisc kind ${JSON.stringify(kind)}`);
  return ["tc", "qdisc", verb, "dev", dev, "root", kind, ...params];
}

/** `tc qdisc del dev DEV root`: back to the kernel's default qdisc. */
export function tcQdiscDelRootArgv(dev: string): string[] {
  checkDeviceName(dev);
  return ["tc", "qdisc", "del", "dev", dev, "root"];
}

/** `tc -j qdisc show dev DEV root` (JSON output, parsed by parseQdiscJson). */
export function tcQdiscShowRootArgv(dev: string): string[] {
  checkDeviceName(dev);
  return ["tc", "-j", "qdisc", "show", "dev", dev, "root"];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Parse `tc -j qdisc show` output. Empty output is an empty list. */
export function parseQdiscJson(stdout: string): Qdisc[] {
  const text = stdout.trim();
  if (text === "") return [];
  const data: unknown = JSON.parse(text);
  if (!Array.isArray(data)) throw new Error(`tc -j qdisc show: expected a JSON array, got ${text.slice(0, 80)}`);
  return data.filter(isRecord).map((q) => ({
    kind: typeof q.kind === "string" ? q.kind : "",
    handle: typeof q.handle === "string" ? q.handle : "",
    root: q.root === true,
    ...(typeof q.parent === "string" ? { parent: q.parent } : {}),
    options: isRecord(q.options) ? q.options : {},
  }));
}

/** The root qdisc somebody added (handle other than the kernel default's "0:"), if any. */
export function explicitRoot(qdiscs: readonly Qdisc[]): Qdisc | undefined {
  return qdiscs.find((q) => q.root && q.handle !== "0:" && q.handle !== "");
}

/** What a failed `tc` said, in the few cases callers act on. */
export type TcFailure =
  | "kind-unknown" // the kernel has no such qdisc (module missing / not built)
  | "no-such-device"
  | "exclusive" // a root qdisc already exists and `add` may not replace it
  | "no-qdisc" // nothing to delete
  | "other";

export function classifyTcError(stderr: string): TcFailure {
  if (/Cannot find device/i.test(stderr)) return "no-such-device";
  if (/qdisc kind is unknown|No such file or directory/i.test(stderr)) return "kind-unknown";
  if (/Exclusivity flag on|File exists/i.test(stderr)) return "exclusive";
  if (/handle of zero|Invalid handle|Cannot find specified qdisc/i.test(stderr)) return "no-qdisc";
  return "other";
}

/** First meaningful line(s) of a tool's answer, for reasons and messages. */
export function firstLines(r: ExecResult, n = 3): string {
  return (r.stderr || r.stdout).trim().split("\n").filter(Boolean).slice(0, n).join(" / ");
}

/** The root qdisc of DEV inside NODE (the explicit one, or undefined when the kernel default is in place). */
export async function showExplicitRoot(exec: NodeExec, node: string, dev: string): Promise<Qdisc | undefined> {
  const r = await exec.exec(node, tcQdiscShowRootArgv(dev));
  return explicitRoot(parseQdiscJson(r.stdout));
}
