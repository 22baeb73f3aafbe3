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
