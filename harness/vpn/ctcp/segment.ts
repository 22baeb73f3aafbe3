// IPv4 + TCP segments for the pseudo-TCP ("cTCP") transport, which writes
// whole IP packets to a raw socket (IP_HDRINCL) and reads them back. It looks
// like TCP on the wire (handshake, advancing sequence numbers, ACKs, valid
// checksums) so that firewalls and proxies treat it as TCP.

import {
  IPPROTO_TCP,
  checkUint,
  decodeIpv4Header,
  encodeIpv4Header,
  transportChecksum,
} from "../ipv4";

export interface TcpFlags {
  syn?: boolean;
  ack?: boolean;
  fin?: boolean;
  rst?: boolean;
  psh?: boolean;
}

export interface TcpSegment {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: TcpFlags;
  window: number;
  mss?: number;
  payload: Buffer;
}

const TCP_HEADER_LEN = 20;
const CHECKSUM_OFFSET = 16;
const OPT_END = 0;
const OPT_NOP = 1;
const OPT_MSS = 2;
const OPT_MSS_LEN = 4;
const FLAG_BITS: ReadonlyArray<[keyof TcpFlags, number]> = [
  ["fin", 0x01],
  ["syn", 0x02],
  ["rst", 0x04],
  ["psh", 0x08],
  ["ack", 0x10],
];
const SEQ_MOD = 0x100000000;
const HALF = 0x80000000;

/** a + n modulo 2^32 (n may be negative). */
export function seqAdd(a: number, n: number): number {
  return (((a + n) % SEQ_MOD) + SEQ_MOD) % SEQ_MOD;
}

/** Signed distance a - b in (-2^31, 2^31]: positive when a is "after" b (RFC 793 §3.3 arithmetic). */
export function seqDiff(a: number, b: number): number {
  const d = seqAdd(a, -b);
  return d > HALF ? d - SEQ_MOD : d;
}

function encodeFlags(flags: TcpFlags): number {
  return FLAG_BITS.reduce((bits, [name, bit]) => (flags[name] ? bits | bit : bits), 0);
}

function decodeFlags(bits: number): TcpFlags {
  const flags: TcpFlags = {};
  for (const [name, bit] of FLAG_BITS) if (bits & bit) flags[name] = true;
  return flags;
}

function encodeTcp(seg: TcpSegment): Buffer {
  const optionsLength = seg.mss === undefined ? 0 : OPT_MSS_LEN;
  const headerLength = TCP_HEADER_LEN + optionsLength;
  const h = Buffer.alloc(headerLength);
  h.writeUInt16BE(checkUint(seg.sport, 0xffff, "source port"), 0);
  h.writeUInt16BE(checkUint(seg.dport, 0xffff, "destination port"), 2);
  h.writeUInt32BE(checkUint(seg.seq, 0xffffffff, "seq"), 4);
  h.writeUInt32BE(checkUint(seg.ack, 0xffffffff, "ack"), 8);
  h[12] = (headerLength / 4) << 4; // data offset in 32-bit words
  h[13] = encodeFlags(seg.flags);
  h.writeUInt16BE(checkUint(seg.window, 0xffff, "window"), 14);
  // checksum (16) and urgent pointer (18) stay 0 for now / for good
  if (seg.mss !== undefined) {
    h[20] = OPT_MSS;
    h[21] = OPT_MSS_LEN;
    h.writeUInt16BE(checkUint(seg.mss, 0xffff, "mss"), 22);
  }
  const tcp = Buffer.concat([h, seg.payload]);
  tcp.writeUInt16BE(transportChecksum(seg.src, seg.dst, IPPROTO_TCP, tcp), CHECKSUM_OFFSET);
  return tcp;
}

/** A whole IPv4 packet (20-byte header, DF set, TTL 64, given IP id, header checksum filled) carrying a TCP segment (MSS option emitted when mss is set, TCP checksum over the pseudo-header filled). */
export function encodeSegment(seg: TcpSegment, ipId: number): Buffer {
  const tcp = encodeTcp(seg);
  const ip = encodeIpv4Header({ src: seg.src, dst: seg.dst, protocol: IPPROTO_TCP, id: ipId, payloadLength: tcp.length });
  return Buffer.concat([ip, tcp]);
}

/** The MSS option's value, if present; stops quietly at a malformed option list. */
function findMss(options: Buffer): number | undefined {
  let i = 0;
  while (i < options.length) {
    const kind = options[i];
    if (kind === OPT_END) return undefined;
    if (kind === OPT_NOP) {
      i++;
      continue;
    }
    const len = options[i + 1];
    if (len === undefined || len < 2 || i + len > options.length) return undefined;
    if (kind === OPT_MSS && len === OPT_MSS_LEN) return options.readUInt16BE(i + 2);
    i += len;
  }
  return undefined;
}

/**
 * Parse an IPv4 packet; null when it is not TCP, is truncated, or is a
 * fragment — and also when its IPv4 header checksum is wrong (the kernel
 * drops those before any socket sees them, so only a test can produce one).
 * checksumOk reports the TCP checksum check.
 */
export function decodeSegment(packet: Buffer): (TcpSegment & { checksumOk: boolean }) | null {
  const ip = decodeIpv4Header(packet);
  if (!ip || !ip.checksumOk || ip.protocol !== IPPROTO_TCP) return null;
  if (ip.moreFragments || ip.fragmentOffset !== 0) return null;
  // Slice by the IP total length: anything after it is link-layer padding.
  const tcp = packet.subarray(ip.headerLength, ip.totalLength);
  if (tcp.length < TCP_HEADER_LEN) return null;
  const headerLength = (tcp[12] >> 4) * 4;
  if (headerLength < TCP_HEADER_LEN || headerLength > tcp.length) return null;
  const mss = findMss(tcp.subarray(TCP_HEADER_LEN, headerLength));
  return {
    src: ip.src,
    dst: ip.dst,
    sport: tcp.readUInt16BE(0),
    dport: tcp.readUInt16BE(2),
    seq: tcp.readUInt32BE(4),
    ack: tcp.readUInt32BE(8),
    flags: decodeFlags(tcp[13]),
    window: tcp.readUInt16BE(14),
    ...(mss === undefined ? {} : { mss }),
    payload: Buffer.from(tcp.subarray(headerLength)), // a copy: the caller may reuse its read buffer
    checksumOk: transportChecksum(ip.src, ip.dst, IPPROTO_TCP, tcp) === 0,
  };
}
