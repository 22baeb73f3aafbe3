// ESP anti-replay window (RFC 4303 §3.4.3), kept as a ring of 32-bit
// blocks in the style of RFC 6479: sliding the window forward clears whole
// blocks instead of shifting a bitmap, so the cost does not grow with the
// window size. Sequence numbers are 32-bit (no extended sequence numbers:
// the reference SAs are static and never send 2^32 packets).
//
// The caller does check() BEFORE decrypting (cheap rejection of replays and
// stale packets) and update() only AFTER the integrity check passed, so that
// forged packets can never move the window.

const BLOCK_BITS = 32;
const MAX_SEQ = 0xffffffff;

export class ReplayWindow {
  /** Highest sequence number accepted so far; 0 = none yet (0 is never sent). */
  private top = 0;
  private readonly blocks: Uint32Array;

  constructor(readonly size = 64) {
    if (!Number.isInteger(size) || size < 1 || size > 1 << 20) {
      throw new RangeError(`replay window size must be an integer in 1..${1 << 20}, got ${size}`);
    }
    // One block more than the window needs: the window may start mid-block,
    // so it can touch ceil(size/32)+1 blocks, which must never alias.
    this.blocks = new Uint32Array(Math.ceil(size / BLOCK_BITS) + 1);
  }

  /** May this sequence number be accepted (not seen, not older than the window)? */
  check(seq: number): boolean {
    if (!isSeq(seq) || seq === 0) return false;
    if (seq > this.top) return true;
    if (this.top - seq >= this.size) return false; // left of the window
    return !this.isSet(seq);
  }

  /** Record an authenticated packet; slides the window when seq is new and highest. */
  update(seq: number): void {
    if (!this.check(seq)) return; // stale or already recorded: nothing to learn
    if (seq > this.top) this.slideTo(seq);
    this.set(seq);
  }

  private slideTo(seq: number): void {
    const n = this.blocks.length;
    const from = Math.floor(this.top / BLOCK_BITS);
    const to = Math.floor(seq / BLOCK_BITS);
    // Blocks after the old top's block hold only numbers above the old top,
    // none of them seen yet; clearing more than n blocks would be redundant.
    for (let b = from + 1, cleared = 0; b <= to && cleared < n; b++, cleared++) {
      this.blocks[b % n] = 0;
    }
    this.top = seq;
  }

  private locate(seq: number): { index: number; mask: number } {
    const index = Math.floor(seq / BLOCK_BITS) % this.blocks.length;
    return { index, mask: (1 << (seq % BLOCK_BITS)) >>> 0 };
  }

  private isSet(seq: number): boolean {
    const { index, mask } = this.locate(seq);
    return (this.blocks[index] & mask) !== 0;
  }

  private set(seq: number): void {
    const { index, mask } = this.locate(seq);
    this.blocks[index] = (this.blocks[index] | mask) >>> 0;
  }
}

function isSeq(seq: number): boolean {
  return Number.isInteger(seq) && seq >= 0 && seq <= MAX_SEQ;
}
