// Test support: a pretend `tc` and `ip` (iproute2 6.1's answers, JSON shapes
// from its q_netem.c / f_u32.c / m_mirred.c) with or without the netem, prio
// and netem-seed capabilities, for the netem backend's unit tests. It parses
// netem's options on its own, the way tc does, so a test that reads them back
// checks the argv builder rather than repeating it.
import { CommandError, type ExecOptions, type ExecResult } from "../exec";
import type { NodeExec } from "../runtime/runtime";

const pctOf = (s: string): number => {
  if (!/^\d+(\.\d+)?%$/.test(s)) throw new Error(`Illegal percent "${s}"`);
  return Number(s.slice(0, -1)) / 100;
};
const secondsOf = (s: string): number => {
  const m = s.match(/^(\d+(?:\.\d+)?)(ms|us|s)$/);
  if (!m) throw new Error(`Illegal time "${s}"`);
  return Number(m[1]) * (m[2] === "s" ? 1 : m[2] === "ms" ? 1e-3 : 1e-6);
};
const bytesPerSecond = (s: string): number => {
  const m = s.match(/^(\d+(?:\.\d+)?)(kbit|mbit|gbit|bit)$/);
  if (!m) throw new Error(`Illegal rate "${s}"`);
  const mult = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 }[m[2] as "bit"];
  return Math.trunc((Number(m[1]) * mult) / 8);
};
const isNum = (s: string | undefined): s is string => s !== undefined && /^\d/.test(s);

/** The `options` object `tc -j qdisc show` prints for a netem created with PARAMS (iproute2 6.1 / ≥ 6.6 with `seed`). */
export function netemShowOptions(params: readonly string[], seedSupport = false): Record<string, unknown> {
  const o: Record<string, unknown> = { limit: 1000 };
  let gap = 0;
  let reorder = false;
  for (let i = 0; i < params.length; i++) {
    const k = params[i];
    const next = (): string => {
      const v = params[++i];
      if (v === undefined) throw new Error(`${k}: missing value`);
      return v;
    };
    if (k === "limit") o.limit = Number(next());
    else if (k === "delay") {
      const d: Record<string, number> = { delay: secondsOf(next()), jitter: 0, correlation: 0 };
      if (isNum(params[i + 1])) d.jitter = secondsOf(next());
      if (isNum(params[i + 1])) d.correlation = pctOf(next());
      o.delay = d;
    } else if (k === "distribution") {
      const name = next();
      if (!["normal", "pareto", "paretonormal"].includes(name)) throw new Error(`No distribution data for ${name}`);
    } else if (k === "loss") {
      const model = next();
      const vals: number[] = [];
      while (isNum(params[i + 1])) vals.push(pctOf(next()));
      if (model === "random") o["loss-random"] = { loss: vals[0], correlation: vals[1] ?? 0 };
      else if (model === "state") {
        const p13 = vals[0];
        o["loss-state"] = { p13, p31: vals[1] ?? 1 - p13, p32: vals[2] ?? 0, p23: vals[3] ?? 1, p14: vals[4] ?? 0 };
      } else if (model === "gemodel") {
        const p = vals[0];
        o["loss-gemodel"] = { p, r: vals[1] ?? 1 - p, "1-h": vals[2] ?? 1, "1-k": vals[3] ?? 0 };
      } else throw new Error(`Unknown loss parameter: ${model}`);
    } else if (k === "duplicate" || k === "reorder" || k === "corrupt") {
      const v = pctOf(next());
      o[k] = { [k]: v, correlation: isNum(params[i + 1]) ? pctOf(next()) : 0 };
      if (k === "reorder") reorder = true;
    } else if (k === "gap") gap = Number(next());
    else if (k === "rate") o.rate = { rate: bytesPerSecond(next()), packetoverhead: 0, cellsize: 0, celloverhead: 0 };
    else if (k === "seed" && seedSupport) o.seed = Number(next());
    else throw new Error(`What is "${k}"?`);
  }
  if (reorder) {
    if (!o.delay) throw new Error("reordering not possible without specifying some delay");
    if (gap === 0) gap = 1;
  } else if (gap > 0) throw new Error("gap specified without reorder probability");
  o.ecn = false;
  o.gap = gap;
  return o;
}

interface FakeQdisc {
  kind: string;
  handle: string;
  parent?: string; // absent: root
  params: string[];
  drops: number;
}

interface FakeFilter {
  parent: string;
  pref: number;
  protocol: string;
  args: string[];
  redirectTo?: string;
}

/** A pretend node kernel (one or more nodes) that answers tc and ip like iproute2 6.1 does, and records every call. */
export class FakeTc implements NodeExec {
  readonly calls: { node: string; argv: string[] }[] = [];
  /** "node/dev" → qdiscs (absent root: the kernel default noqueue 0:). */
  readonly qdiscs = new Map<string, FakeQdisc[]>();
  readonly filters = new Map<string, FakeFilter[]>();
  /** "node/dev" → link kind ("veth", "ifb", ...). */
  readonly links = new Map<string, string>();
  /** What the kernel keeps of what tc sends, e.g. a kernel whose netem ignores the seed. */
  keepSeed = true;

  constructor(readonly caps: { netem: boolean; prio?: boolean; seed?: boolean } = { netem: true, prio: true, seed: false }) {}

  exec(node: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    this.calls.push({ node, argv: [...argv] });
    let r: ExecResult;
    try {
      r = { stdout: this.answer(node, [...argv]), stderr: "", code: 0 };
    } catch (e) {
      r = { stdout: "", stderr: `${(e as Error).message}\n`, code: 2 };
    }
    if (r.code !== 0 && !opts.allowFailure) return Promise.reject(new CommandError(argv, r));
    return Promise.resolve(r);
  }

  /** The mutating commands run so far, as one string each. */
  changes(): string[] {
    return this.calls.map((c) => c.argv.join(" ")).filter((a) => !/ -j | show /.test(a) && !a.endsWith(" show"));
  }

  private dev(node: string, dev: string): string {
    const k = `${node}/${dev}`;
    if (!this.links.has(k)) throw new Error(`Cannot find device "${dev}"`);
    return k;
  }

  private answer(node: string, a: string[]): string {
    const s = a.join(" ");
    let m: RegExpMatchArray | null;
    if ((m = s.match(/^ip -j -d link show dev (\S+)$/))) {
      const k = this.dev(node, m[1]);
      return JSON.stringify([{ ifname: m[1], flags: ["UP"], linkinfo: { info_kind: this.links.get(k) } }]);
    }
    if ((m = s.match(/^ip link add (\S+) type ifb$/))) {
      if (this.links.has(`${node}/${m[1]}`)) throw new Error("RTNETLINK answers: File exists");
      this.links.set(`${node}/${m[1]}`, "ifb");
      return "";
    }
    if ((m = s.match(/^ip link set dev (\S+) up$/))) return (this.dev(node, m[1]), "");
    if ((m = s.match(/^ip link del dev (\S+)$/))) {
      const k = this.dev(node, m[1]);
      this.links.delete(k);
      this.qdiscs.delete(k);
      this.filters.delete(k);
      return "";
    }
    if ((m = s.match(/^tc (-s )?-j qdisc show dev (\S+)$/))) {
      const k = this.dev(node, m[2]);
      const list = this.qdiscs.get(k) ?? [];
      const out: Record<string, unknown>[] = [];
      if (!list.some((q) => q.parent === undefined)) out.push({ kind: "noqueue", handle: "0:", root: true, refcnt: 2, options: {} });
      for (const q of list) {
        out.push({
          kind: q.kind,
          handle: q.handle,
          ...(q.parent === undefined ? { root: true, refcnt: 2 } : { parent: q.parent }),
          options: q.kind === "netem" ? this.netemOptions(q.params) : {},
          ...(m[1] ? { bytes: 0, packets: 0, drops: q.drops, overlimits: 0, requeues: 0, backlog: 0, qlen: 0 } : {}),
        });
      }
      return JSON.stringify(out);
    }
    if ((m = s.match(/^tc qdisc (add|replace) dev (\S+) (root|parent (\S+)) handle (\S+) (\S+)(.*)$/))) {
      const k = this.dev(node, m[2]);
      const [, verb, , , parent, handle, kind, rest] = m;
      if (kind === "netem" && !this.caps.netem) throw new Error("Error: Specified qdisc kind is unknown.");
      if (kind === "prio" && !this.caps.prio) throw new Error("Error: Specified qdisc kind is unknown.");
      const params = rest.trim() === "" ? [] : rest.trim().split(" ");
      if (kind === "netem") netemShowOptions(params, this.caps.seed); // throws like tc on bad options
      const list = this.qdiscs.get(k) ?? [];
      const same = list.find((q) => q.parent === parent && (parent !== undefined || q.parent === undefined));
      if (parent !== undefined && !list.some((q) => parent.startsWith(q.handle))) throw new Error("Error: Failed to find specified qdisc.");
      if (same) {
        if (verb === "add") throw new Error("Error: Exclusivity flag on, cannot modify.");
        if (same.handle === handle && same.kind !== kind) throw new Error("Error: Invalid qdisc name.");
        if (same.handle === handle) same.params = params;
        else {
          // a new qdisc grafted in place of the old one (and of everything under it)
          this.qdiscs.set(k, [...list.filter((q) => q !== same && !(q.parent ?? "").startsWith(same.handle)), { kind, handle, parent, params, drops: 0 }]);
          this.filters.delete(k);
        }
      } else this.qdiscs.set(k, [...list, { kind, handle, parent, params, drops: 0 }]);
      return "";
    }
    if ((m = s.match(/^tc qdisc add dev (\S+) handle ffff: ingress$/))) {
      const k = this.dev(node, m[1]);
      const list = this.qdiscs.get(k) ?? [];
      if (list.some((q) => q.kind === "ingress")) throw new Error("Error: Exclusivity flag on, cannot modify.");
      this.qdiscs.set(k, [...list, { kind: "ingress", handle: "ffff:", parent: "ffff:fff1", params: [], drops: 0 }]);
      return "";
    }
    if ((m = s.match(/^tc qdisc del dev (\S+) (root|ingress)$/))) {
      const k = this.dev(node, m[1]);
      const list = this.qdiscs.get(k) ?? [];
      const target = m[2] === "root" ? list.find((q) => q.parent === undefined) : list.find((q) => q.kind === "ingress");
      if (!target) throw new Error(m[2] === "root" ? "Error: Cannot delete qdisc with handle of zero." : "Error: Invalid handle.");
      this.qdiscs.set(k, list.filter((q) => q !== target && !(q.parent ?? "").startsWith(target.handle)));
      this.filters.set(k, (this.filters.get(k) ?? []).filter((f) => f.parent !== target.handle));
      return "";
    }
    if ((m = s.match(/^tc filter add dev (\S+) parent (\S+) protocol (\S+) pref (\d+) u32 (.*)$/))) {
      const k = this.dev(node, m[1]);
      if (!(this.qdiscs.get(k) ?? []).some((q) => q.handle === m?.[2])) throw new Error("Error: Parent Qdisc doesn't exists.");
      const args = m[5].split(" ");
      const r = args.indexOf("redirect");
      if (r >= 0) this.dev(node, args[r + 2]);
      this.filters.set(k, [...(this.filters.get(k) ?? []), { parent: m[2], pref: Number(m[4]), protocol: m[3], args, ...(r >= 0 ? { redirectTo: args[r + 2] } : {}) }]);
      return "";
    }
    if ((m = s.match(/^tc filter del dev (\S+) parent (\S+) pref (\d+)$/))) {
      const k = this.dev(node, m[1]);
      const list = this.filters.get(k) ?? [];
      if (!(this.qdiscs.get(k) ?? []).some((q) => q.handle === m?.[2])) throw new Error("Error: Parent Qdisc doesn't exists.");
      this.filters.set(k, list.filter((f) => !(f.parent === m?.[2] && f.pref === Number(m?.[3]))));
      return "";
    }
    if ((m = s.match(/^tc -j filter show dev (\S+) parent (\S+)$/))) {
      const k = this.dev(node, m[1]);
      if (!(this.qdiscs.get(k) ?? []).some((q) => q.handle === m?.[2])) throw new Error("Error: Parent Qdisc doesn't exists.");
      const out: unknown[] = [];
      for (const f of (this.filters.get(k) ?? []).filter((x) => x.parent === m?.[2])) {
        // u32 lists the filter, its hash table and its rule (the rule carries the actions)
        out.push({ protocol: f.protocol, pref: f.pref, kind: "u32", chain: 0 });
        out.push({ protocol: f.protocol, pref: f.pref, kind: "u32", chain: 0, options: { fh: "800:", ht_divisor: 1 } });
        const actions = f.redirectTo ? [{ order: 1, kind: "mirred", mirred_action: "redirect", direction: "egress", to_dev: f.redirectTo, control_action: { type: "stolen" } }] : undefined;
        out.push({ protocol: f.protocol, pref: f.pref, kind: "u32", chain: 0, options: { fh: "800::800", order: 2048, key_ht: "800", bkt: "0", ...(actions ? { actions } : {}) } });
      }
      return JSON.stringify(out);
    }
    throw new Error(`FakeTc: unexpected command ${s}`);
  }

  private netemOptions(params: string[]): Record<string, unknown> {
    const o = netemShowOptions(params, this.caps.seed);
    if (!this.keepSeed) delete o.seed;
    return o;
  }
}
