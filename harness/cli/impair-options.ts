// The impairment options `vpnlab impair` and `vpnlab sweep` share: the same
// vocabulary, units and ranges as a chaos step in a topology file (the
// parsers of harness/topology/units.ts), turned into a Fault of the one model.
// Pure: nothing here touches a lab.
import type { Argv } from "yargs";
import { DIRECTIONS, MATCH_PROTOS, type Direction, type Fault, type FlowMatch, type MatchProto, validateFault } from "../impair/fault";
import { DELAY_DISTRIBUTIONS, type DelayDistribution, type Impairment, InvalidImpairment } from "../impair/impairment";
import { didYouMean } from "../topology/errors";
import { addrToInt, networkOf, networkText, parseAddr, parseBandwidth, parseCidr, parseDuration, parsePercent, type Parsed } from "../topology/units";
import { UsageError } from "./command";

/** The options that take one value each (as strings: each is parsed with the topology file's units). */
export const VALUE_OPTIONS = {
  loss: "random loss, e.g. 5%",
  "loss-correlation": "correlation of successive random losses, e.g. 25%",
  gemodel: "Gilbert-Elliott loss p,r[,h,k] (percents: good→bad, bad→good, delivery in bad, in good), e.g. 1%,10%",
  "loss-state": "netem's 4-state loss p13[,p31[,p32[,p23[,p14]]]] (percents)",
  delay: "added one-way delay, e.g. 100ms",
  jitter: "delay variation around --delay, e.g. 20ms",
  "delay-correlation": "correlation of successive delays, e.g. 25%",
  distribution: `how the delay varies (${DELAY_DISTRIBUTIONS.join(", ")})`,
  duplicate: "duplicated packets, e.g. 20%",
  "duplicate-correlation": "correlation of successive duplicates",
  reorder: "packets sent at once instead of delayed (needs --delay), e.g. 10%",
  "reorder-correlation": "correlation of successive reorders",
  "reorder-gap": "reorder every Nth packet instead of at random",
  corrupt: "packets with a bit flipped, e.g. 1%",
  "corrupt-correlation": "correlation of successive corruptions",
  rate: "rate limit, e.g. 1mbit, 500kbit",
  limit: "queue limit, packets",
  drop: "drop exactly these packets (1-based, counted from the apply among the matched ones), e.g. 1,5",
  every: "drop every Nth packet",
} as const;
export type ValueOption = keyof typeof VALUE_OPTIONS;
export const VALUE_OPTION_NAMES = Object.keys(VALUE_OPTIONS) as ValueOption[];

/** What the options parse to before they become a Fault. */
export type ImpairArgs = Partial<Record<ValueOption, string>> & { partition?: boolean; direction?: string; match?: string; seed?: string };

/** A repeated option counts once, with its last value (as a shell user overriding an alias expects). */
const last = (v: unknown): string | undefined => (v === undefined ? undefined : String(Array.isArray(v) ? v[v.length - 1] : v));

/**
 * Register every impairment option on a command (impair, sweep); `lists` says which ones take a comma list
 * of values (sweep, which keeps each step's own direction and match: no --direction nor --match there, and
 * --seed is the scenario's, as for `run`).
 */
export function withImpairOptions<A>(y: Argv<A>, lists?: { options: readonly ValueOption[]; note: string }): Argv<A & ImpairArgs> {
  // each .option() refines the type; the loop's result is the same whole either way
  let out = y as Argv<A & ImpairArgs>;
  for (const name of VALUE_OPTION_NAMES) {
    const listed = lists?.options.includes(name);
    out = out.option(name, { type: "string", requiresArg: true, coerce: last, describe: VALUE_OPTIONS[name] + (listed ? ` ${lists!.note}` : "") }) as Argv<A & ImpairArgs>;
  }
  out = out.option("partition", { type: "boolean", describe: "drop every packet (alone: no other impairment with it)" }) as Argv<A & ImpairArgs>;
  // sweep seeds scenarios as `run` does (withSeedOption)
  if (lists) return out;
  return out
    .option("direction", { type: "string", requiresArg: true, coerce: last, describe: "egress (default: packets leaving the interface) or ingress" })
    .option("match", { type: "string", requiresArg: true, coerce: last, describe: "only these packets: proto=tcp|udp|icmp|esp,sport=N,dport=N,from=NODE|ADDR[/LEN],to=NODE|ADDR[/LEN] (a node: its first link's address)" })
    .option("seed", { type: "string", requiresArg: true, coerce: last, describe: "seed of the fault's random decisions (0..4294967295): the same seed, the same packets" }) as Argv<A & ImpairArgs>;
}

/** A bare number is the unit's default (percent); "5%" as in a topology file. */
function numberOrText(v: string): string | number {
  return /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v;
}

function value<T>(option: string, text: string, r: Parsed<T>): T {
  if (!r.ok) throw new UsageError(`--${option} ${text}: ${r.why}`);
  return r.value;
}

export function percentOption(option: string, text: string): number {
  const p = value(option, text, parsePercent(numberOrText(text)));
  if (!(p >= 0 && p <= 100)) throw new UsageError(`--${option} ${text}: must be a percent in 0..100`);
  return p;
}

export function durationOption(option: string, text: string): number {
  return value(option, text, parseDuration(text.trim()));
}

export function bandwidthOption(option: string, text: string): number {
  return value(option, text, parseBandwidth(text));
}

export function integerOption(option: string, text: string, min: number): number {
  const t = text.trim();
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${option} ${text}: must be a whole number ≥ ${min}`);
  return n;
}

function percentList(option: string, text: string, min: number, max: number): number[] {
  const items = text.split(",").map((s) => s.trim());
  if (items.length < min || items.length > max || items.some((s) => s === "")) {
    throw new UsageError(`--${option} ${text}: give ${min === max ? min : `${min} to ${max}`} percents, comma-separated`);
  }
  return items.map((s) => percentOption(option, s));
}

/** The impairment the value options describe (empty when none is given). Throws UsageError naming the option. */
export function impairmentOf(a: ImpairArgs): Impairment {
  const imp: Impairment = {};
  const given = (o: ValueOption): string | undefined => a[o];
  const lossOpts = (["loss", "gemodel", "loss-state"] as const).filter((o) => given(o) !== undefined);
  if (lossOpts.length > 1) throw new UsageError(`give one loss model: --${lossOpts.join(" and --")} were both given`);
  if (given("loss") !== undefined) {
    const percent = percentOption("loss", given("loss")!);
    // as the topology file: a fault that drops nothing is not a fault
    if (percent === 0) throw new UsageError(`--loss ${given("loss")}: loss 0% drops nothing — to remove a fault, use \`vpnlab heal\``);
    imp.loss = { kind: "random", percent };
    if (given("loss-correlation") !== undefined) imp.loss.correlation = percentOption("loss-correlation", given("loss-correlation")!);
  } else if (given("loss-correlation") !== undefined) {
    throw new UsageError("--loss-correlation needs --loss");
  }
  if (given("gemodel") !== undefined) {
    const [p, r, h, k] = percentList("gemodel", given("gemodel")!, 2, 4);
    imp.loss = { kind: "gemodel", p, r, ...(h !== undefined ? { h } : {}), ...(k !== undefined ? { k } : {}) };
  }
  if (given("loss-state") !== undefined) {
    const [p13, p31, p32, p23, p14] = percentList("loss-state", given("loss-state")!, 1, 5);
    const opt = { p31, p32, p23, p14 };
    imp.loss = { kind: "state", p13, ...Object.fromEntries(Object.entries(opt).filter(([, v]) => v !== undefined)) };
  }
  if (given("delay") !== undefined) imp.delayMs = durationOption("delay", given("delay")!);
  if (given("jitter") !== undefined) imp.jitterMs = durationOption("jitter", given("jitter")!);
  if (given("delay-correlation") !== undefined) imp.delayCorrelation = percentOption("delay-correlation", given("delay-correlation")!);
  if (given("distribution") !== undefined) {
    const d = given("distribution")!;
    if (!(DELAY_DISTRIBUTIONS as readonly string[]).includes(d)) throw new UsageError(`--distribution ${d}: ${didYouMean(d, DELAY_DISTRIBUTIONS)}use one of ${DELAY_DISTRIBUTIONS.join(", ")}`);
    imp.delayDistribution = d as DelayDistribution;
  }
  if (given("duplicate") !== undefined) imp.duplicate = percentOption("duplicate", given("duplicate")!);
  if (given("duplicate-correlation") !== undefined) imp.duplicateCorrelation = percentOption("duplicate-correlation", given("duplicate-correlation")!);
  if (given("reorder") !== undefined) imp.reorder = percentOption("reorder", given("reorder")!);
  if (given("reorder-correlation") !== undefined) imp.reorderCorrelation = percentOption("reorder-correlation", given("reorder-correlation")!);
  if (given("reorder-gap") !== undefined) imp.reorderGap = integerOption("reorder-gap", given("reorder-gap")!, 1);
  if (given("corrupt") !== undefined) imp.corrupt = percentOption("corrupt", given("corrupt")!);
  if (given("corrupt-correlation") !== undefined) imp.corruptCorrelation = percentOption("corrupt-correlation", given("corrupt-correlation")!);
  if (given("rate") !== undefined) imp.rateKbit = bandwidthOption("rate", given("rate")!);
  if (given("limit") !== undefined) imp.limit = integerOption("limit", given("limit")!, 1);
  if (given("drop") !== undefined) imp.dropPackets = given("drop")!.split(",").map((s) => integerOption("drop", s, 1));
  if (given("every") !== undefined) imp.everyNth = integerOption("every", given("every")!, 1);
  if (a.partition) imp.partition = true;
  return imp;
}

/** `proto=tcp,dport=10000,from=client,to=10.0.0.0/8`; `addressOf` gives a node's first link address (undefined: no such node). */
export function parseMatch(text: string, addressOf: (node: string) => string | undefined): FlowMatch {
  const m: FlowMatch = {};
  const keys = ["proto", "sport", "dport", "from", "to"];
  for (const item of text.split(",").map((s) => s.trim())) {
    const eq = item.indexOf("=");
    const k = eq < 0 ? item : item.slice(0, eq).trim();
    const v = eq < 0 ? "" : item.slice(eq + 1).trim();
    if (!keys.includes(k)) throw new UsageError(`--match ${text}: \`${k}\` is not a match key — ${didYouMean(k, keys)}use ${keys.map((x) => `${x}=...`).join(", ")}`);
    if (v === "") throw new UsageError(`--match ${text}: ${k} needs a value (${k}=...)`);
    if (k === "proto") {
      if (!(MATCH_PROTOS as readonly string[]).includes(v)) throw new UsageError(`--match ${text}: proto ${v} — ${didYouMean(v, MATCH_PROTOS)}use one of ${MATCH_PROTOS.join(", ")}`);
      m.proto = v as MatchProto;
    } else if (k === "sport" || k === "dport") {
      const n = integerOption(`match ${k}`, v, 1);
      if (n > 65535) throw new UsageError(`--match ${text}: ${k} must be a port 1..65535`);
      m[k] = n;
    } else {
      m[k === "from" ? "src" : "dst"] = addressOrNode(text, k, v, addressOf);
    }
  }
  return m;
}

function addressOrNode(text: string, key: string, v: string, addressOf: (node: string) => string | undefined): string {
  if (/^[\d.]+(\/\d+)?$/.test(v)) {
    if (!v.includes("/")) {
      const a = parseAddr(v);
      if (!a.ok) throw new UsageError(`--match ${text}: ${key} ${a.why}`);
      return v;
    }
    const c = parseCidr(v);
    if (!c.ok) throw new UsageError(`--match ${text}: ${key} ${c.why}`);
    // as the topology file: a prefix is its network address
    if (networkOf(c.value) !== addrToInt(c.value.addr)) throw new UsageError(`--match ${text}: ${key} ${v} has host bits set — write the network address ${networkText(c.value)}, or the bare address ${c.value.addr}`);
    return v;
  }
  const addr = addressOf(v);
  if (addr === undefined) throw new UsageError(`--match ${text}: ${key} ${v} is neither an IPv4 address nor a node of the lab`);
  return addr;
}

export function parseDirection(v: string | undefined): Direction | undefined {
  if (v === undefined) return undefined;
  if (!(DIRECTIONS as readonly string[]).includes(v)) throw new UsageError(`--direction ${v}: ${didYouMean(v, DIRECTIONS)}use egress or ingress`);
  return v as Direction;
}

export function parseSeed(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = integerOption("seed", v, 0);
  if (n > 0xffffffff) throw new UsageError(`--seed ${v}: must be at most 4294967295`);
  return n;
}

/** The whole fault the options give, validated as the model does (a contradiction names its option). */
export function faultOf(a: ImpairArgs, addressOf: (node: string) => string | undefined, impairment: Impairment = impairmentOf(a)): Fault {
  const direction = parseDirection(a.direction);
  const seed = parseSeed(a.seed);
  const fault: Fault = { impairment, ...(direction ? { direction } : {}), ...(a.match !== undefined ? { match: parseMatch(a.match, addressOf) } : {}), ...(seed !== undefined ? { seed } : {}) };
  try {
    return validateFault(fault);
  } catch (e) {
    if (e instanceof InvalidImpairment) throw new UsageError(e.message.replace(/^invalid impairment \((\w+(?:\.\w+)?)\)/, (_, f: string) => `invalid impairment (--${optionOfField(f)})`));
    throw e;
  }
}

/** The option a model field comes from (for messages). */
function optionOfField(field: string): string {
  const map: Record<string, string> = {
    loss: "loss", "loss.correlation": "loss-correlation", "loss.gemodel": "gemodel", "loss.state": "loss-state", delayMs: "delay", jitterMs: "jitter",
    delayCorrelation: "delay-correlation", delayDistribution: "distribution", duplicateCorrelation: "duplicate-correlation", reorderCorrelation: "reorder-correlation",
    reorderGap: "reorder-gap", corruptCorrelation: "corrupt-correlation", rateKbit: "rate", dropPackets: "drop", everyNth: "every",
  };
  return map[field] ?? field;
}
