// What a failing assertion prints: the measured numbers of one scenario.
import type { FirewallEvidence } from "../firewall/start";
import type { ScenarioResult } from "../scenario";
import { PROXY_PORT } from "../firewall/start";

const pct = (d: number) => (Number.isNaN(d) ? "-" : `${(d * 100).toFixed(1)}%`);

export interface ProxyMechanism {
  clientBytesSent: number; // stream bytes the cTCP client put on the wire
  proxyBytesReceived: number; // in-order bytes the proxy's client-facing sockets accepted (tcpi_bytes_received)
  stalledBytes: number; // sent by the client, never delivered in order to the proxy: lost or held behind a gap
  oooPackets: number; // rcv_ooopack on the proxy's client-facing sockets
  heldMemory: number; // skmem r on those sockets: kernel memory of the out-of-order queue
  proxied: boolean; // the flow went through the proxy at all (a bypass or another transport does not)
  forwardedOut: number; // bytes the proxy sent on its own connections to the original destinations (ss, without retransmissions)
}

function wireCounter(stats: unknown, key: string): number {
  const wire = (stats as { tunnel?: { wire?: Record<string, unknown> } } | undefined)?.tunnel?.wire;
  const v = wire?.[key];
  return typeof v === "number" ? v : 0;
}

/** The full-proxy stall, in numbers, from the firewall's sockets and the client's own counters. */
export function proxyEvidence(r: ScenarioResult): ProxyMechanism {
  const fw = r.evidence.firewall as FirewallEvidence | undefined;
  const clientSide = (fw?.sockets ?? []).filter((s) => s.localPort === PROXY_PORT && s.state !== "LISTEN");
  const clientBytesSent = wireCounter(r.evidence.client, "bytesSent");
  const proxyBytesReceived = clientSide.reduce((n, s) => n + s.bytesReceived, 0);
  const m: ProxyMechanism = {
    clientBytesSent,
    proxyBytesReceived,
    stalledBytes: Math.max(0, clientBytesSent - proxyBytesReceived),
    oooPackets: clientSide.reduce((n, s) => n + s.rcvOooPackets, 0),
    heldMemory: clientSide.reduce((n, s) => n + s.rmemAlloc, 0),
    proxied: false,
    forwardedOut: 0,
  };
  // what the proxy wrote onward: its own connections to the original destinations, from their sockets
  const serverSide = (fw?.sockets ?? []).filter((s) => s.localPort !== PROXY_PORT && s.state !== "LISTEN" && s.processes.length > 0);
  m.proxied = clientSide.length > 0;
  m.forwardedOut = serverSide.reduce((n, s) => n + s.bytesSent - s.bytesRetrans, 0);
  return m;
}

export function summarize(r: ScenarioResult): string {
  const lines = [
    `${r.topology}/${r.variant}: ${r.transport} via ${r.firewallMode}${r.proxy ? `/${r.proxy}` : ""} — expected ${r.expect}, got ${r.verdict ?? r.outcome}`,
    ...r.reasons.map((x) => `  because ${x}`),
  ];
  if (r.error) lines.push(`  error: ${r.error}`);
  for (const p of r.phases) lines.push(`  ${p.phase.padEnd(9)} ${p.delivered}/${p.sent} delivered (${pct(p.delivery)})${p.rttMsP50 !== undefined ? `, rtt p50 ${p.rttMsP50} ms` : ""}`);
  lines.push(`  tunnel: up as ${r.tunnel.inner ?? "-"}; client DPD down ${r.tunnel.clientDownAtMs ?? "never"} ms; headend DPD down ${r.tunnel.headendDownAtMs ?? "never"} ms`);
  for (const c of r.chaos) lines.push(`  chaos @${c.appliedAtMs} ms ${c.on}: ${c.action}${c.backend ? ` [${c.backend}]` : ""}`);
  if (r.firewallMode === "full-proxy") {
    const m = proxyEvidence(r);
    lines.push(
      m.proxied
        ? `  proxy: client sent ${m.clientBytesSent} B, proxy received in order ${m.proxyBytesReceived} B, stalled ${m.stalledBytes} B, rcv_ooopack ${m.oooPackets}, skmem r ${m.heldMemory} B, forwarded to the headend ${m.forwardedOut} B`
        : "  proxy: carried no connection of this flow (not inspected, or bypassed)",
    );
  }
  return lines.join("\n");
}
