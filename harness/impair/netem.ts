// Impairment → `tc ... netem` argv, and the check that the kernel holds what
// was asked. Pure: nothing here runs a program. Syntax per tc-netem(8):
//   limit PACKETS  delay TIME [JITTER [CORRELATION]]  distribution {normal|pareto|paretonormal}
//   loss random PERCENT [CORRELATION] | loss state P13 [P31 [P32 [P23 [P14]]]] | loss gemodel P [R [1-H [1-K]]]
//   corrupt PERCENT [CORRELATION]  duplicate PERCENT [CORRELATION]
//   reorder PERCENT [CORRELATION] (only with a delay)  gap DISTANCE  rate RATE  seed SEED (iproute2 ≥ 6.6)
import { formatNumber, ImpairmentUnsupported, type ImpairmentField, type Impairment, type LossModel, validateImpairment } from "./impairment";
import { type Qdisc, type QdiscPlace, tcQdiscDelRootArgv, tcQdiscReplaceArgv, VPNLAB_ROOT_HANDLE } from "./tc";

export const NETEM = "netem";

/** Every reason netem cannot express this impairment (empty when it can). Assumes a valid impairment. */
export function netemUnsupported(imp: Impairment): ImpairmentUnsupported[] {
  const out: ImpairmentUnsupported[] = [];
  if (imp.everyNth !== undefined) {
    out.push(new ImpairmentUnsupported("everyNth", NETEM, "its loss generators are random; it has no deterministic every-Nth-packet loss"));
  }
  if (imp.dropPackets !== undefined) {
    out.push(new ImpairmentUnsupported("dropPackets", NETEM, "its loss generators are random; it cannot drop chosen packets"));
  }
  const hasDelay = imp.delayMs !== undefined && imp.delayMs > 0;
  if (imp.reorder !== undefined && !hasDelay) {
    out.push(new ImpairmentUnsupported("reorder", NETEM, "netem rejects reorder without a delay (it reorders by sending some packets ahead of delayed ones): set delayMs > 0"));
  }
  if (imp.jitterMs !== undefined && !hasDelay) {
    out.push(new ImpairmentUnsupported("jitterMs", NETEM, "jitter varies the delay around a base delay: set delayMs > 0"));
  }
  return out;
}

/** "5%" — refusing values that would round to nothing on the command line. */
function pct(field: ImpairmentField, v: number): string {
  const s = formatNumber(v);
  if (v > 0 && Number(s) === 0) {
    throw new ImpairmentUnsupported(field, NETEM, `${v}% is below the resolution of a tc percent`);
  }
  return `${s}%`;
}

function ms(v: number): string {
  return `${formatNumber(v)}ms`;
}

/** A correlation is a trailing positional value: left out when zero (the same as absent for netem). */
function corr(field: ImpairmentField, v: number | undefined): string[] {
  return v !== undefined && v > 0 ? [pct(field, v)] : [];
}

/** The 4-state model with the model's defaults filled in (see describeImpairment): tc's own defaults differ (p31 = 100-p13). */
export function stateLossValues(loss: { p13: number; p31?: number; p32?: number; p23?: number; p14?: number }): [number, number, number, number, number] {
  return [loss.p13, loss.p31 ?? 100, loss.p32 ?? 0, loss.p23 ?? 100, loss.p14 ?? 0];
}

export interface NetemOptions {
  /** The seed of netem's generator (iproute2 ≥ 6.6 and a kernel that keeps it; the caller checks). */
  seed?: number;
}

/** The netem options (everything after `netem`) for an impairment; throws ImpairmentUnsupported / InvalidImpairment. */
export function netemParams(imp: Impairment, opts: NetemOptions = {}): string[] {
  validateImpairment(imp);
  const unsupported = netemUnsupported(imp);
  if (unsupported.length > 0) throw unsupported[0];
  const out: string[] = [];
  if (imp.limit !== undefined) out.push("limit", String(imp.limit));
  if (imp.delayMs !== undefined) {
    out.push("delay", ms(imp.delayMs));
    if (imp.jitterMs !== undefined && imp.jitterMs > 0) out.push(ms(imp.jitterMs), ...corr("delayCorrelation", imp.delayCorrelation));
    // uniform is netem's own default: it has no table file to name
    if (imp.delayDistribution !== undefined && imp.delayDistribution !== "uniform") out.push("distribution", imp.delayDistribution);
  }
  const loss = imp.loss;
  if (imp.partition) {
    out.push("loss", "random", "100%");
  } else if (loss?.kind === "random") {
    out.push("loss", "random", pct("loss", loss.percent), ...corr("loss.correlation", loss.correlation));
  } else if (loss?.kind === "gemodel") {
    // tc takes the loss probabilities 1-h (bad state) and 1-k (good state);
    // the model holds the delivery probabilities h and k.
    out.push("loss", "gemodel", pct("loss.gemodel", loss.p), pct("loss.gemodel", loss.r));
    if (loss.h !== undefined || loss.k !== undefined) out.push(pct("loss.gemodel", 100 - (loss.h ?? 0)));
    if (loss.k !== undefined) out.push(pct("loss.gemodel", 100 - loss.k));
  } else if (loss?.kind === "state") {
    // all five, so that what is installed is what describeImpairment says
    out.push("loss", "state", ...stateLossValues(loss).map((v) => pct("loss.state", v)));
  }
  if (imp.corrupt !== undefined) out.push("corrupt", pct("corrupt", imp.corrupt), ...corr("corruptCorrelation", imp.corruptCorrelation));
  if (imp.duplicate !== undefined) out.push("duplicate", pct("duplicate", imp.duplicate), ...corr("duplicateCorrelation", imp.duplicateCorrelation));
  if (imp.reorder !== undefined) {
    out.push("reorder", pct("reorder", imp.reorder), ...corr("reorderCorrelation", imp.reorderCorrelation));
    if (imp.reorderGap !== undefined) out.push("gap", String(imp.reorderGap));
  }
  if (imp.rateKbit !== undefined) out.push("rate", `${formatNumber(imp.rateKbit)}kbit`);
  if (opts.seed !== undefined) out.push("seed", String(opts.seed));
  return out;
}

/** `tc qdisc replace dev DEV root handle 564c: netem ...` (or under a class): replaces vpnlab's netem there, keeping its counters. */
export function netemArgv(dev: string, imp: Impairment, opts: NetemOptions & { place?: QdiscPlace; handle?: string } = {}): string[] {
  return tcQdiscReplaceArgv(dev, opts.place ?? { root: true }, opts.handle ?? VPNLAB_ROOT_HANDLE, NETEM, netemParams(imp, opts));
}

/** `tc qdisc del dev DEV root`. */
export function netemClearArgv(dev: string): string[] {
  return tcQdiscDelRootArgv(dev);
}

// ---- seed support: iproute2 6.6 added `seed` to netem ----

/** [major, minor, patch] from `tc -V` ("tc utility, iproute2-6.1.0, libbpf 1.1.2"; older: "tc utility, iproute2-ss200127"). */
export function parseTcVersion(text: string): [number, number, number] | undefined {
  const m = text.match(/iproute2-(?:v)?(\d+)\.(\d+)(?:\.(\d+))?/);
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

/** Why this tc cannot pass netem a seed (undefined: it can). `versionText` is `tc -V`'s output, or why it could not be run. */
export function tcSeedUnsupportedReason(versionText: string): string | undefined {
  const v = parseTcVersion(versionText);
  if (!v) return `the version of tc is unknown (tc -V: ${JSON.stringify(versionText.trim().slice(0, 80))}); netem's seed needs iproute2 ≥ 6.6`;
  if (v[0] > 6 || (v[0] === 6 && v[1] >= 6)) return undefined;
  return `tc is iproute2 ${v.join(".")}, and netem's seed needs iproute2 ≥ 6.6 (and a kernel whose netem keeps it)`;
}

// ---- readback: what `tc -j qdisc show` says the kernel holds ----

/** One difference between what was asked and what the kernel reports. */
export interface NetemMismatch {
  option: string;
  asked: string;
  shown: string;
}

function rec(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/**
 * Compare a netem's `options` (iproute2's JSON: times in seconds, percents
 * as fractions, rate in bytes/s) with the impairment it should carry.
 * Empty when they agree within what tc's number formats can show.
 */
export function netemReadbackMismatches(imp: Impairment, options: Record<string, unknown>, opts: NetemOptions = {}): NetemMismatch[] {
  const out: NetemMismatch[] = [];
  const near = (a: number, b: number, abs: number): boolean => Math.abs(a - b) <= Math.max(abs, Math.abs(b) * 1e-5);
  const check = (option: string, group: string | undefined, key: string, asked: number, abs: number, show: (n: number) => string): void => {
    const holder = group === undefined ? options : rec(options[group]);
    const got = holder?.[key];
    if (typeof got !== "number" || !near(got, asked, abs)) {
      out.push({ option, asked: show(asked), shown: typeof got === "number" ? show(got) : "nothing" });
    }
  };
  const frac = (option: string, group: string, key: string, percent: number): void =>
    check(option, group, key, percent / 100, 2e-6, (n) => `${formatNumber(n * 100)}%`);
  const secs = (option: string, key: string, milliseconds: number): void =>
    check(option, "delay", key, milliseconds / 1000, 2e-6, (n) => `${formatNumber(n * 1000)}ms`);

  if (imp.limit !== undefined) check("limit", undefined, "limit", imp.limit, 0, String);
  if (imp.delayMs !== undefined && imp.delayMs > 0) {
    secs("delay", "delay", imp.delayMs);
    secs("jitter", "jitter", imp.jitterMs ?? 0);
    if (imp.delayCorrelation) frac("delay correlation", "delay", "correlation", imp.delayCorrelation);
  }
  const loss: LossModel | undefined = imp.partition ? { kind: "random", percent: 100 } : imp.loss;
  if (loss?.kind === "random" && loss.percent > 0) {
    frac("loss", "loss-random", "loss", loss.percent);
    if (loss.correlation) frac("loss correlation", "loss-random", "correlation", loss.correlation);
  } else if (loss?.kind === "gemodel") {
    frac("loss gemodel p", "loss-gemodel", "p", loss.p);
    frac("loss gemodel r", "loss-gemodel", "r", loss.r);
    frac("loss gemodel 1-h", "loss-gemodel", "1-h", 100 - (loss.h ?? 0));
    frac("loss gemodel 1-k", "loss-gemodel", "1-k", 100 - (loss.k ?? 100));
  } else if (loss?.kind === "state") {
    const names = ["p13", "p31", "p32", "p23", "p14"] as const;
    stateLossValues(loss).forEach((v, i) => frac(`loss state ${names[i]}`, "loss-state", names[i], v));
  }
  for (const [what, value, correlation] of [
    ["duplicate", imp.duplicate, imp.duplicateCorrelation],
    ["reorder", imp.reorder, imp.reorderCorrelation],
    ["corrupt", imp.corrupt, imp.corruptCorrelation],
  ] as const) {
    if (value === undefined || value === 0) continue;
    frac(what, what, what, value);
    if (correlation) frac(`${what} correlation`, what, "correlation", correlation);
  }
  // tc turns a reorder without a gap into gap 1 (every packet may be sent ahead)
  if (imp.reorder) check("gap", undefined, "gap", imp.reorderGap ?? 1, 0, String);
  if (imp.rateKbit !== undefined) check("rate", "rate", "rate", (imp.rateKbit * 1000) / 8, 1, (n) => `${formatNumber((n * 8) / 1000)}kbit`);
  if (opts.seed !== undefined) check("seed", undefined, "seed", opts.seed, 0, String);
  return out;
}

/**
 * Throws unless QDISC is vpnlab's netem (kind and handle) carrying the
 * impairment; the message names what was asked and what the kernel shows.
 */
export function assertNetemReadback(where: string, qdisc: Qdisc | undefined, handle: string, imp: Impairment, opts: NetemOptions = {}): void {
  if (!qdisc) throw new Error(`${where}: asked for netem ${handle}, tc shows no such qdisc`);
  if (qdisc.kind !== NETEM || qdisc.handle !== handle) {
    throw new Error(`${where}: asked for netem ${handle}, tc shows ${qdisc.kind} ${qdisc.handle}`);
  }
  const bad = netemReadbackMismatches(imp, qdisc.options, opts);
  if (bad.length > 0) {
    const seedOnly = bad.length === 1 && bad[0].option === "seed" && bad[0].shown === "nothing";
    throw new Error(
      `${where}: netem ${handle} does not hold what was asked: ${bad.map((b) => `${b.option} asked ${b.asked}, tc shows ${b.shown}`).join("; ")}` +
        (seedOnly ? " (this kernel's netem has no seeded generator)" : ""),
    );
  }
}
