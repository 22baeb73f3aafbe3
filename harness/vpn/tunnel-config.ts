// What the reference tunnel's two ends are told (the agent carries it to them):
// the wire type of the reference implementation, owned here.
import type { ReferenceTransport } from "./transports";

export interface SaJson {
  spi: number;
  key: string; // hex
  salt: string; // hex
}

export interface TunnelConfig {
  side: "client" | "headend";
  transport: ReferenceTransport; // one of the reference transports' registry (vpn/transports/index.ts)
  localIp: string; // this node's address that faces the peer (source of the outer packets)
  headendIp: string; // the headend's outer address (client side: where to connect)
  port: number;
  pool: { addr: string; prefix: number };
  routes: { addr: string; prefix: number }[]; // client side: networks reached through the tunnel
  dpd: { intervalMs: number; retries: number } | null; // null: no dead-peer detection
  out: SaJson; // SA for what this side sends
  in: SaJson; // SA for what this side receives
  tunName: string;
  mtu: number;
  /** anyconnect (TLS) headend: its certificate and key. */
  tls?: { certPem: string; keyPem: string };
  /** anyconnect (TLS) client: the headend's public key pin (base64 SHA-256 of its SPKI). */
  pinSha256?: string;
}
