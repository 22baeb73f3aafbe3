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
 * anything that is not exactly one frame, because after a gap the receiver
 * tries a segment's first byte as a frame boundary first: with one frame per
 * segment it is back in step at once, without scanning.
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

export interface StreamReceiverOptions {
  /** Largest frame payload that can be real (e.g. TUN MTU + ESP overhead); a longer length means we are misaligned. Default MAX_FRAME_PAYLOAD. */
  maxFrame?: number;
  /** Whether `payload` (a complete candidate frame payload) plausibly starts a real frame — e.g. the ESP SPI the receiver expects. Default: always true. */
  isFrameStart?: (payload: Buffer) => boolean;
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
  /**
   * Frames discarded while in step: impossible lengths (0 or > maxFrame),
   * payloads refused by isFrameStart, and partial frames cut off by a gap.
   * Candidates refused while hunting are not frames: they count in resyncBytes.
   */
  badFrames: number;
  /** Times framing was lost (a gap or a bad frame) and the receiver started hunting for a frame boundary. */
  resyncs: number;
  /** Received bytes discarded while hunting, one per position tried and refused (or skipped for a better one). */
  resyncBytes: number;
}

const enum Candidate {
  /** Not enough bytes yet to judge the candidate. */
  Wait = -1,
  /** Not a frame: impossible length or refused by isFrameStart. */
  Bad = -2,
}

/**
 * Receiver: accepts every segment. In order → append. Duplicate/overlap (seq
 * before rcvNxt, as a kernel TCP proxy's retransmission would send) → trim
 * what was already received, keep the rest. Gap (seq after rcvNxt) → never
 * wait: drop any partial frame, count the skipped bytes, and hunt for a frame
 * boundary. Whole frames are extracted across segment boundaries, since a
 * proxy may coalesce or split frames arbitrarily.
 *
 * Hunting (after a gap, or when a frame's length is 0 or > maxFrame, or its
 * payload fails isFrameStart): a position is a frame boundary when its 2-byte
 * length is in [1, maxFrame] and the complete payload that follows passes
 * isFrameStart. The first byte of newly arrived data is tried first (our own
 * sender starts every segment on a frame), then the buffered bytes are
 * scanned one position at a time, each refused position discarded. An
 * incomplete candidate waits for more data; since its length is at most
 * maxFrame, no more than maxFrame+2 bytes are ever held while hunting. A gap
 * makes every incomplete candidate impossible, so before skipping it the
 * buffered bytes are scanned once more for whole frames. The first accepted
 * frame puts the receiver back in step: in-order parsing resumes.
 *
 * A kernel TCP stack (a full proxy) re-segments the stream anywhere, so only
 * maxFrame and isFrameStart (e.g. the expected ESP SPI) keep the hunt from
 * taking a bogus length inside a payload as a frame; with the defaults a
 * misread length can still hold up to 65533 bytes.
 */
export class StreamReceiver {
  private nxt: number;
  /** Received bytes not yet delivered: a frame not yet complete, or (hunting) the next position to try onwards. */
  private pending: Buffer = Buffer.alloc(0);
  /** True while the receiver does not know where the next frame starts. */
  private hunting = false;
  private readonly maxFrame: number;
  private readonly isFrameStart: (payload: Buffer) => boolean;
  private readonly counters: StreamReceiverStats = {
    bytes: 0,
    segments: 0,
    gaps: 0,
    gapBytes: 0,
    duplicateBytes: 0,
    badFrames: 0,
    resyncs: 0,
    resyncBytes: 0,
  };

  constructor(irs: number /* the peer's ISN: first data byte is irs+1 */, opts: StreamReceiverOptions = {}) {
    this.nxt = seqAdd(irs, 1);
    const maxFrame = opts.maxFrame ?? MAX_FRAME_PAYLOAD;
    if (!Number.isInteger(maxFrame) || maxFrame < 1 || maxFrame > MAX_FRAME_PAYLOAD) {
      throw new RangeError(`maxFrame must be an integer in 1..${MAX_FRAME_PAYLOAD}, got ${maxFrame}`);
    }
    this.maxFrame = maxFrame;
    this.isFrameStart = opts.isFrameStart ?? (() => true);
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
    const ahead = seqDiff(seq, this.nxt);
    let frames: Buffer[] = [];
    let fresh = payload;
    if (ahead > 0) {
      frames = this.skipGap(ahead);
    } else if (ahead < 0) {
      const old = Math.min(-ahead, payload.length);
      this.counters.duplicateBytes += old;
      fresh = payload.subarray(old);
      if (fresh.length === 0) return [];
    }
    this.counters.bytes += fresh.length;
    this.nxt = seqAdd(this.nxt, fresh.length);
    const newAt = this.pending.length;
    return frames.concat(this.parse(Buffer.concat([this.pending, fresh]), newAt, false));
  }

  /**
   * Never wait for the missing bytes: whatever is buffered can no longer be
   * completed, so take the whole frames it still holds (when hunting) and
   * drop the rest, then hunt from the next segment's first byte.
   */
  private skipGap(missing: number): Buffer[] {
    this.counters.gaps++;
    this.counters.gapBytes += missing;
    const frames = this.parse(this.pending, 0, true);
    this.nxt = seqAdd(this.nxt, missing);
    this.startHunting();
    return frames;
  }

  private startHunting(): void {
    if (this.hunting) return;
    this.hunting = true;
    this.counters.resyncs++;
  }

  /** The payload length if a valid frame starts at `at`, else Wait or Bad. */
  private candidate(buf: Buffer, at: number): number {
    if (buf.length - at < LENGTH_PREFIX) return Candidate.Wait;
    const len = buf.readUInt16BE(at);
    if (len === 0 || len > this.maxFrame) return Candidate.Bad;
    if (buf.length - at - LENGTH_PREFIX < len) return Candidate.Wait;
    return this.isFrameStart(buf.subarray(at + LENGTH_PREFIX, at + LENGTH_PREFIX + len)) ? len : Candidate.Bad;
  }

  /**
   * Deliver the whole frames in buf; newAt is where the newest data starts
   * (0 if none). `final`: no byte will ever follow buf (a gap comes next), so
   * an incomplete frame or candidate is impossible rather than early.
   */
  private parse(buf: Buffer, newAt: number, final: boolean): Buffer[] {
    const frames: Buffer[] = [];
    let at = 0;
    if (this.hunting && newAt > 0 && this.candidate(buf, newAt) >= 0) {
      // The new data starts a frame (as our own sender's segments do): take
      // it, rather than scan up to it through what was buffered before.
      this.counters.resyncBytes += newAt;
      at = newAt;
    }
    while (at < buf.length) {
      const len = this.candidate(buf, at);
      if (len === Candidate.Wait) {
        if (!final) break;
        if (!this.hunting) {
          this.counters.badFrames++; // a partial frame cut off by the gap
          at = buf.length;
          break;
        }
        // the candidate can never be completed: try the next position
      } else if (len === Candidate.Bad) {
        if (!this.hunting) {
          // Framing is lost: hunt from here (this position is refused at once).
          this.counters.badFrames++;
          this.startHunting();
        }
      } else {
        // Copies: the caller may reuse the buffer it handed us.
        frames.push(Buffer.from(buf.subarray(at + LENGTH_PREFIX, at + LENGTH_PREFIX + len)));
        at += LENGTH_PREFIX + len;
        this.hunting = false;
        continue;
      }
      this.counters.resyncBytes++;
      at++;
    }
    this.pending = at >= buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(at));
    return frames;
  }
}
