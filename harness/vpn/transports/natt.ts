// ESP in UDP (RFC 3948), as NAT traversal carries it on port 4500. The
// headend learns the client's address and port from authenticated packets,
// and follows it when a NAT rebinds the mapping.
import * as dgram from "node:dgram";
import type { Transport, TransportOptions, TransportStats } from "./transport";

const KEEPALIVE = Buffer.from([0xff]); // RFC 3948 §2.3 NAT-keepalive
const KEEPALIVE_MS = 5000;

export interface NattTuning {
  /** How often the client sends a NAT-keepalive (tests use a short one). */
  keepaliveMs?: number;
}

export type NattDatagram = { kind: "esp"; esp: Buffer } | { kind: "keepalive" } | { kind: "ike" } | { kind: "runt" };

/** Classify one UDP payload per RFC 3948 §2.2: a zero "non-ESP marker" means IKE, a single 0xFF a keepalive. */
export function classifyNatt(payload: Buffer): NattDatagram {
  if (payload.length === 1 && payload[0] === 0xff) return { kind: "keepalive" };
  if (payload.length >= 4 && payload.readUInt32BE(0) === 0) return { kind: "ike" };
  if (payload.length < 8) return { kind: "runt" };
  return { kind: "esp", esp: payload };
}

export class NattTransport implements Transport {
  readonly name = "natt";
  private sock = dgram.createSocket("udp4");
  private handler: (esp: Buffer, peer: string) => void = () => undefined;
  private peer?: { address: string; port: number };
  private keepalive?: NodeJS.Timeout;
  private localPort = 0; // the bound port (the headend's may be 0 = any, in tests)
  private readonly counters = { txPackets: 0, rxPackets: 0, txBytes: 0, rxBytes: 0, keepalivesSent: 0, keepalivesSeen: 0, dropped: 0, sendErrors: 0 };

  constructor(
    private readonly opts: TransportOptions,
    private readonly tuning: NattTuning = {},
  ) {}

  async start(): Promise<void> {
    this.sock.on("message", (msg, rinfo) => {
      const d = classifyNatt(msg);
      if (d.kind === "keepalive") {
        this.counters.keepalivesSeen++;
        return;
      }
      if (d.kind !== "esp") {
        this.counters.dropped++;
        return;
      }
      this.counters.rxPackets++;
      this.counters.rxBytes += msg.length;
      this.handler(d.esp, `${rinfo.address}:${rinfo.port}`);
    });
    this.sock.on("error", (e) => this.opts.log(`natt socket: ${e.message}`));
    const isClient = this.opts.side === "client";
    await new Promise<void>((resolve) => this.sock.bind(isClient ? 0 : this.opts.port, isClient ? undefined : "0.0.0.0", resolve));
    this.localPort = this.sock.address().port;
    if (isClient) {
      this.peer = { address: this.opts.headendIp, port: this.opts.port };
      this.keepalive = setInterval(() => this.sendRaw(KEEPALIVE, true), this.tuning.keepaliveMs ?? KEEPALIVE_MS);
    }
  }

  private sendRaw(buf: Buffer, isKeepalive = false): void {
    if (!this.peer) {
      this.counters.dropped++;
      return;
    }
    this.sock.send(buf, this.peer.port, this.peer.address, (err) => {
      if (err) this.counters.sendErrors++;
    });
    if (isKeepalive) this.counters.keepalivesSent++;
    else {
      this.counters.txPackets++;
      this.counters.txBytes += buf.length;
    }
  }

  send(esp: Buffer): void {
    this.sendRaw(esp);
  }

  onPacket(handler: (esp: Buffer, peer: string) => void): void {
    this.handler = handler;
  }

  confirmPeer(peer: string): void {
    if (this.opts.side !== "headend") return;
    const i = peer.lastIndexOf(":");
    this.peer = { address: peer.slice(0, i), port: Number(peer.slice(i + 1)) };
  }

  stats(): TransportStats {
    return {
      ...this.counters,
      localPort: this.localPort,
      peer: this.peer ? `${this.peer.address}:${this.peer.port}` : "",
    };
  }

  async close(): Promise<void> {
    if (this.keepalive) clearInterval(this.keepalive);
    await new Promise<void>((resolve) => this.sock.close(() => resolve()));
  }
}
