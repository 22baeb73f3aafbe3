// Selecting scenarios by what they are rather than by name: `vpnlab run` and
// `check` take --transport, --mode and --impl. Pure: no I/O, no CLI types.
import type { FirewallMode, Impl, Scenario, Transport } from "./model";

/** Each list empty or absent: no filter on that axis; otherwise a scenario must match one value of every non-empty list. */
export interface ScenarioFilter {
  transports?: readonly Transport[];
  modes?: readonly FirewallMode[];
  impls?: readonly Impl[];
}

const admits = <T>(wanted: readonly T[] | undefined, v: T | undefined): boolean =>
  !wanted || wanted.length === 0 || (v !== undefined && wanted.includes(v));

/** The scenarios that match the filter, in their given order (a scenario without a firewall matches no --mode). */
export function filterScenarios(scenarios: readonly Scenario[], f: ScenarioFilter): Scenario[] {
  return scenarios.filter((s) => admits(f.transports, s.vpn.transport) && admits(f.modes, s.firewall?.mode) && admits(f.impls, s.vpn.impl));
}

/** The filter as the command line wrote it ("--transport ctcp --mode full-proxy"), for messages; "" when empty. */
export function describeFilter(f: ScenarioFilter): string {
  const parts: [string, readonly string[] | undefined][] = [["transport", f.transports], ["mode", f.modes], ["impl", f.impls]];
  return parts.filter(([, v]) => v && v.length > 0).map(([k, v]) => `--${k} ${v!.join(",")}`).join(" ");
}

/** One slice of a run for a CI matrix of N jobs: `--shard I/N`, I from 1. */
export interface Shard {
  index: number; // 1..count
  count: number;
}

/** "2/3" → { index: 2, count: 3 }; anything else throws, saying what is wanted. */
export function parseShard(text: string): Shard {
  const m = /^(\d{1,4})\/(\d{1,4})$/.exec(text.trim());
  if (!m) throw new Error(`--shard needs I/N (e.g. 1/2), not "${text}"`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index < 1 || index > count) throw new Error(`--shard ${text}: I must be from 1 to N and N at least 1`);
  return { index, count };
}

const scenarioKey = (s: Scenario): string => `${s.name}/${s.variant}`;

/**
 * The scenarios of shard I of N. Deterministic for the same file and selection
 * whatever order the jobs start in: scenarios are ranked by name/variant (not by
 * file order, so moving a variant in the file does not move it between shards)
 * and dealt round-robin, so the shards differ in size by one at most. Shards
 * 1..N together hold every scenario exactly once; the given order is kept.
 */
export function shardScenarios(scenarios: readonly Scenario[], shard: Shard): Scenario[] {
  const ranked = [...scenarios].map(scenarioKey).sort();
  const mine = new Set(ranked.filter((_, i) => i % shard.count === shard.index - 1));
  return scenarios.filter((s) => mine.has(scenarioKey(s)));
}
