// Chaos steps: the file's step syntax → the impairment model (harness/impair),
// the schedules (flap, burst, ramp, partition for a duration) expanded into
// timed steps, and the scenario seed spread over the steps. Parsing reports
// through the validator's Checker (file:line:col and the key); expansion and
// seeding are pure.
import { DIRECTIONS, MATCH_PROTOS, describeSelection, mixSeed, validateFault, type Direction, type Fault, type FlowMatch, type MatchProto } from "../impair/fault";
import { DELAY_DISTRIBUTIONS, InvalidImpairment, describeImpairment, formatNumber, type DelayDistribution, type Impairment, type ImpairmentField, type LossModel } from "../impair/impairment";
import { didYouMean } from "./errors";
import type { PMap, PNode } from "./merge";
import type { ChaosStep, FaultTarget, NodeSpec, Scenario } from "./model";
import { addrToInt, msText, networkOf, networkText, parseAddr, parseBandwidth, parseCidr, parsePercent } from "./units";
import type { Checker } from "./validate";

/** The keys that say what a fault does (each maps to a field of Impairment). */
export const IMPAIRMENT_KEYS = [
  "loss", "delay", "jitter", "delay-correlation", "distribution", "duplicate", "duplicate-correlation", "reorder", "reorder-correlation",
  "reorder-gap", "corrupt", "corrupt-correlation", "rate", "limit", "drop", "every", "partition",
] as const;
/** Which packets, and the seed of their random decisions. */
const SELECTION_KEYS = ["direction", "seed", "match"] as const;
const SCHEDULE_KEYS = ["flap", "burst", "ramp"] as const;
export const STEP_KEYS: readonly string[] = ["at", "on", ...IMPAIRMENT_KEYS, "clear", ...SELECTION_KEYS, ...SCHEDULE_KEYS];
const MATCH_KEYS = ["proto", "sport", "dport", "from", "to"] as const;
const LOSS_KEYS = ["random", "correlation", "gemodel", "state"] as const;
const GEMODEL_KEYS = ["p", "r", "h", "k"] as const;
const STATE_KEYS = ["p13", "p31", "p32", "p23", "p14"] as const;
const FLAP_KEYS = ["down", "up", "cycles"] as const;
/** In a burst `every` is the period, so a burst cannot drop every Nth packet. */
const BURST_IMPAIRMENT_KEYS = IMPAIRMENT_KEYS.filter((k) => k !== "every");
const BURST_KEYS = [...BURST_IMPAIRMENT_KEYS, "length", "every", "count"] as const;
const RAMP_LISTS = ["loss", "delay", "rate"] as const;
const RAMP_KEYS = [...RAMP_LISTS, "every"] as const;
const MAX_INT = 2 ** 31 - 1;
/** A schedule expands into steps; this many is far more than a scenario of minutes needs. */
export const MAX_EXPANDED = 10_000;

/** The file's key for each field of the model, for messages that point at the right key. */
const FIELD_KEY: Record<ImpairmentField, string> = {
  loss: "loss",
  "loss.correlation": "loss",
  "loss.gemodel": "loss",
  "loss.state": "loss",
  delayMs: "delay",
  jitterMs: "jitter",
  delayCorrelation: "delay-correlation",
  delayDistribution: "distribution",
  duplicate: "duplicate",
  duplicateCorrelation: "duplicate-correlation",
  reorder: "reorder",
  reorderCorrelation: "reorder-correlation",
  reorderGap: "reorder-gap",
  corrupt: "corrupt",
  corruptCorrelation: "corrupt-correlation",
  rateKbit: "rate",
  limit: "limit",
  dropPackets: "drop",
  partition: "partition",
  everyNth: "every",
  match: "match",
  direction: "direction",
  seed: "seed",
};

/** The model's words in a validation message → the file's keys ("set jitterMs > 0" → "set jitter > 0"). */
export function fileWords(message: string): string {
  const fields = Object.keys(FIELD_KEY).filter((f) => !f.includes(".") && FIELD_KEY[f as ImpairmentField] !== f);
  return message.replace(/^invalid impairment \([^)]*\): /, "").replace(new RegExp(`\\b(${fields.join("|")})\\b`, "g"), (f) => FIELD_KEY[f as ImpairmentField]);
}

/** Which packets a step's fault hits, and its seed. */
export interface Selection {
  direction?: Direction;
  match?: FlowMatch;
  seed?: number;
}

/** One step as written: a fault, a clear, or a schedule that expands into several. */
export type StepPlan =
  | { kind: "fault"; impairment: Impairment; sel: Selection }
  | { kind: "clear"; direction?: Direction }
  | { kind: "partition-for"; forMs: number; sel: Selection }
  | { kind: "flap"; downMs: number; upMs: number; cycles: number; sel: Selection }
  | { kind: "burst"; impairment: Impairment; lengthMs: number; everyMs: number; count: number; sel: Selection }
  | { kind: "ramp"; impairments: Impairment[]; everyMs: number; sel: Selection };

function faultOf(impairment: Impairment, sel: Selection): Fault {
  return {
    impairment,
    ...(sel.direction ? { direction: sel.direction } : {}),
    ...(sel.match ? { match: sel.match } : {}),
    ...(sel.seed !== undefined ? { seed: sel.seed } : {}),
  };
}

/**
 * The timed steps a plan stands for, in time order (pure). Each carries the
 * schedule it came from ("flap 2/3: down"); the steps of a schedule share
 * its line.
 */
export function expandStep(atMs: number, on: FaultTarget, line: number, plan: StepPlan): ChaosStep[] {
  const own = (sel: Selection) => (sel.seed !== undefined ? { ownSeed: true } : {});
  const apply = (t: number, imp: Impairment, sel: Selection, schedule?: string): ChaosStep => ({
    atMs: t,
    on,
    fault: faultOf(imp, sel),
    ...(schedule ? { schedule } : {}),
    ...own(sel),
    line,
  });
  const clear = (t: number, direction: Direction | undefined, schedule?: string): ChaosStep => ({
    atMs: t,
    on,
    clear: true,
    ...(direction ? { direction } : {}),
    ...(schedule ? { schedule } : {}),
    line,
  });
  switch (plan.kind) {
    case "fault":
      return [apply(atMs, plan.impairment, plan.sel)];
    case "clear":
      return [clear(atMs, plan.direction)];
    case "partition-for": {
      const s = `partition for ${msText(plan.forMs)}`;
      return [apply(atMs, { partition: true }, plan.sel, `${s}: down`), clear(atMs + plan.forMs, plan.sel.direction, `${s}: up`)];
    }
    case "flap": {
      const out: ChaosStep[] = [];
      for (let c = 0; c < plan.cycles; c++) {
        const t = atMs + c * (plan.downMs + plan.upMs);
        out.push(apply(t, { partition: true }, plan.sel, `flap ${c + 1}/${plan.cycles}: down`));
        out.push(clear(t + plan.downMs, plan.sel.direction, `flap ${c + 1}/${plan.cycles}: up`));
      }
      return out;
    }
    case "burst": {
      const out: ChaosStep[] = [];
      for (let i = 0; i < plan.count; i++) {
        const t = atMs + i * plan.everyMs;
        out.push(apply(t, plan.impairment, plan.sel, `burst ${i + 1}/${plan.count}: on`));
        out.push(clear(t + plan.lengthMs, plan.sel.direction, `burst ${i + 1}/${plan.count}: off`));
      }
      return out;
    }
    case "ramp":
      return plan.impairments.map((imp, i) => apply(atMs + i * plan.everyMs, imp, plan.sel, `ramp ${i + 1}/${plan.impairments.length}: ${describeImpairment(imp)}`));
  }
}

/** How many steps a plan expands into (without building them). */
export function expandedCount(plan: StepPlan): number {
  switch (plan.kind) {
    case "fault":
    case "clear":
      return 1;
    case "partition-for":
      return 2;
    case "flap":
      return 2 * plan.cycles;
    case "burst":
      return 2 * plan.count;
    case "ramp":
      return plan.impairments.length;
  }
}

/**
 * The timeline seeded with the scenario seed (pure): each fault without its
 * own `seed:` gets mixSeed(seed, its index in the timeline); with no scenario
 * seed such faults have none (their backend's own randomness).
 */
export function seedSteps(steps: readonly ChaosStep[], seed: number | undefined): ChaosStep[] {
  return steps.map((s, i) => {
    if (!s.fault || s.ownSeed) return s;
    const { seed: _derived, ...rest } = s.fault;
    return { ...s, fault: seed === undefined ? rest : { ...rest, seed: mixSeed(seed, i) } };
  });
}

/** The scenario run with seed `seed` (`--seed N`, which wins over the file's `seed:`). */
export function withSeed(s: Scenario, seed: number): Scenario {
  return { ...s, seed, chaos: seedSteps(s.chaos, seed) };
}

/** A step's action in a few words: "loss 5%" (plain random loss, as the records always said it), "clear", else the impairment. */
export function stepAction(step: Pick<ChaosStep, "fault" | "clear" | "direction">): string {
  if (!step.fault) return step.direction === "ingress" ? "clear (ingress)" : "clear";
  const imp = step.fault.impairment;
  const loss = imp.loss;
  if (loss?.kind === "random" && loss.correlation === undefined && Object.keys(imp).length === 1) return `loss ${formatNumber(loss.percent)}%`;
  return describeImpairment(imp);
}

/** The packets a step selects, "" for every packet egress (describeSelection, without the seed: that is shown apart). */
export function stepSelection(step: Pick<ChaosStep, "fault" | "direction">): string {
  if (!step.fault) return ""; // a clear's direction is in its action
  const { seed: _seed, ...f } = step.fault;
  return describeSelection(f);
}

/** A step in one line: what, on which packets, with which seed. */
export function stepDescription(step: Pick<ChaosStep, "fault" | "clear" | "direction">): string {
  if (!step.fault) return stepAction(step);
  const sel = describeSelection(step.fault);
  return `${describeImpairment(step.fault.impairment)}${sel ? ` [${sel}]` : ""}`;
}

// ---------------------------------------------------------------------------
// Parsing (through the validator's Checker: every problem at its key's line)

/** The value for a parser (mirrors validate.ts: a collection stands as an empty one, so messages say "a list"). */
function raw(n: PNode): unknown {
  return n.kind === "scalar" ? n.value : n.kind === "seq" ? [] : {};
}

/** A percent 0..100 at `n` (`positive`: more than 0, as `loss` always was). */
function percent(ck: Checker, n: PNode, what: string, positive = false): number {
  const v = ck.parsed(n, parsePercent(raw(n)));
  if (positive && !(v > 0 && v <= 100)) {
    const why = v === 0 ? `${what} 0% drops nothing` : `${what} ${v}% is out of range`;
    ck.at(n, `${why} — ${what} must be more than 0 % and at most 100 % (to remove a fault, use clear: true)`);
  }
  if (!(v >= 0 && v <= 100)) ck.at(n, `${what} ${v}% is out of range — use a percent from 0 to 100`);
  return v;
}

function lossOf(ck: Checker, n: PNode): LossModel {
  if (n.kind !== "map") return { kind: "random", percent: percent(ck, n, "loss", true) };
  const m = ck.map(n, "loss", LOSS_KEYS);
  const kinds = (["random", "gemodel", "state"] as const).filter((k) => ck.opt(m, k) !== undefined);
  if (kinds.length !== 1) {
    ck.at(m, `loss takes exactly one model, got ${kinds.length ? kinds.join(" and ") : "none"} — write loss: 5%, loss: { random: 5%, correlation: 25% }, loss: { gemodel: { p: 1%, r: 10% } } or loss: { state: { p13: 1% } }`);
  }
  const corrN = ck.opt(m, "correlation");
  if (corrN && kinds[0] !== "random") ck.at(corrN, "correlation belongs to random loss — write loss: { random: 5%, correlation: 25% }");
  if (kinds[0] === "random") {
    const percentN = ck.opt(m, "random")!; // counted above
    return { kind: "random", percent: percent(ck, percentN, "loss", true), ...(corrN ? { correlation: percent(ck, corrN, "loss correlation") } : {}) };
  }
  const sub = ck.opt(m, kinds[0])!;
  const fields = <K extends string>(keys: readonly K[], required: readonly K[], what: string): Partial<Record<K, number>> => {
    const mm = ck.map(sub, what, keys);
    const out: Partial<Record<K, number>> = {};
    for (const k of keys) {
      const v = required.includes(k) ? ck.req(mm, k, `${k}: 1%`) : ck.opt(mm, k);
      if (v) out[k] = percent(ck, v, `${what}.${k}`);
    }
    return out;
  };
  if (kinds[0] === "gemodel") {
    const g = fields(GEMODEL_KEYS, ["p", "r"], "loss.gemodel");
    return { kind: "gemodel", p: g.p!, r: g.r!, ...(g.h !== undefined ? { h: g.h } : {}), ...(g.k !== undefined ? { k: g.k } : {}) };
  }
  const st = fields(STATE_KEYS, ["p13"], "loss.state");
  return { kind: "state", p13: st.p13!, ...Object.fromEntries(STATE_KEYS.filter((k) => k !== "p13" && st[k] !== undefined).map((k) => [k, st[k]])) };
}

/** The impairment written with `keys` in map `m` (only the keys present). `partition: DURATION` is returned apart. */
function impairmentOf(ck: Checker, m: PMap, keys: readonly string[]): { imp: Impairment; partitionForMs?: number } {
  const imp: Impairment = {};
  let partitionForMs: number | undefined;
  const opt = (k: string) => (keys.includes(k) ? ck.opt(m, k) : undefined);
  const int = (k: string, lo: number) => {
    const n = opt(k);
    return n ? ck.int(n, lo, MAX_INT, k) : undefined;
  };
  const pct = (k: string) => {
    const n = opt(k);
    return n ? percent(ck, n, k) : undefined;
  };
  const set = <K extends keyof Impairment>(f: K, v: Impairment[K] | undefined) => {
    if (v !== undefined) imp[f] = v;
  };
  const lossN = opt("loss");
  if (lossN) imp.loss = lossOf(ck, lossN);
  const delayN = opt("delay");
  if (delayN) imp.delayMs = ck.duration(delayN, "delay", "zero");
  const jitterN = opt("jitter");
  if (jitterN) imp.jitterMs = ck.duration(jitterN, "jitter", "positive");
  set("delayCorrelation", pct("delay-correlation"));
  const distN = opt("distribution");
  if (distN) imp.delayDistribution = ck.oneOf<DelayDistribution>(distN, DELAY_DISTRIBUTIONS, "distribution");
  set("duplicate", pct("duplicate"));
  set("duplicateCorrelation", pct("duplicate-correlation"));
  set("reorder", pct("reorder"));
  set("reorderCorrelation", pct("reorder-correlation"));
  set("reorderGap", int("reorder-gap", 1));
  set("corrupt", pct("corrupt"));
  set("corruptCorrelation", pct("corrupt-correlation"));
  const rateN = opt("rate");
  if (rateN) imp.rateKbit = ck.parsed(rateN, parseBandwidth(raw(rateN)));
  set("limit", int("limit", 1));
  const dropN = opt("drop");
  if (dropN) {
    const s = ck.seq(dropN, "drop");
    if (s.items.length === 0) ck.at(s, "drop lists no packet — list the packet numbers to drop, e.g. drop: [20] (the 20th packet the fault sees)");
    imp.dropPackets = s.items.map((it) => ck.int(it, 1, MAX_INT, "drop"));
  }
  set("everyNth", int("every", 1));
  const partN = opt("partition");
  if (partN) {
    if (partN.kind === "scalar" && typeof partN.value === "boolean") {
      if (!partN.value) ck.at(partN, "partition: false does nothing — write partition: true (until a clear), partition: 2s (for a while), or remove it");
      imp.partition = true;
    } else if (partN.kind === "scalar" && (typeof partN.value === "string" || typeof partN.value === "number")) {
      partitionForMs = ck.duration(partN, "partition", "positive");
    } else {
      ck.at(partN, "partition must be true or a duration — write partition: true (until a clear) or partition: 2s");
    }
  }
  return { imp, ...(partitionForMs !== undefined ? { partitionForMs } : {}) };
}

/** An address or prefix for match.from/to: a node (its first link's address), a.b.c.d, or a.b.c.d/len. */
function endpoint(ck: Checker, n: PNode, key: string, byName: Map<string, NodeSpec>): string {
  const v = ck.str(n, `match.${key}`).trim();
  if (/^\d/.test(v)) {
    if (v.includes("/")) {
      const c = ck.parsed(n, parseCidr(v));
      if (networkOf(c) !== addrToInt(c.addr)) ck.at(n, `match.${key} ${v} has host bits set — write the network address ${networkText(c)}, or the bare address ${c.addr}`);
      return `${c.addr}/${c.prefix}`;
    }
    ck.parsed(n, parseAddr(v));
    return v;
  }
  const node = byName.get(v);
  if (!node) {
    ck.at(n, `match.${key}: unknown node \`${v}\` — ${didYouMean(v, byName.keys())}write a node (its first link's address), an IPv4 address or a prefix; the nodes are: ${[...byName.keys()].join(", ")}`);
  }
  return node.links[0].ip.addr;
}

function matchOf(ck: Checker, n: PNode, byName: Map<string, NodeSpec>): FlowMatch {
  const m = ck.map(n, "match", MATCH_KEYS);
  const out: FlowMatch = {};
  const protoN = ck.opt(m, "proto");
  if (protoN) out.proto = ck.oneOf<MatchProto>(protoN, MATCH_PROTOS, "proto");
  for (const k of ["sport", "dport"] as const) {
    const pn = ck.opt(m, k);
    if (!pn) continue;
    out[k] = ck.int(pn, 1, 65535, k);
    if (out.proto !== "tcp" && out.proto !== "udp") ck.at(pn, `a port match needs proto: tcp or proto: udp${out.proto ? ` (${out.proto} has no ports)` : ""} — add it to the match`);
  }
  const fromN = ck.opt(m, "from");
  if (fromN) out.src = endpoint(ck, fromN, "from", byName);
  const toN = ck.opt(m, "to");
  if (toN) out.dst = endpoint(ck, toN, "to", byName);
  if (Object.keys(out).length === 0) ck.at(m, "match is empty — give at least one of proto, sport, dport, from, to (or leave match out: every packet)");
  return out;
}

function selectionOf(ck: Checker, m: PMap, byName: Map<string, NodeSpec>): Selection {
  const sel: Selection = {};
  const dirN = ck.opt(m, "direction");
  if (dirN) sel.direction = ck.oneOf<Direction>(dirN, DIRECTIONS, "direction");
  const seedN = ck.opt(m, "seed");
  if (seedN) sel.seed = ck.int(seedN, 0, 0xffffffff, "seed");
  const matchN = ck.opt(m, "match");
  if (matchN) sel.match = matchOf(ck, matchN, byName);
  return sel;
}

/** validateFault (the impairment, direction, match, seed) at the step: its complaint at the key it names (else at the map). */
function checkImpairment(ck: Checker, m: PMap, imp: Impairment, sel: Selection = {}): void {
  try {
    validateFault(faultOf(imp, sel));
  } catch (e) {
    if (!(e instanceof InvalidImpairment)) throw e;
    const k = FIELD_KEY[e.field];
    const words = fileWords(e.message);
    // "needs reorder" says more as "reorder-correlation needs reorder"
    const needs = /^needs (\S+)$/.exec(words);
    const hint = needs ? `add ${needs[1]}, or remove ${k}` : e.field === "partition" ? "a partition stands alone: put the other impairment in a step of its own" : /jitter/.test(words) ? "add jitter (e.g. jitter: 10ms), or remove it" : "fix the value, or remove the key";
    const detail = `${/^(needs|must) /.test(words) ? `${k} ${words}` : words} — ${hint}`;
    const at = m.entries.get(k);
    if (at) ck.atKey(at, detail);
    ck.at(m, detail);
  }
  // the model leaves it to the backends, and every one refuses it: say so here, at the key
  const reorderN = m.entries.get("reorder");
  if (reorderN && imp.reorder !== undefined && !(imp.delayMs !== undefined && imp.delayMs > 0)) {
    ck.atKey(reorderN, "reorder needs delay > 0: it sends some packets ahead of the delayed ones — add delay (e.g. delay: 10ms)");
  }
}

/** What step `m` says to do. Exactly one action: impairment keys, clear, flap, burst or ramp. */
export function planOf(ck: Checker, m: PMap, byName: Map<string, NodeSpec>): StepPlan {
  const has = (k: string) => ck.opt(m, k) !== undefined;
  const impKeys = IMPAIRMENT_KEYS.filter(has);
  const actions = [...(impKeys.length ? [impKeys.join(", ")] : []), ...(["clear", ...SCHEDULE_KEYS] as const).filter(has)];
  const example = "add an impairment (e.g. loss: 5%, delay: 100ms, drop: [1], partition: true), clear: true, or a schedule (flap, burst, ramp)";
  if (actions.length === 0) ck.at(m, `a step needs exactly one action — ${example}`);
  if (actions.length > 1) {
    const second = m.entries.get(["clear", ...SCHEDULE_KEYS].find(has) ?? "")!;
    ck.atKey(second, `a step has more than one action (${actions.join("; ")}) — give exactly one action per step (split it into steps; impairment keys together make one fault)`);
  }
  const clearN = ck.opt(m, "clear");
  if (clearN) {
    if (!ck.bool(clearN, "clear")) ck.at(clearN, "clear: false does nothing — write clear: true, or remove the step");
    for (const k of ["seed", "match"]) {
      const e = m.entries.get(k);
      if (e && !(e.value.kind === "scalar" && e.value.value === null)) ck.atKey(e, `a clear removes whatever fault is on the target in its direction; it takes no ${k} — remove it (direction: ingress clears the ingress fault)`);
    }
    const dirN = ck.opt(m, "direction");
    return { kind: "clear", ...(dirN ? { direction: ck.oneOf<Direction>(dirN, DIRECTIONS, "direction") } : {}) };
  }
  const sel = selectionOf(ck, m, byName);
  const flapN = ck.opt(m, "flap");
  if (flapN) {
    const f = ck.map(flapN, "flap", FLAP_KEYS);
    const cyclesN = ck.opt(f, "cycles");
    return {
      kind: "flap",
      downMs: ck.duration(ck.req(f, "down", "down: 500ms"), "flap.down", "positive"),
      upMs: ck.duration(ck.req(f, "up", "up: 1s"), "flap.up", "positive"),
      cycles: cyclesN ? ck.int(cyclesN, 1, MAX_EXPANDED / 2, "flap.cycles") : 1,
      sel,
    };
  }
  const burstN = ck.opt(m, "burst");
  if (burstN) {
    const b = ck.map(burstN, "burst", BURST_KEYS);
    const { imp, partitionForMs } = impairmentOf(ck, b, BURST_IMPAIRMENT_KEYS);
    if (partitionForMs !== undefined) ck.at(ck.opt(b, "partition")!, "in a burst, partition is true (each window a blackhole); the window's length is burst.length");
    if (Object.keys(imp).length === 0) ck.at(b, "a burst needs an impairment for its windows — e.g. burst: { loss: 50%, length: 200ms, every: 1s, count: 3 }");
    checkImpairment(ck, b, imp, sel);
    const lengthN = ck.req(b, "length", "length: 200ms");
    const lengthMs = ck.duration(lengthN, "burst.length", "positive");
    const countN = ck.opt(b, "count");
    const count = countN ? ck.int(countN, 1, MAX_EXPANDED / 2, "burst.count") : 1;
    const everyN = ck.opt(b, "every");
    const everyMs = everyN ? ck.duration(everyN, "burst.every", "positive") : lengthMs;
    if (!everyN && count > 1) ck.fail(b.pos, `${b.path}.every`, `missing required key \`every\` — ${count} windows need a period, e.g. every: 1s`);
    if (count > 1 && lengthMs >= everyMs) ck.at(lengthN, `burst.length ${msText(lengthMs)} is not shorter than burst.every ${msText(everyMs)} — each window must end before the next begins`);
    return { kind: "burst", impairment: imp, lengthMs, everyMs, count, sel };
  }
  const rampN = ck.opt(m, "ramp");
  if (rampN) {
    const r = ck.map(rampN, "ramp", RAMP_KEYS);
    const lists = RAMP_LISTS.filter((k) => ck.opt(r, k) !== undefined);
    if (lists.length !== 1) ck.at(r, `a ramp steps exactly one value, got ${lists.length ? lists.join(" and ") : "none"} — write e.g. ramp: { loss: [1%, 2%, 5%], every: 1s } (or delay: [...], rate: [...])`);
    const key = lists[0];
    const listN = ck.seq(ck.opt(r, key)!, `ramp.${key}`);
    if (listN.items.length === 0) ck.at(listN, `ramp.${key} is empty — list the values to step through, e.g. [1%, 2%, 5%]`);
    if (listN.items.length > MAX_EXPANDED) ck.at(listN, `ramp.${key} lists ${listN.items.length} values — at most ${MAX_EXPANDED}`);
    const impairments = listN.items.map((item): Impairment => {
      if (key === "loss") return { loss: { kind: "random", percent: percent(ck, item, "loss", true) } };
      if (key === "delay") return { delayMs: ck.duration(item, "delay", "zero") };
      return { rateKbit: ck.parsed(item, parseBandwidth(raw(item))) };
    });
    const everyMs = ck.duration(ck.req(r, "every", "every: 1s"), "ramp.every", "positive");
    return { kind: "ramp", impairments, everyMs, sel };
  }
  const { imp, partitionForMs } = impairmentOf(ck, m, IMPAIRMENT_KEYS);
  if (partitionForMs !== undefined) {
    const others = impKeys.filter((k) => k !== "partition");
    if (others.length) ck.atKey(m.entries.get("partition")!, `a partition drops every packet; it cannot be combined with ${others.join(", ")} — a partition stands alone: put the other impairment in a step of its own`);
    return { kind: "partition-for", forMs: partitionForMs, sel };
  }
  checkImpairment(ck, m, imp, sel);
  return { kind: "fault", impairment: imp, sel };
}

/** The key of a step that makes it a schedule (for messages about its expansion), else undefined. */
export function scheduleKey(m: PMap): string | undefined {
  for (const k of [...SCHEDULE_KEYS, "partition"]) {
    const e = m.entries.get(k);
    if (e && !(e.value.kind === "scalar" && (e.value.value === null || typeof e.value.value === "boolean"))) return k;
  }
  return undefined;
}

/** A step's place: NODE.NET direction (a node-wide step stands on each of the node's nets). */
function stepPlaces(step: ChaosStep, netsOf: (node: string) => readonly string[]): string[] {
  const dir = (step.fault ? step.fault.direction : step.direction) ?? "egress";
  const nets = step.on.net !== undefined ? [step.on.net] : netsOf(step.on.node);
  return nets.map((n) => `${step.on.node}.${n} ${dir}`);
}

/** Two steps that overlap on one place, where a schedule would silently replace or remove the other's fault. */
export interface ScheduleOverlap {
  /** The step that comes in on top (its origin: the index of the written step it came from). */
  later: ChaosStep;
  laterOrigin: number;
  /** The fault in place there, and where it was written. */
  inPlace: ChaosStep;
  place: string;
}

/**
 * Schedules that overlap another fault on the same (target, direction) (pure). One place holds one fault: a
 * burst's window replaces a fault in place there and its clear removes it for the rest of chaos, silently. So a
 * step of a schedule may not come in on a fault another written step put there, and no other step may put a
 * fault where a schedule's window is still running (until its last step). `origin[i]`: the written step
 * timeline[i] came from; the timeline in time order.
 */
export function scheduleOverlaps(timeline: readonly ChaosStep[], origin: readonly number[], netsOf: (node: string) => readonly string[]): ScheduleOverlap[] {
  // a schedule's window: from its first step to its last
  const lastAt = new Map<number, number>();
  timeline.forEach((s, i) => s.schedule && lastAt.set(origin[i], Math.max(lastAt.get(origin[i]) ?? 0, s.atMs)));
  const inPlace = new Map<string, { step: ChaosStep; origin: number }>();
  const out: ScheduleOverlap[] = [];
  timeline.forEach((step, i) => {
    for (const place of stepPlaces(step, netsOf)) {
      if (!step.fault) {
        inPlace.delete(place);
        continue;
      }
      const prev = inPlace.get(place);
      if (prev && prev.origin !== origin[i]) {
        const prevWindowOpen = prev.step.schedule !== undefined && (lastAt.get(prev.origin) ?? 0) > step.atMs;
        if (step.schedule !== undefined || prevWindowOpen) out.push({ later: step, laterOrigin: origin[i], inPlace: prev.step, place });
      }
      inPlace.set(place, { step, origin: origin[i] });
    }
  });
  return out;
}
