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
export { mulberry32 as prng } from "../impair/backends/wire/engine";
