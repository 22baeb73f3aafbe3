// The anyconnect reference transport's framing inside its TLS stream: each
// ESP packet as a 2-byte big-endian length and the packet (the same prefix
// cTCP uses). TLS over kernel TCP delivers every byte in order, so unlike
// cTCP's receiver this one never hunts: a length it cannot believe means the
// stream is not ours, and the connection is given up.
import { MAX_FRAME_PAYLOAD } from "../ctcp/stream";

export { frame as encodeFrame } from "../ctcp/stream";

export interface DecodeResult {
  /** Whole packets, in stream order (prefix removed). */
  packets: Buffer[];
  /** Zero-length frames skipped (they carry nothing; framing stays in step). */
  emptyFrames: number;
  /** Set when a frame announced more than maxPacket bytes: the decoder is dead from here on. */
  oversized?: number;
}

export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private dead = false;

  constructor(private readonly maxPacket: number) {
    if (!Number.isInteger(maxPacket) || maxPacket < 1 || maxPacket > MAX_FRAME_PAYLOAD) {
      throw new RangeError(`maxPacket must be an integer in 1..${MAX_FRAME_PAYLOAD}, got ${maxPacket}`);
    }
  }

  /** Bytes held for a frame not yet complete. */
  get buffered(): number {
    return this.pending.length;
  }

  /** True once an oversized length was seen: nothing after it can be trusted. */
  get failed(): boolean {
    return this.dead;
  }

  /** Take one chunk of the stream (any size, any boundary); return what it completed. */
  push(chunk: Buffer): DecodeResult {
    const result: DecodeResult = { packets: [], emptyFrames: 0 };
    if (this.dead) return result;
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let off = 0;
    while (buf.length - off >= 2) {
      const len = buf.readUInt16BE(off);
      if (len > this.maxPacket) {
        this.dead = true;
        this.pending = Buffer.alloc(0);
        result.oversized = len;
        return result;
      }
      if (buf.length - off - 2 < len) break;
      if (len === 0) result.emptyFrames++;
      // a copy: a packet must not pin the whole chunk it came in
      else result.packets.push(Buffer.from(buf.subarray(off + 2, off + 2 + len)));
      off += 2 + len;
    }
    this.pending = Buffer.from(buf.subarray(off));
    return result;
  }
}
