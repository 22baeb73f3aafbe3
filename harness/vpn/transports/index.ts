// The registry of reference transports.
import { CtcpTransport } from "./ctcp";
import { EspTransport } from "./esp";
import { NattTransport } from "./natt";
import { TlsTransport } from "./tls";
import type { Transport, TransportOptions } from "./transport";

const TRANSPORTS = {
  ctcp: (o: TransportOptions) => new CtcpTransport(o),
  natt: (o: TransportOptions) => new NattTransport(o),
  anyconnect: (o: TransportOptions) => new TlsTransport(o),
  esp: (o: TransportOptions) => new EspTransport(o),
} as const;

export type ReferenceTransport = keyof typeof TRANSPORTS;

export function createTransport(name: ReferenceTransport, opts: TransportOptions): Transport {
  return TRANSPORTS[name](opts);
}

export function isReferenceTransport(name: string): name is ReferenceTransport {
  return Object.prototype.hasOwnProperty.call(TRANSPORTS, name);
}
