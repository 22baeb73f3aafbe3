// Which VPN implementations this build can run, from the registry's pure
// specs (no native addon, no root): `vpnlab check` says before a run what the
// run would refuse.
import type { VpnSpec } from "../topology/model";
import { IMPLEMENTATIONS } from "./impls";

/** Why this build cannot run the tunnel, or undefined when it can. */
export function notRunnable(vpn: Pick<VpnSpec, "impl" | "transport">, registry: Partial<typeof IMPLEMENTATIONS> = IMPLEMENTATIONS): string | undefined {
  if (registry[vpn.impl]?.spec.transports.includes(vpn.transport)) return undefined;
  const runs = Object.values(registry)
    .flatMap((e) => (e ? [`${e.spec.name}: ${e.spec.transports.join(", ")}`] : []))
    .join("; ");
  return `transport ${vpn.transport} with impl ${vpn.impl} is not available in this build (it runs ${runs})`;
}
