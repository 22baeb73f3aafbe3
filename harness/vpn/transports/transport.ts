// One interface for every reference transport: it moves opaque ESP packets
// between the two ends and knows nothing of keys, TUN or DPD (harness/vpn/tunnel.ts).
export interface TransportStats {
  [counter: string]: number | string | boolean;
}

export interface Transport {
  readonly name: string;
  /** Client: connect to the headend. Headend: start listening. Resolves when packets can flow. */
  start(): Promise<void>;
  /** Send one ESP packet to the peer (client: the headend; headend: the confirmed peer). */
  send(esp: Buffer): void;
  /** Every packet that arrives; `peer` identifies where it came from (headend side learns it). */
  onPacket(handler: (esp: Buffer, peer: string) => void): void;
  /** The tunnel authenticated a packet from `peer`: from now on the headend answers there. */
  confirmPeer(peer: string): void;
  stats(): TransportStats;
  close(): Promise<void>;
}

export interface TransportOptions {
  side: "client" | "headend";
  localIp: string;
  headendIp: string;
  port: number;
  /** The SPI of what this side receives: lets a stream transport find ESP frame boundaries again after a gap. */
  inboundSpi: number;
  /** The largest ESP packet this tunnel can produce (inner MTU + ESP overhead). */
  maxPacket: number;
  /** Headend of a TLS transport (anyconnect): its certificate and key, PEM (harness/vpn/certs.ts). */
  tls?: { certPem: string; keyPem: string };
  /** Client of a TLS transport: the headend key it accepts, base64 SHA-256 of the SPKI (no CA is trusted). */
  pinSha256?: string;
  log: (msg: string) => void;
}
