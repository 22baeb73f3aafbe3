// The cTCP byte stream: ESP packets as length-prefixed frames, a sender
// without any retransmission buffer and a receiver that never waits for a
// missing byte. This is the behaviour that stalls behind a full TCP proxy:
// the proxy's kernel waits for the bytes the cTCP sender will never resend.

import { seqAdd, seqDiff } from "./segment";

const LENGTH_PREFIX = 2;
/** The largest packet a frame can carry: the whole frame must fit in 65535 bytes. */
export const MAX_FRAME_PAYLOAD = 0xffff - LENGTH_PREFIX;

/** ESP packets are framed in the stream as a 2-byte big-endian length followed by the packet. */
export function frame(packet: Buffer): Buffer {
  if (packet.length === 0 || packet.length > MAX_FRAME_PAYLOAD) {
    throw new RangeError(`cannot frame a packet of ${packet.length} bytes (1..${MAX_FRAME_PAYLOAD})`);
  }
  const prefix = Buffer.alloc(LENGTH_PREFIX);
  prefix.writeUInt16BE(packet.length, 0);
  return Buffer.concat([prefix, packet]);
}

/** True when buf is exactly one whole frame. */
function isOneFrame(buf: Buffer): boolean {
  return buf.length > LENGTH_PREFIX && buf.readUInt16BE(0) === buf.length - LENGTH_PREFIX;
}

/**
 * Sender: one frame per segment; seq advances by the payload length; no
 * retransmission buffer at all. next() takes an already framed packet
 * (`next(frame(esp))`) and returns the segment's seq and payload; it refuses
 * anything that is not exactly one frame, because the receiver resynchronises
 * on segment starts after a gap and so relies on each segment starting a frame.
 */
export class StreamSender {
  private nxt: number;
  private sentBytes = 0;
  private sentSegments = 0;

  constructor(isn: number) {
    this.nxt = seqAdd(isn, 1); // the SYN consumed one sequence number
  }

  get sndNxt(): number {
    return this.nxt;
  }

  get bytesSent(): number {
    return this.sentBytes;
  }

  get segments(): number {
    return this.sentSegments;
  }

  next(payload: Buffer): { seq: number; payload: Buffer } {
    if (!isOneFrame(payload)) {
      throw new RangeError("StreamSender.next expects exactly one frame: pass frame(packet)");
    }
    const seq = this.nxt;
    this.nxt = seqAdd(seq, payload.length);
    this.sentBytes += payload.length;
    this.sentSegments++;
    return { seq, payload };
  }
}

export interface StreamReceiverStats {
  /** New stream bytes taken in (duplicates excluded, bytes after a gap included). */
  bytes: number;
  /** Segments with payload handed to accept(), duplicates included. */
  segments: number;
  /** Times the receiver skipped ahead instead of waiting. */
  gaps: number;
  /** Stream bytes skipped over by those gaps (never received). */
  gapBytes: number;
  /** Bytes received again (retransmissions, overlaps) and discarded. */
  duplicateBytes: number;
  /** Frames discarded: impossible lengths, and partial frames cut off by a gap. */
  badFrames: number;
}

/**
 * Receiver: accepts every segment. In order → append. Duplicate/overlap (seq
 * before rcvNxt, as a kernel TCP proxy's retransmission would send) → trim
 * what was already received, keep the rest. Gap (seq after rcvNxt) → never
 * wait: drop any partial frame, resynchronise at this segment's first byte
 * (the sender starts each segment on a frame boundary), count the skipped
 * bytes. Whole frames are extracted across segment boundaries, since a proxy
 * may coalesce or split frames arbitrarily.
 */
export class StreamReceiver {
  private nxt: number;
  /** Bytes of a frame not yet complete (always starts at a frame boundary). */
  private partial: Buffer = Buffer.alloc(0);
  private readonly counters: StreamReceiverStats = {
    bytes: 0,
    segments: 0,
    gaps: 0,
    gapBytes: 0,
    duplicateBytes: 0,
    badFrames: 0,
  };

  constructor(irs: number /* the peer's ISN: first data byte is irs+1 */) {
    this.nxt = seqAdd(irs, 1);
  }

  get rcvNxt(): number {
    return this.nxt;
  }

  /** A snapshot of the counters. */
  get stats(): StreamReceiverStats {
    return { ...this.counters };
  }

  /** Take one segment's payload; returns the frames (packets, prefix removed) it completed. */
  accept(seq: number, payload: Buffer): Buffer[] {
    if (payload.length === 0) return []; // a pure ACK carries no stream bytes
    this.counters.segments++;
    const fresh = this.trimDuplicate(seq, payload);
    if (fresh.length === 0) return [];
    this.counters.bytes += fresh.length;
    this.nxt = seqAdd(this.nxt, fresh.length);
    return this.extractFrames(Buffer.concat([this.partial, fresh]));
  }

  /** Align the segment on rcvNxt: cut what was already received, or skip a gap. */
  private trimDuplicate(seq: number, payload: Buffer): Buffer {
    const ahead = seqDiff(seq, this.nxt);
    if (ahead === 0) return payload;
    if (ahead > 0) {
      this.skipGap(ahead);
      return payload;
    }
    const old = Math.min(-ahead, payload.length);
    this.counters.duplicateBytes += old;
    return payload.subarray(old);
  }

  private skipGap(missing: number): void {
    this.counters.gaps++;
    this.counters.gapBytes += missing;
    // The missing bytes belong to the frame being assembled (or start new
    // ones): it can never be completed, so it goes, and the new segment's
    // first byte is taken as a frame boundary.
    if (this.partial.length > 0) this.counters.badFrames++;
    this.partial = Buffer.alloc(0);
    this.nxt = seqAdd(this.nxt, missing);
  }

  private extractFrames(buf: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    let at = 0;
    while (buf.length - at >= LENGTH_PREFIX) {
      const len = buf.readUInt16BE(at);
      if (len === 0 || len > MAX_FRAME_PAYLOAD) {
        // Framing is lost: nothing in this buffer can be trusted as a frame
        // boundary any more. Drop it; the next gap (or the next segment on a
        // direct path, where segments start frames) brings us back in step.
        this.counters.badFrames++;
        this.partial = Buffer.alloc(0);
        return frames;
      }
      if (buf.length - at - LENGTH_PREFIX < len) break;
      // Copies: the caller may reuse the buffer it handed us.
      frames.push(Buffer.from(buf.subarray(at + LENGTH_PREFIX, at + LENGTH_PREFIX + len)));
      at += LENGTH_PREFIX + len;
    }
    this.partial = Buffer.from(buf.subarray(at));
    return frames;
  }
}
