// What each transport declares, pure (read by the validator and `vpnlab check`
// like the implementations' specs beside it): its default port, or that it has
// none, and the options it has that an implementation may or may not honour.
import type { Transport } from "../../topology/model";

/** A boolean vpn: option of a transport (default false); an implementation honours it by listing it in ImplSpec.options. */
export interface TransportOption {
  readonly name: string;
  /** What an implementation without it does instead, for the error: "carries everything over TLS". */
  readonly without: string;
}

export interface TransportSpec {
  readonly name: Transport;
  /** The outer flow's port when vpn.port is not given; absent: an IP protocol with no port (vpn.port is ignored, the port is 0). */
  readonly defaultPort?: number;
  readonly options: readonly TransportOption[];
}

export const TRANSPORT_SPECS: Record<Transport, TransportSpec> = {
  ctcp: { name: "ctcp", defaultPort: 10000, options: [] },
  natt: { name: "natt", defaultPort: 4500, options: [] },
  esp: { name: "esp", options: [] }, // IP protocol 50
  anyconnect: { name: "anyconnect", defaultPort: 443, options: [{ name: "dtls", without: "carries everything over TLS" }] },
};

/** Every transport option's name (the vpn: keys beyond the common ones). */
export const TRANSPORT_OPTION_NAMES: readonly string[] = [...new Set(Object.values(TRANSPORT_SPECS).flatMap((t) => t.options.map((o) => o.name)))];
