// IPv4 header and Internet checksum helpers (RFC 791, RFC 1071), shared by
// the raw-socket transports. Pure functions over Buffers.

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ESP = 50;

export const IPV4_HEADER_LEN = 20;
const MAX_TOTAL_LENGTH = 0xffff;
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const FRAGMENT_OFFSET_MASK = 0x1fff;

/**
 * Ones'-complement sum of big-endian 16-bit words, not yet folded nor
 * complemented, so that sums over several pieces can be chained. Pieces
 * other than the last must have an even length (a pseudo-header does).
 */
export function onesComplementSum(data: Buffer, initial = 0): number {
  let sum = initial;
  const even = data.length & ~1;
  for (let i = 0; i < even; i += 2) sum += data.readUInt16BE(i);
  if (data.length !== even) sum += data[even] << 8; // odd byte: pad with a zero byte
  // Fold now and then: JS numbers stay exact far beyond this, but a folded
  // value keeps chained sums small.
  return foldCarries(sum);
}

function foldCarries(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** The Internet checksum field value: the complement of the folded sum. */
export function finishChecksum(sum: number): number {
  return ~foldCarries(sum) & 0xffff;
}

export function internetChecksum(data: Buffer, initial = 0): number {
  return finishChecksum(onesComplementSum(data, initial));
}

/** Sum of the TCP/UDP pseudo-header (RFC 793 §3.1 / RFC 768). */
export function pseudoHeaderSum(src: string, dst: string, protocol: number, length: number): number {
  const ph = Buffer.alloc(12);
  parseIpv4Address(src).copy(ph, 0);
  parseIpv4Address(dst).copy(ph, 4);
  ph[9] = protocol;
  ph.writeUInt16BE(length, 10);
  return onesComplementSum(ph);
}

/** Checksum of a transport segment (checksum field zeroed, or verify: a valid one gives 0). */
export function transportChecksum(src: string, dst: string, protocol: number, segment: Buffer): number {
  return internetChecksum(segment, pseudoHeaderSum(src, dst, protocol, segment.length));
}

export function parseIpv4Address(s: string): Buffer {
  const parts = s.split(".");
  const ok = parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
  if (!ok) throw new Error(`not an IPv4 address: ${JSON.stringify(s)}`);
  return Buffer.from(parts.map(Number));
}

export function formatIpv4Address(b: Buffer, offset = 0): string {
  return `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`;
}

export interface Ipv4HeaderFields {
  src: string;
  dst: string;
  protocol: number;
  id: number;
  payloadLength: number;
  ttl?: number; // default 64
  dontFragment?: boolean; // default true: the transports never want fragmentation
  tos?: number; // default 0
}

/** A 20-byte IPv4 header (no options) with its checksum filled. */
export function encodeIpv4Header(f: Ipv4HeaderFields): Buffer {
  const total = IPV4_HEADER_LEN + f.payloadLength;
  if (!Number.isInteger(f.payloadLength) || f.payloadLength < 0 || total > MAX_TOTAL_LENGTH) {
    throw new RangeError(`IPv4 payload of ${f.payloadLength} bytes does not fit in a packet`);
  }
  checkUint(f.id, 0xffff, "IP id");
  checkUint(f.protocol, 0xff, "IP protocol");
  const h = Buffer.alloc(IPV4_HEADER_LEN);
  h[0] = 0x45; // version 4, IHL 5 words
  h[1] = checkUint(f.tos ?? 0, 0xff, "TOS");
  h.writeUInt16BE(total, 2);
  h.writeUInt16BE(f.id, 4);
  h.writeUInt16BE(f.dontFragment === false ? 0 : FLAG_DF, 6);
  h[8] = checkUint(f.ttl ?? 64, 0xff, "TTL");
  h[9] = f.protocol;
  parseIpv4Address(f.src).copy(h, 12);
  parseIpv4Address(f.dst).copy(h, 16);
  h.writeUInt16BE(internetChecksum(h), 10);
  return h;
}

export interface Ipv4Header {
  headerLength: number;
  totalLength: number;
  id: number;
  dontFragment: boolean;
  moreFragments: boolean;
  fragmentOffset: number; // in 8-byte units
  ttl: number;
  protocol: number;
  src: string;
  dst: string;
  checksumOk: boolean;
}

/** Parse an IPv4 header; null when it is not IPv4 or the buffer is shorter than it claims. */
export function decodeIpv4Header(packet: Buffer): Ipv4Header | null {
  if (packet.length < IPV4_HEADER_LEN || packet[0] >> 4 !== 4) return null;
  const headerLength = (packet[0] & 0x0f) * 4;
  const totalLength = packet.readUInt16BE(2);
  if (headerLength < IPV4_HEADER_LEN || totalLength < headerLength || packet.length < totalLength) return null;
  const flags = packet.readUInt16BE(6);
  return {
    headerLength,
    totalLength,
    id: packet.readUInt16BE(4),
    dontFragment: (flags & FLAG_DF) !== 0,
    moreFragments: (flags & FLAG_MF) !== 0,
    fragmentOffset: flags & FRAGMENT_OFFSET_MASK,
    ttl: packet[8],
    protocol: packet[9],
    src: formatIpv4Address(packet, 12),
    dst: formatIpv4Address(packet, 16),
    checksumOk: internetChecksum(packet.subarray(0, headerLength)) === 0,
  };
}

export function checkUint(value: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${what} must be an integer in 0..${max}, got ${value}`);
  }
  return value;
}
