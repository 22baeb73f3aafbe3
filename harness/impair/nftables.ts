// Impairment → nftables script. Pure: nothing here runs a program.
// nftables can drop, and nothing else an impairment asks for: random loss
// (numgen random, 0.01% resolution), every-Nth loss (numgen inc) and a
// partition. Everything else is refused with a reason.
import {
  formatNumber,
  ImpairmentUnsupported,
  type Impairment,
  type ImpairmentField,
  checkDeviceName,
  ordinal,
  validateImpairment,
} from "./impairment";
import type { Direction, FlowMatch } from "./fault";

export const NFTABLES = "nftables";
export const NFT_TABLE_PREFIX = "vpnlab_impair_";
/** numgen random draws in 0..RANDOM_MODULUS-1: 10000 gives 0.01% steps. */
export const RANDOM_MODULUS = 10000;

const CANNOT_DELAY = "nftables can only accept or drop a packet; it cannot hold one back";

/** Every reason nftables cannot express this impairment (empty when it can). Assumes a valid impairment. */
export function nftUnsupported(imp: Impairment): ImpairmentUnsupported[] {
  const out: ImpairmentUnsupported[] = [];
  const no = (field: ImpairmentField, reason: string): void => {
    out.push(new ImpairmentUnsupported(field, NFTABLES, reason));
  };
  if (imp.delayMs !== undefined) no("delayMs", CANNOT_DELAY);
  if (imp.jitterMs !== undefined) no("jitterMs", CANNOT_DELAY);
  if (imp.duplicate !== undefined) no("duplicate", "nftables can only accept or drop a packet; it cannot copy one (dup sends to another device)");
  if (imp.reorder !== undefined) no("reorder", CANNOT_DELAY);
  if (imp.corrupt !== undefined) no("corrupt", "a payload rewrite would not hit random bits, and checksums would be recomputed or unflagged");
  if (imp.rateKbit !== undefined) no("rateKbit", "nftables limit rate drops the excess instead of queueing it; that is policing, not a rate");
  if (imp.limit !== undefined) no("limit", "nftables holds no queue");
  const loss = imp.loss;
  if (loss?.kind === "state") {
    no("loss.state", "nftables rules keep no per-packet state between packets, so no Markov loss states");
  } else if (loss?.kind === "gemodel") {
    no("loss.gemodel", "nftables rules keep no per-packet state between packets, so no Gilbert-Elliott bursts");
  } else if (loss?.kind === "random") {
    if (loss.correlation !== undefined && loss.correlation > 0) {
      no("loss.correlation", "numgen random draws are independent; correlated loss needs netem");
    }
    const scaled = (loss.percent * RANDOM_MODULUS) / 100;
    if (Math.abs(scaled - Math.round(scaled)) > 1e-6) {
      no("loss", `numgen random mod ${RANDOM_MODULUS} has a resolution of 0.01%; ${loss.percent}% would be rounded`);
    }
  }
  return out;
}

/**
 * The impairment table for one device and direction: vpnlab_impair_<dev> (egress) or
 * vpnlab_impair_in_<dev> (ingress); characters nft identifiers do not allow become '_'.
 */
export function nftTableName(dev: string, direction: Direction = "egress"): string {
  checkDeviceName(dev);
  return NFT_TABLE_PREFIX + (direction === "ingress" ? "in_" : "") + dev.replace(/[^A-Za-z0-9_.-]/g, "_");
}

function checkTableName(table: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,254}$/.test(table)) {
    throw new Error(`invalid nftables table name ${JSON.stringify(table)}`);
  }
  return table;
}

/** Which packets the rules see: the direction through the device, and an optional flow match. */
export interface NftSelection {
  direction?: Direction;
  match?: FlowMatch;
}

/** The nft match expression for a flow match ("" for every packet). Assumes a validated match. */
export function nftFlowMatch(m: FlowMatch | undefined): string {
  if (!m) return "";
  const out: string[] = [];
  // an address or port match implies the protocol family; l4proto alone only where nothing else names it
  if (m.src) out.push(`ip saddr ${m.src}`);
  if (m.dst) out.push(`ip daddr ${m.dst}`);
  if (m.proto && m.sport === undefined && m.dport === undefined) out.push(`meta l4proto ${m.proto}`);
  if (m.proto === "tcp" || m.proto === "udp") {
    if (m.sport !== undefined) out.push(`${m.proto} sport ${m.sport}`);
    if (m.dport !== undefined) out.push(`${m.proto} dport ${m.dport}`);
  }
  return out.join(" ");
}

/** The L4 protocols random loss counts apart when its match names none (the firewall counts the same ones). */
const COUNTED_PROTOS = ["tcp", "udp", "esp"] as const;

/** numgen inc counts 0, 1, 2, ... up to this and wraps: a run never sees the wrap. */
const COUNT_MODULUS = 4294967295;

/** The drop rules (without the table/chain around them), one per line, in evaluation order. */
export function nftDropRules(dev: string, imp: Impairment, sel: NftSelection = {}): string[] {
  validateImpairment(imp);
  checkDeviceName(dev);
  const unsupported = nftUnsupported(imp);
  if (unsupported.length > 0) throw unsupported[0];
  const match = [`${sel.direction === "ingress" ? "iifname" : "oifname"} "${dev}"`, nftFlowMatch(sel.match)].filter(Boolean).join(" ");
  const rules: string[] = [];
  if (imp.partition) {
    rules.push(`${match} counter drop comment "partition"`);
    return rules;
  }
  // the listed packets first, so that the rule's counter sees every matching packet
  if (imp.dropPackets !== undefined) {
    // numgen inc draws 0 for the first packet: packet #n draws n-1
    const draws = [...new Set(imp.dropPackets)].sort((a, b) => a - b).map((n) => n - 1);
    const set = draws.length === 1 ? String(draws[0]) : `{ ${draws.join(", ")} }`;
    rules.push(`${match} numgen inc mod ${COUNT_MODULUS} ${set} counter drop comment "drop packet ${draws.map((d) => `#${d + 1}`).join(", ")}"`);
  }
  // every-Nth first, so that it counts every packet leaving the device.
  if (imp.everyNth !== undefined) {
    if (imp.everyNth === 1) rules.push(`${match} counter drop comment "every packet"`);
    // The rule's counter draws 0, 1, ..., N-1, 0, ... (measured on this
    // kernel: the first packet draws 0), so "== N-1" drops the Nth, 2Nth, ...
    // packet; "== 0" would drop the very first packet (a SYN, an IKE_SA_INIT).
    else {
      const n = imp.everyNth;
      rules.push(`${match} numgen inc mod ${n} == ${n - 1} counter drop comment "every ${ordinal(n)} packet"`);
    }
  }
  const loss = imp.loss;
  if (loss?.kind === "random" && loss.percent > 0) {
    const n = Math.round((loss.percent * RANDOM_MODULUS) / 100);
    // nft types the constant like the draw (0..modulus-1), so "< 10000" is rejected: 100% is a plain drop.
    const draw = n >= RANDOM_MODULUS ? "" : ` numgen random mod ${RANDOM_MODULUS} < ${n}`;
    const comment = (what: string) => `comment "random loss ${formatNumber(loss.percent)}%${what}"`;
    // One rule per L4 protocol when the match names none: each draw is independent, so the loss is the same, and
    // each rule's counter says whose packets were lost (a transport's own, or another flow's on the same hop).
    if (sel.match?.proto !== undefined || sel.match?.sport !== undefined || sel.match?.dport !== undefined) rules.push(`${match}${draw} counter drop ${comment("")}`);
    else {
      for (const p of COUNTED_PROTOS) rules.push(`${match} meta l4proto ${p}${draw} counter drop ${comment(` (${p})`)}`);
      rules.push(`${match} meta l4proto != { ${COUNTED_PROTOS.join(", ")} }${draw} counter drop ${comment(" (other)")}`);
    }
  }
  return rules;
}

/**
 * An inet table with one filter chain at postrouting (the egress of a
 * forwarding hop, and of locally sent packets) that drops on `oifname DEV`
 * as the impairment says. Throws ImpairmentUnsupported for what nftables
 * cannot do.
 */
export function nftLossRuleset(table: string, dev: string, imp: Impairment, sel: NftSelection = {}): string {
  checkTableName(table);
  const rules = nftDropRules(dev, imp, sel);
  // ingress: at prerouting before conntrack (raw), so a dropped packet leaves no trace in the state table
  const chain = sel.direction === "ingress" ? ["ingress", "prerouting priority raw"] : ["egress", "postrouting priority 0"];
  return [
    `table inet ${table} {`,
    `\tchain ${chain[0]} {`,
    `\t\ttype filter hook ${chain[1]}; policy accept;`,
    ...rules.map((r) => `\t\t${r}`),
    `\t}`,
    `}`,
    ``,
  ].join("\n");
}

/**
 * A script that deletes the table, idempotently: it declares the table first
 * (a no-op when it exists), so deleting one that is not there is no error.
 * Prepended to a ruleset it replaces the table in one atomic transaction.
 */
export function nftDeleteTable(table: string): string {
  checkTableName(table);
  return `table inet ${table} {}\ndelete table inet ${table}\n`;
}

/** Delete-then-define in one `nft -f` transaction: no moment without the old or the new rules. */
export function nftReplaceScript(table: string, ruleset: string): string {
  return nftDeleteTable(table) + ruleset;
}
