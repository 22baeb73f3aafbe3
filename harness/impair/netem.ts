// Impairment → `tc ... netem` argv. Pure: nothing here runs a program.
// Syntax per tc-netem(8):
//   delay TIME [JITTER]  loss random PERCENT [CORRELATION]
//   loss gemodel p [r [1-h [1-k]]]  corrupt PERCENT  duplicate PERCENT
//   reorder PERCENT (only with a delay)  rate RATE
import { formatNumber, ImpairmentUnsupported, type ImpairmentField, type Impairment, validateImpairment } from "./impairment";
import { tcQdiscArgv, tcQdiscDelRootArgv } from "./tc";

export const NETEM = "netem";

/** Every reason netem cannot express this impairment (empty when it can). Assumes a valid impairment. */
export function netemUnsupported(imp: Impairment): ImpairmentUnsupported[] {
  const out: ImpairmentUnsupported[] = [];
  if (imp.everyNth !== undefined) {
    out.push(new ImpairmentUnsupported("everyNth", NETEM, "its loss generators are random; it has no deterministic every-Nth-packet loss"));
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

/** The netem options (everything after `netem`) for an impairment; throws ImpairmentUnsupported / InvalidImpairment. */
export function netemParams(imp: Impairment): string[] {
  validateImpairment(imp);
  const unsupported = netemUnsupported(imp);
  if (unsupported.length > 0) throw unsupported[0];
  const out: string[] = [];
  if (imp.delayMs !== undefined) {
    out.push("delay", ms(imp.delayMs));
    if (imp.jitterMs !== undefined && imp.jitterMs > 0) out.push(ms(imp.jitterMs));
  }
  const loss = imp.loss;
  if (imp.partition) {
    out.push("loss", "random", "100%");
  } else if (loss?.kind === "random") {
    out.push("loss", "random", pct("loss", loss.percent));
    if (loss.correlation !== undefined && loss.correlation > 0) out.push(pct("loss.correlation", loss.correlation));
  } else if (loss?.kind === "gemodel") {
    // tc takes the loss probabilities 1-h (bad state) and 1-k (good state);
    // the model holds the delivery probabilities h and k.
    out.push("loss", "gemodel", pct("loss.gemodel", loss.p), pct("loss.gemodel", loss.r));
    if (loss.h !== undefined || loss.k !== undefined) out.push(pct("loss.gemodel", 100 - (loss.h ?? 0)));
    if (loss.k !== undefined) out.push(pct("loss.gemodel", 100 - loss.k));
  }
  if (imp.corrupt !== undefined) out.push("corrupt", pct("corrupt", imp.corrupt));
  if (imp.duplicate !== undefined) out.push("duplicate", pct("duplicate", imp.duplicate));
  if (imp.reorder !== undefined) out.push("reorder", pct("reorder", imp.reorder));
  if (imp.rateKbit !== undefined) out.push("rate", `${formatNumber(imp.rateKbit)}kbit`);
  return out;
}

/** `tc qdisc replace dev DEV root netem ...`: replaces whatever netem was there before. */
export function netemArgv(dev: string, imp: Impairment): string[] {
  return tcQdiscArgv("replace", dev, "netem", netemParams(imp));
}

/** `tc qdisc del dev DEV root`. */
export function netemClearArgv(dev: string): string[] {
  return tcQdiscDelRootArgv(dev);
}
