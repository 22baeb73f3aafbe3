// Which VPN implementations this build can run. Pure (no native addon, no
// root), so `vpnlab check` can say before a run what the run would refuse.
import type { VpnSpec } from "../topology/model";

const RUNNABLE: Record<VpnSpec["impl"], readonly VpnSpec["transport"][]> = {
  reference: ["ctcp", "natt"],
  ocserv: [],
  strongswan: [],
};

/** Why this build cannot run the tunnel, or undefined when it can. */
export function notRunnable(vpn: Pick<VpnSpec, "impl" | "transport">): string | undefined {
  if (RUNNABLE[vpn.impl].includes(vpn.transport)) return undefined;
  const runs = Object.entries(RUNNABLE)
    .filter(([, ts]) => ts.length > 0)
    .map(([impl, ts]) => `${impl}: ${ts.join(", ")}`)
    .join("; ");
  return `transport ${vpn.transport} with impl ${vpn.impl} is not available in this build (it runs ${runs})`;
}
