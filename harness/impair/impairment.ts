// The one impairment model. Every backend (netem through `tc`, nftables drop
// rules) works from these types only; what a backend cannot express is
// refused by that backend with a reason, never silently weakened.

/** Packet loss: independent (optionally correlated) or Gilbert-Elliott bursts. All values are percents 0..100. */
export type LossModel =
  | { kind: "random"; percent: number; correlation?: number }
  /**
   * Gilbert-Elliott: p = good→bad transition, r = bad→good transition,
   * h = delivery probability in the bad state (loss there is 100-h; default 0,
   * i.e. every packet in the bad state is lost), k = delivery probability in
   * the good state (loss there is 100-k; default 100, i.e. no loss).
   */
  | { kind: "gemodel"; p: number; r: number; h?: number; k?: number }
  /**
   * netem's 4-state Markov model (tc-netem(8) "loss state p13 [p31 [p32 [p23 [p14]]]]"):
   * 1 = good reception, 2 = good but lossy, 3 = burst loss, 4 = independent loss;
   * each value a transition probability in percent.
   */
  | { kind: "state"; p13: number; p31?: number; p32?: number; p23?: number; p14?: number };

/** netem's delay distributions (tables shipped with iproute2). */
export type DelayDistribution = "uniform" | "normal" | "pareto" | "paretonormal";
export const DELAY_DISTRIBUTIONS: readonly DelayDistribution[] = ["uniform", "normal", "pareto", "paretonormal"];

export interface Impairment {
  loss?: LossModel;
  /** Added one-way delay, milliseconds. */
  delayMs?: number;
  /** Delay variation around `delayMs`, milliseconds (needs delayMs > 0). */
  jitterMs?: number;
  /** Correlation of successive delays, percent (needs jitterMs). */
  delayCorrelation?: number;
  /** How the delay varies around delayMs (needs jitterMs); default uniform. */
  delayDistribution?: DelayDistribution;
  /** Percent of packets duplicated. */
  duplicate?: number;
  duplicateCorrelation?: number;
  /** Percent of packets sent at once instead of delayed (needs delayMs > 0). */
  reorder?: number;
  reorderCorrelation?: number;
  /** netem's `gap`: reorder every Nth packet instead of at random (≥ 1). */
  reorderGap?: number;
  /** Percent of packets with a bit flipped at a random position. */
  corrupt?: number;
  corruptCorrelation?: number;
  /** Rate limit, kbit/s. */
  rateKbit?: number;
  /** Queue limit, packets (netem's `limit`; what the wire holds before dropping). */
  limit?: number;
  /**
   * Drop exactly these packets, counted 1, 2, 3, ... among the packets the
   * fault sees (after its flow match) from the moment it is applied:
   * a deterministic drop, e.g. [20] drops the 20th segment and nothing else.
   */
  dropPackets?: number[];
  /** Drop every packet. Exclusive with every other field. */
  partition?: boolean;
  /** Drop every Nth packet (N ≥ 1; deterministic, not random). */
  everyNth?: number;
}

/** The model's field names, for refusals that name a field. */
export type ImpairmentField = keyof Impairment | "loss.correlation" | "loss.gemodel" | "loss.state" | "match" | "direction" | "seed";

/** A value out of range or a self-contradictory combination, whatever the backend. */
export class InvalidImpairment extends Error {
  constructor(
    readonly field: ImpairmentField,
    message: string,
  ) {
    super(`invalid impairment (${field}): ${message}`);
    this.name = "InvalidImpairment";
  }
}

/** A backend cannot express (part of) an impairment. */
export class ImpairmentUnsupported extends Error {
  constructor(
    readonly field: ImpairmentField,
    readonly backend: string,
    readonly reason: string,
  ) {
    super(`${backend} cannot express ${field}: ${reason}`);
    this.name = "ImpairmentUnsupported";
  }
}

function checkPercent(field: ImpairmentField, what: string, v: number | undefined): void {
  if (v === undefined) return;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 100) {
    throw new InvalidImpairment(field, `${what} must be a percent in 0..100, got ${String(v)}`);
  }
}

function checkNonNegative(field: ImpairmentField, v: number | undefined): void {
  if (v === undefined) return;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new InvalidImpairment(field, `must be a finite number ≥ 0, got ${String(v)}`);
  }
}

/** Throws InvalidImpairment for values out of range and for contradictions; returns the impairment unchanged. */
export function validateImpairment(imp: Impairment): Impairment {
  const loss = imp.loss;
  if (loss !== undefined) {
    if (loss.kind === "random") {
      checkPercent("loss", "loss.percent", loss.percent);
      checkPercent("loss.correlation", "loss.correlation", loss.correlation);
    } else if (loss.kind === "gemodel") {
      checkPercent("loss.gemodel", "gemodel p", loss.p);
      checkPercent("loss.gemodel", "gemodel r", loss.r);
      checkPercent("loss.gemodel", "gemodel h", loss.h);
      checkPercent("loss.gemodel", "gemodel k", loss.k);
    } else if (loss.kind === "state") {
      checkPercent("loss.state", "state p13", loss.p13);
      checkPercent("loss.state", "state p31", loss.p31);
      checkPercent("loss.state", "state p32", loss.p32);
      checkPercent("loss.state", "state p23", loss.p23);
      checkPercent("loss.state", "state p14", loss.p14);
    } else {
      // A caller outside the type system (YAML, JSON) may pass anything.
      throw new InvalidImpairment("loss", `unknown loss kind ${JSON.stringify((loss as { kind?: unknown }).kind)}`);
    }
  }
  checkNonNegative("delayMs", imp.delayMs);
  checkNonNegative("jitterMs", imp.jitterMs);
  checkPercent("delayCorrelation", "delay correlation", imp.delayCorrelation);
  if (imp.delayDistribution !== undefined && !DELAY_DISTRIBUTIONS.includes(imp.delayDistribution)) {
    throw new InvalidImpairment("delayDistribution", `must be one of ${DELAY_DISTRIBUTIONS.join(", ")}, got ${JSON.stringify(imp.delayDistribution)}`);
  }
  if ((imp.delayCorrelation !== undefined || imp.delayDistribution !== undefined) && !imp.jitterMs) {
    throw new InvalidImpairment(imp.delayDistribution !== undefined ? "delayDistribution" : "delayCorrelation", "a delay correlation or distribution shapes the jitter: set jitterMs > 0");
  }
  checkPercent("duplicate", "duplicate", imp.duplicate);
  checkPercent("duplicateCorrelation", "duplicate correlation", imp.duplicateCorrelation);
  checkPercent("reorder", "reorder", imp.reorder);
  checkPercent("reorderCorrelation", "reorder correlation", imp.reorderCorrelation);
  if (imp.reorderGap !== undefined && (!Number.isInteger(imp.reorderGap) || imp.reorderGap < 1)) {
    throw new InvalidImpairment("reorderGap", `must be an integer ≥ 1, got ${String(imp.reorderGap)}`);
  }
  checkPercent("corrupt", "corrupt", imp.corrupt);
  checkPercent("corruptCorrelation", "corrupt correlation", imp.corruptCorrelation);
  for (const [f, of] of [["duplicateCorrelation", "duplicate"], ["reorderCorrelation", "reorder"], ["reorderGap", "reorder"], ["corruptCorrelation", "corrupt"]] as const) {
    if (imp[f] !== undefined && imp[of] === undefined) throw new InvalidImpairment(f, `needs ${of}`);
  }
  if (imp.limit !== undefined && (!Number.isInteger(imp.limit) || imp.limit < 1)) {
    throw new InvalidImpairment("limit", `must be an integer ≥ 1 (packets), got ${String(imp.limit)}`);
  }
  if (imp.dropPackets !== undefined) {
    const d = imp.dropPackets;
    if (!Array.isArray(d) || d.length === 0 || d.some((n) => !Number.isInteger(n) || n < 1)) {
      throw new InvalidImpairment("dropPackets", `must be a non-empty list of packet numbers ≥ 1, got ${JSON.stringify(d)}`);
    }
  }
  if (imp.rateKbit !== undefined && (!Number.isFinite(imp.rateKbit) || imp.rateKbit <= 0)) {
    throw new InvalidImpairment("rateKbit", `must be a finite number > 0, got ${String(imp.rateKbit)}`);
  }
  if (imp.everyNth !== undefined && (!Number.isInteger(imp.everyNth) || imp.everyNth < 1)) {
    throw new InvalidImpairment("everyNth", `must be an integer ≥ 1, got ${String(imp.everyNth)}`);
  }
  if (imp.partition !== undefined && typeof imp.partition !== "boolean") {
    throw new InvalidImpairment("partition", `must be true or false, got ${String(imp.partition)}`);
  }
  if (imp.partition) {
    const others = activeFields(imp).filter((f) => f !== "partition");
    if (others.length > 0) {
      throw new InvalidImpairment("partition", `a partition drops every packet; it cannot be combined with ${others.join(", ")}`);
    }
  }
  return imp;
}

/** The fields that actually impair something (undefined, false and zero-effect values are left out). */
export function activeFields(imp: Impairment): (keyof Impairment)[] {
  const out: (keyof Impairment)[] = [];
  if (imp.loss !== undefined) out.push("loss");
  if (imp.delayMs !== undefined) out.push("delayMs");
  if (imp.jitterMs !== undefined) out.push("jitterMs");
  if (imp.delayCorrelation !== undefined) out.push("delayCorrelation");
  if (imp.delayDistribution !== undefined) out.push("delayDistribution");
  if (imp.duplicate !== undefined) out.push("duplicate");
  if (imp.duplicateCorrelation !== undefined) out.push("duplicateCorrelation");
  if (imp.reorder !== undefined) out.push("reorder");
  if (imp.reorderCorrelation !== undefined) out.push("reorderCorrelation");
  if (imp.reorderGap !== undefined) out.push("reorderGap");
  if (imp.corrupt !== undefined) out.push("corrupt");
  if (imp.corruptCorrelation !== undefined) out.push("corruptCorrelation");
  if (imp.rateKbit !== undefined) out.push("rateKbit");
  if (imp.limit !== undefined) out.push("limit");
  if (imp.dropPackets !== undefined) out.push("dropPackets");
  if (imp.partition) out.push("partition");
  if (imp.everyNth !== undefined) out.push("everyNth");
  return out;
}

/** True when the impairment does nothing (applying it is the same as clearing). */
export function isNoImpairment(imp: Impairment): boolean {
  return activeFields(imp).length === 0;
}

/** A number for humans and for command lines: no exponent, no trailing zeros, at most 7 decimals. */
export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  const s = n.toFixed(7).replace(/0+$/, "").replace(/\.$/, "");
  return s;
}

/** One line for humans: "loss 5% (random, corr 25%), delay 100ms ±10ms, rate 1000kbit". */
export function describeImpairment(imp: Impairment): string {
  const parts: string[] = [];
  const loss = imp.loss;
  if (loss?.kind === "random") {
    parts.push(
      `loss ${formatNumber(loss.percent)}% (random${loss.correlation ? `, correlation ${formatNumber(loss.correlation)}%` : ""})`,
    );
  } else if (loss?.kind === "gemodel") {
    const h = loss.h ?? 0;
    const k = loss.k ?? 100;
    parts.push(
      `loss Gilbert-Elliott (p ${formatNumber(loss.p)}% good→bad, r ${formatNumber(loss.r)}% bad→good, ` +
        `loss ${formatNumber(100 - h)}% in bad, ${formatNumber(100 - k)}% in good)`,
    );
  } else if (loss?.kind === "state") {
    const v = (n: number | undefined) => formatNumber(n ?? 0);
    parts.push(`loss 4-state Markov (p13 ${v(loss.p13)}%, p31 ${formatNumber(loss.p31 ?? 100)}%, p32 ${v(loss.p32)}%, p23 ${formatNumber(loss.p23 ?? 100)}%, p14 ${v(loss.p14)}%)`);
  }
  if (imp.delayMs !== undefined) {
    const shape = [
      imp.delayCorrelation ? `correlation ${formatNumber(imp.delayCorrelation)}%` : "",
      imp.delayDistribution && imp.delayDistribution !== "uniform" ? imp.delayDistribution : "",
    ].filter(Boolean);
    parts.push(`delay ${formatNumber(imp.delayMs)}ms${imp.jitterMs ? ` ±${formatNumber(imp.jitterMs)}ms` : ""}${shape.length ? ` (${shape.join(", ")})` : ""}`);
  } else if (imp.jitterMs !== undefined) {
    parts.push(`jitter ${formatNumber(imp.jitterMs)}ms`);
  }
  if (imp.duplicate !== undefined) parts.push(`duplicate ${formatNumber(imp.duplicate)}%`);
  if (imp.reorder !== undefined) parts.push(`reorder ${formatNumber(imp.reorder)}%`);
  if (imp.corrupt !== undefined) parts.push(`corrupt ${formatNumber(imp.corrupt)}%`);
  if (imp.reorderGap !== undefined) parts.push(`reorder gap ${imp.reorderGap}`);
  if (imp.rateKbit !== undefined) parts.push(`rate ${formatNumber(imp.rateKbit)}kbit/s`);
  if (imp.limit !== undefined) parts.push(`queue limit ${imp.limit} packets`);
  if (imp.dropPackets !== undefined) parts.push(`drop packet${imp.dropPackets.length > 1 ? "s" : ""} ${imp.dropPackets.map((n) => `#${n}`).join(", ")}`);
  if (imp.everyNth !== undefined) parts.push(imp.everyNth === 1 ? "drop every packet" : `drop every ${ordinal(imp.everyNth)} packet`);
  if (imp.partition) parts.push("partition (drop everything)");
  return parts.length > 0 ? parts.join(", ") : "no impairment";
}

/** 1st, 2nd, 3rd, 4th, 11th, 21st, ... */
export function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  switch (n % 10) {
    case 1:
      return `${n}st`;
    case 2:
      return `${n}nd`;
    case 3:
      return `${n}rd`;
    default:
      return `${n}th`;
  }
}

/**
 * A Linux interface name as the kernel accepts it (1..15 bytes, no '/', ':'
 * or whitespace), further limited to what is safe to quote in an nftables
 * script (no '"' or '\\'). Throws otherwise; returns the name.
 */
export function checkDeviceName(dev: string): string {
  if (typeof dev !== "string" || dev.length === 0 || Buffer.byteLength(dev) > 15 || dev === "." || dev === "..") {
    throw new Error(`invalid interface name ${JSON.stringify(dev)}: 1..15 bytes expected`);
  }
  if (/[\s/:"\\]/.test(dev) || /[\u0000-\u001f\u007f]/.test(dev)) {
    throw new Error(`invalid interface name ${JSON.stringify(dev)}: no whitespace, '/', ':', '"' or '\\' allowed`);
  }
  return dev;
}
