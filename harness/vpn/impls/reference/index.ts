// vpnlab's own VPN: ESP with statically keyed SAs and DPD over one of the
// reference transports (harness/vpn/transports/), a TUN device on each end.
// Both ends run in the node agents; the harness hands each its config and
// learns up/down from the agents' events.
import type { AgentClient } from "../../../agent/client";
import type { AgentEvent } from "../../../agent/protocol";
import * as path from "node:path";
import { generateHeadendCert } from "../../certs";
import { generateSaKeys, saKeysToJson } from "../../esp";
import type { ImplContext, Side, TunnelCounters, TunnelDown, TunnelHandle, VpnImplementation } from "../../impl";
import { tunnelPlan } from "../../plan";
import type { TunnelConfig } from "../../tunnel-config";
import { isReferenceTransport } from "../../transports";
import { referenceSpec } from "./spec";

// a "-" never appears in a net name, so the tunnel device cannot clash with a link
export const TUN_NAME = "tun-vpn";
/** The tunnel devices' MTU: the inner packets' largest size (a suite computes goodputs from it). */
export const TUN_MTU = 1300;
const TUNNEL_UP_TIMEOUT_MS = 15000;

type Down = Extract<AgentEvent, { event: "tunnel-down" }>;

const num = (v: unknown): number => (typeof v === "number" ? v : 0);

/** The agent's `stats` reply (vpn/tunnel.ts stats()) as the counters every implementation reports. */
export function referenceCounters(stats: unknown): TunnelCounters {
  const t = ((stats ?? {}) as { tunnel?: Record<string, unknown> }).tunnel ?? {};
  const wire = (t.wire ?? {}) as Record<string, unknown>;
  return {
    innerSent: num(t.tunRx), // read from the TUN: went into the tunnel
    innerReceived: num(t.tunTx),
    // a stream transport's stream bytes (ctcp); a datagram transport's bytes on the wire
    wireBytesSent: num(wire.bytesSent ?? wire.txBytes),
    wireBytesReceived: num(wire.bytesReceived ?? wire.rxBytes),
    dpdSent: num(t.dpdSent),
    dpdAcked: num(t.dpdAcked),
    detail: t,
  };
}

export const reference: VpnImplementation = {
  ...referenceSpec,
  async start(ctx: ImplContext): Promise<TunnelHandle> {
    const { vpn } = ctx.scenario;
    if (!isReferenceTransport(vpn.transport)) throw new Error(`the reference implementation has no ${vpn.transport} transport`);
    const plan = tunnelPlan(ctx.scenario);
    const c2h = saKeysToJson(generateSaKeys());
    const h2c = saKeysToJson(generateSaKeys());
    const common = {
      transport: vpn.transport,
      headendIp: plan.headendIp,
      port: vpn.port,
      pool: vpn.pool,
      dpd: vpn.dpd,
      tunName: TUN_NAME,
      mtu: TUN_MTU,
    };
    const headendCfg: TunnelConfig = { ...common, side: "headend", localIp: plan.headendIp, routes: [], out: h2c, in: c2h };
    const clientCfg: TunnelConfig = { ...common, side: "client", localIp: plan.clientIp, routes: plan.protectedNets, out: c2h, in: h2c };
    if (vpn.transport === "anyconnect") {
      // a certificate of this lab's own; the client pins its key and trusts nothing else
      const cert = await generateHeadendCert(path.join(ctx.dir, "anyconnect"));
      headendCfg.tls = { certPem: cert.certPem, keyPem: cert.keyPem };
      clientCfg.pinSha256 = cert.spkiSha256;
    }
    const ends: Record<Side, AgentClient> = { headend: await ctx.agent(vpn.headend), client: await ctx.agent(vpn.client) };
    await ends.headend.request({ cmd: "tunnel", config: headendCfg });
    await ends.client.request({ cmd: "tunnel", config: clientCfg }, TUNNEL_UP_TIMEOUT_MS);
    const what = `the ${vpn.transport} tunnel from ${vpn.client} to ${vpn.headend} did not come up`;
    const ev = await ends.client.waitFor((e) => e.event === "tunnel-up" || e.event === "tunnel-error", TUNNEL_UP_TIMEOUT_MS, what);
    if (ev.event !== "tunnel-up") throw new Error(`${what}: ${ev.event === "tunnel-error" ? ev.error : ev.event}`);

    const downs: TunnelDown[] = [];
    const listeners = new Set<(d: TunnelDown) => void>();
    for (const side of ["client", "headend"] as const) {
      const onDown = (e: AgentEvent): void => {
        if (e.event !== "tunnel-down") return;
        const d: TunnelDown = { side, at: (e as Down).at, reason: (e as Down).reason };
        downs.push(d);
        downs.sort((a, b) => a.at - b.at);
        for (const l of listeners) l(d);
      };
      ends[side].events.forEach(onDown); // one that came before the handle existed
      ends[side].onEvent(onDown);
    }
    return {
      inner: ev.inner,
      upAt: ev.at,
      downs: () => [...downs],
      onDown: (l) => void listeners.add(l),
      counters: async (side) => referenceCounters(await ends[side].request({ cmd: "stats" })),
      logs: () => ({}), // the agents' logs are the lab's (agent-<node>.log)
      // the agents end their tunnels when the lab stops them
      stop: async () => undefined,
    };
  },
};
