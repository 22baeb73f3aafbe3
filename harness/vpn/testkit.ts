// Test support shared by the packet-code tests (no I/O, not used at run time).

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

/** An independent checksum: byte-wise sums of the high and low bytes (RFC 1071 §2(B), byte-order independence). */
export function naiveChecksum(...parts: Buffer[]): number {
  const all = Buffer.concat(parts);
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < all.length; i++) {
    if (i % 2 === 0) hi += all[i];
    else lo += all[i];
  }
  let sum = hi * 256 + lo;
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return 0xffff - sum;
}

/** Deterministic PRNG (mulberry32) so a failure can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
