// Plain ESP: IP protocol 50 (RFC 4303), no UDP, no TCP around it. The kernel
// here has no ESP of its own, so a raw socket for protocol 50 carries the
// packets: on send this side writes the IPv4 header (so the source is always
// localIp, whatever the routing would pick), on receive the kernel hands every
// protocol-50 packet of the namespace over, header included. A raw socket sees
// all of them, not just ours, so the filter here is the only gate: the right
// addresses and the SPI this side receives. The headend learns the client's
// address from authenticated packets (confirmPeer), as natt does.
import { randomInt } from "node:crypto";
import * as native from "../../native";
import { decodeIpv4Header, encodeIpv4Header, IPV4_HEADER_LEN } from "../ipv4";
import type { Transport, TransportOptions, TransportStats } from "./transport";

export const IPPROTO_ESP = 50;
/** SPI + sequence number: nothing shorter is an ESP packet (RFC 4303 §2). */
const ESP_MIN = 8;

export type EspVerdict =
  | { kind: "esp"; esp: Buffer; src: string; wireBytes: number }
  | { kind: "drop"; reason: "not-esp" | "address" | "runt" | "spi" };

export interface EspFilter {
  localIp: string;
  /** Client: only the headend may send; headend: undefined (any client; the tunnel authenticates it). */
  peerIp?: string;
  inboundSpi: number;
}

/** Judge one packet as a protocol-50 raw socket delivers it (IPv4 header included). Pure. */
export function classifyEspPacket(pkt: Buffer, f: EspFilter): EspVerdict {
  const ip = decodeIpv4Header(pkt);
  // the kernel reassembles before raw delivery: a fragment here is not ours to handle
  if (!ip || ip.protocol !== IPPROTO_ESP || ip.moreFragments || ip.fragmentOffset !== 0) return { kind: "drop", reason: "not-esp" };
  if (ip.dst !== f.localIp || (f.peerIp !== undefined && ip.src !== f.peerIp)) return { kind: "drop", reason: "address" };
  const esp = pkt.subarray(ip.headerLength, ip.totalLength);
  if (esp.length < ESP_MIN) return { kind: "drop", reason: "runt" };
  if (esp.readUInt32BE(0) !== f.inboundSpi >>> 0) return { kind: "drop", reason: "spi" };
  return { kind: "esp", esp, src: ip.src, wireBytes: ip.totalLength };
}

export class EspTransport implements Transport {
  readonly name = "esp";
  private fd = -1;
  private watcher?: { close(): void };
  private handler: (esp: Buffer, peer: string) => void = () => undefined;
  private peer?: string; // where send() goes: an IPv4 address (ESP has no ports)
  private ipId = randomInt(0, 0xffff);
  private readonly counters = {
    txPackets: 0, rxPackets: 0, txBytes: 0, rxBytes: 0, bytesSent: 0, bytesReceived: 0, dropped: 0,
    droppedNotEsp: 0, droppedAddress: 0, droppedRunt: 0, droppedSpi: 0, sendErrors: 0,
  };

  constructor(private readonly opts: TransportOptions) {}

  async start(): Promise<void> {
    this.fd = native.rawSocket(IPPROTO_ESP, true);
    this.watcher = native.watch(this.fd, (pkt) => this.receive(pkt), (e) => this.opts.log(`esp raw socket: ${e.message}`));
    if (this.opts.side === "client") this.peer = this.opts.headendIp;
  }

  private receive(pkt: Buffer): void {
    const v = classifyEspPacket(pkt, {
      localIp: this.opts.localIp,
      peerIp: this.opts.side === "client" ? this.opts.headendIp : undefined,
      inboundSpi: this.opts.inboundSpi,
    });
    if (v.kind === "drop") {
      this.counters.dropped++;
      const key = ({ "not-esp": "droppedNotEsp", address: "droppedAddress", runt: "droppedRunt", spi: "droppedSpi" } as const)[v.reason];
      this.counters[key]++;
      return;
    }
    this.counters.rxPackets++;
    this.counters.rxBytes += v.esp.length;
    this.counters.bytesReceived += v.wireBytes;
    this.handler(v.esp, v.src);
  }

  send(esp: Buffer): void {
    if (!this.peer || this.fd < 0) {
      this.counters.dropped++; // nowhere to send yet: not to a guess
      return;
    }
    this.ipId = (this.ipId + 1) & 0xffff;
    const header = encodeIpv4Header({ src: this.opts.localIp, dst: this.peer, protocol: IPPROTO_ESP, id: this.ipId, payloadLength: esp.length });
    try {
      native.sendTo(this.fd, Buffer.concat([header, esp]), this.peer);
    } catch {
      this.counters.sendErrors++; // lost like any packet on the wire: ESP never resends
      return;
    }
    this.counters.txPackets++;
    this.counters.txBytes += esp.length;
    this.counters.bytesSent += IPV4_HEADER_LEN + esp.length;
  }

  onPacket(handler: (esp: Buffer, peer: string) => void): void {
    this.handler = handler;
  }

  confirmPeer(peer: string): void {
    if (this.opts.side === "headend") this.peer = peer;
  }

  stats(): TransportStats {
    return { ...this.counters, peer: this.peer ?? "" };
  }

  async close(): Promise<void> {
    this.watcher?.close();
    if (this.fd >= 0) native.closeFd(this.fd);
    this.fd = -1;
  }
}
