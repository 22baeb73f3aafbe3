// The full-proxy stall, in numbers: what the cTCP client put on the wire
// against what the proxy's kernel accepted in order, and what it holds
// behind a gap. Measured from the firewall's sockets (ss) and the client's
// own counters, so it serves the builtin proxy and HAProxy alike.
import { PROXY_PORT, type FirewallEvidence } from "./start";

export interface ProxyMechanism {
  atMs?: number; // when it was measured, from the start of the baseline
  proxied: boolean; // the flow went through the proxy at all (a bypass or another transport does not)
  clientBytesSent: number; // stream bytes the cTCP client put on the wire
  proxyBytesReceived: number; // in-order bytes the proxy's client-facing sockets accepted (tcpi_bytes_received)
  stalledBytes: number; // sent by the client, never delivered in order to the proxy: lost or held behind a gap
  oooPackets: number; // rcv_ooopack on the proxy's client-facing sockets
  heldMemory: number; // skmem r on those sockets: kernel memory of the out-of-order queue
  forwardedOut: number; // bytes the proxy sent on its own connections to the original destinations (without retransmissions)
  accepted?: number; // connections the proxy accepted since it started, by its own count (absent when it could not say)
}

/**
 * Take the client's counters BEFORE the firewall's evidence: bytes the client sends in between then cannot show up as stalled.
 * `clientWireBytesSent`: what the client's outer flow put on the wire (TunnelCounters.wireBytesSent), 0 when unknown.
 */
export function measureProxy(fw: FirewallEvidence | undefined, clientWireBytesSent = 0, atMs?: number): ProxyMechanism {
  const sockets = fw?.sockets ?? [];
  const clientSide = sockets.filter((s) => s.localPort === PROXY_PORT && s.state !== "LISTEN");
  // the proxy's own connections onward: owned by a process, not on the proxy port
  const serverSide = sockets.filter((s) => s.localPort !== PROXY_PORT && s.state !== "LISTEN" && s.processes.length > 0);
  const clientBytesSent = clientWireBytesSent;
  const proxyBytesReceived = clientSide.reduce((n, s) => n + s.bytesReceived, 0);
  return {
    atMs,
    proxied: clientSide.length > 0,
    clientBytesSent,
    proxyBytesReceived,
    stalledBytes: Math.max(0, clientBytesSent - proxyBytesReceived),
    oooPackets: clientSide.reduce((n, s) => n + s.rcvOooPackets, 0),
    heldMemory: clientSide.reduce((n, s) => n + s.rmemAlloc, 0),
    forwardedOut: serverSide.reduce((n, s) => n + s.bytesSent - s.bytesRetrans, 0),
    ...(fw?.proxy?.accepted === undefined ? {} : { accepted: fw.proxy.accepted }),
  };
}
