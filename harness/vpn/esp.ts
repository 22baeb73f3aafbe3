// ESP (RFC 4303) with AES-128-GCM (RFC 4106), statically keyed SAs.
//
// Wire format of one packet:
//   SPI (4) | sequence number (4) | IV (8) | ciphertext | ICV (16)
// where the ciphertext covers payload | padding | pad length (1) | next header (1),
// AAD = SPI || 32-bit sequence number, nonce = 4-byte salt || 8-byte IV.
// Pure code: no sockets, no timers; the transports do the I/O.

import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { ReplayWindow } from "./replay";

export const NEXT_HEADER_IPV4 = 4;
export const NEXT_HEADER_NONE = 59;
/** RFC 3692 experimental protocol number: the harness's DPD/config messages. */
export const NEXT_HEADER_CONTROL = 253;

const KEY_LEN = 16;
const SALT_LEN = 4;
const HEADER_LEN = 8; // SPI + sequence number
const IV_LEN = 8;
const ICV_LEN = 16;
const TRAILER_LEN = 2; // pad length + next header
/** The ciphertext (payload, padding, trailer) ends on a 4-byte boundary (RFC 4303 §2.4). */
const ALIGN = 4;
const MAX_SEQ = 0xffffffff;
/** SPI values 1..255 are reserved by IANA and 0 is for local use (RFC 4303 §2.1). */
const MIN_SPI = 256;

export interface SaKeys {
  spi: number;
  key: Buffer; // 16 bytes
  salt: Buffer; // 4 bytes
}

export interface SaKeysJson {
  spi: number;
  key: string;
  salt: string;
}

export type EspDropReason = "malformed" | "spi" | "auth" | "replay";

export class EspError extends Error {
  constructor(
    readonly reason: EspDropReason,
    message: string,
  ) {
    super(message);
    this.name = "EspError";
  }
}

export interface EspOpened {
  nextHeader: number;
  payload: Buffer;
  seq: number;
}

export interface EspInboundStats {
  ok: number;
  malformed: number;
  spi: number;
  auth: number;
  replay: number;
}

export function generateSaKeys(spi?: number): SaKeys {
  const chosen = spi ?? MIN_SPI + (randomBytes(4).readUInt32BE(0) % (MAX_SEQ - MIN_SPI + 1));
  return validateKeys({ spi: chosen, key: randomBytes(KEY_LEN), salt: randomBytes(SALT_LEN) });
}

export function saKeysToJson(k: SaKeys): SaKeysJson {
  validateKeys(k);
  return { spi: k.spi, key: k.key.toString("hex"), salt: k.salt.toString("hex") };
}

export function saKeysFromJson(j: SaKeysJson): SaKeys {
  return validateKeys({ spi: j.spi, key: fromHex(j.key, "key"), salt: fromHex(j.salt, "salt") });
}

function fromHex(s: string, what: string): Buffer {
  // Buffer.from(hex) silently stops at the first bad digit: check first.
  if (typeof s !== "string" || !/^([0-9a-fA-F]{2})*$/.test(s)) {
    throw new Error(`SA ${what} must be a hex string`);
  }
  return Buffer.from(s, "hex");
}

function validateKeys(k: SaKeys): SaKeys {
  if (!Number.isInteger(k.spi) || k.spi < MIN_SPI || k.spi > MAX_SEQ) {
    throw new Error(`SA spi must be an integer in ${MIN_SPI}..${MAX_SEQ}, got ${k.spi}`);
  }
  if (k.key.length !== KEY_LEN) throw new Error(`SA key must be ${KEY_LEN} bytes, got ${k.key.length}`);
  if (k.salt.length !== SALT_LEN) throw new Error(`SA salt must be ${SALT_LEN} bytes, got ${k.salt.length}`);
  return k;
}

/** RFC 4303 §2.4 padding: 1, 2, 3, ... so that payload+padding+trailer is 4-aligned. */
function padding(payloadLength: number): Buffer {
  const padLength = (ALIGN - ((payloadLength + TRAILER_LEN) % ALIGN)) % ALIGN;
  const pad = Buffer.alloc(padLength);
  for (let i = 0; i < padLength; i++) pad[i] = i + 1;
  return pad;
}

function espHeader(spi: number, seq: number): Buffer {
  const h = Buffer.alloc(HEADER_LEN);
  h.writeUInt32BE(spi, 0);
  h.writeUInt32BE(seq, 4);
  return h;
}

/**
 * Seal with an explicit IV. @internal — the SA classes derive the IV from the
 * sequence number; this is exported so tests can replay published vectors
 * whose IVs are arbitrary. The caller must never reuse an IV under one key.
 * The SPI is taken as given (no range check) for the same reason.
 */
export function sealWithIv(keys: SaKeys, seq: number, iv: Buffer, nextHeader: number, payload: Buffer): Buffer {
  if (!Number.isInteger(nextHeader) || nextHeader < 0 || nextHeader > 255) {
    throw new RangeError(`next header must be 0..255, got ${nextHeader}`);
  }
  if (iv.length !== IV_LEN) throw new RangeError(`IV must be ${IV_LEN} bytes`);
  const header = espHeader(keys.spi, seq);
  const pad = padding(payload.length);
  const plaintext = Buffer.concat([payload, pad, Buffer.from([pad.length, nextHeader])]);
  const cipher = createCipheriv("aes-128-gcm", keys.key, Buffer.concat([keys.salt, iv]), { authTagLength: ICV_LEN });
  cipher.setAAD(header);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, iv, ciphertext, cipher.getAuthTag()]);
}

export class EspOutbound {
  private seq = 0;

  constructor(private readonly keys: SaKeys) {
    validateKeys(keys);
  }

  /** Packets sealed so far (= the last sequence number used). */
  get sent(): number {
    return this.seq;
  }

  seal(nextHeader: number, payload: Buffer): Buffer {
    // RFC 4303 §3.3.3: the counter must not cycle; a static SA is then spent.
    if (this.seq >= MAX_SEQ) throw new Error(`ESP SA ${this.keys.spi}: sequence number space exhausted`);
    const seq = this.seq + 1;
    // The 64-bit IV is the sequence number: unique per SA, so the GCM nonce
    // never repeats under one key (RFC 4106 §3.1 suggests exactly this).
    const iv = Buffer.alloc(IV_LEN);
    iv.writeUInt32BE(seq, 4);
    const packet = sealWithIv(this.keys, seq, iv, nextHeader, payload);
    this.seq = seq;
    return packet;
  }
}

export class EspInbound {
  private readonly window: ReplayWindow;
  private readonly counters: EspInboundStats = { ok: 0, malformed: 0, spi: 0, auth: 0, replay: 0 };

  constructor(
    private readonly keys: SaKeys,
    windowSize = 64,
  ) {
    validateKeys(keys);
    this.window = new ReplayWindow(windowSize);
  }

  /** A snapshot of the counters (per-phase evidence takes differences of snapshots). */
  get stats(): EspInboundStats {
    return { ...this.counters };
  }

  /** Verify, decrypt and strip one packet; throws EspError (and counts it) when dropped. */
  open(packet: Buffer): EspOpened {
    try {
      const opened = this.openUncounted(packet);
      this.counters.ok++;
      return opened;
    } catch (e) {
      if (e instanceof EspError) this.counters[e.reason]++;
      throw e;
    }
  }

  private openUncounted(packet: Buffer): EspOpened {
    if (packet.length < HEADER_LEN) throw new EspError("malformed", `ESP packet of ${packet.length} bytes has no header`);
    const spi = packet.readUInt32BE(0);
    if (spi !== this.keys.spi) throw new EspError("spi", `unknown SPI ${spi} (SA has ${this.keys.spi})`);
    checkLength(packet.length);
    const seq = packet.readUInt32BE(4);
    if (seq === 0) throw new EspError("malformed", "sequence number 0 is never sent");
    // Before decrypting: replays and stale packets cost no crypto.
    if (!this.window.check(seq)) throw new EspError("replay", `sequence number ${seq} replayed or outside the window`);
    const plaintext = this.decrypt(packet);
    // Only an authentic packet may move the window; it does so even if its
    // padding is bad, since it was really sent and must not be accepted twice.
    this.window.update(seq);
    return { ...stripTrailer(plaintext), seq };
  }

  private decrypt(packet: Buffer): Buffer {
    const iv = packet.subarray(HEADER_LEN, HEADER_LEN + IV_LEN);
    const ciphertext = packet.subarray(HEADER_LEN + IV_LEN, packet.length - ICV_LEN);
    const decipher = createDecipheriv("aes-128-gcm", this.keys.key, Buffer.concat([this.keys.salt, iv]), {
      authTagLength: ICV_LEN,
    });
    decipher.setAAD(packet.subarray(0, HEADER_LEN));
    decipher.setAuthTag(packet.subarray(packet.length - ICV_LEN));
    const plaintext = decipher.update(ciphertext);
    try {
      decipher.final(); // throws when the ICV does not verify
    } catch {
      throw new EspError("auth", "integrity check failed");
    }
    return plaintext;
  }
}

function checkLength(length: number): void {
  const ciphertextLength = length - HEADER_LEN - IV_LEN - ICV_LEN;
  if (ciphertextLength < TRAILER_LEN || ciphertextLength % ALIGN !== 0) {
    throw new EspError("malformed", `ESP packet of ${length} bytes: bad length`);
  }
}

/** Remove padding and trailer, checking the padding is the RFC 4303 1, 2, 3, ... sequence. */
function stripTrailer(plaintext: Buffer): { nextHeader: number; payload: Buffer } {
  const nextHeader = plaintext[plaintext.length - 1];
  const padLength = plaintext[plaintext.length - 2];
  const payloadLength = plaintext.length - TRAILER_LEN - padLength;
  if (payloadLength < 0) throw new EspError("malformed", `pad length ${padLength} exceeds the packet`);
  for (let i = 0; i < padLength; i++) {
    if (plaintext[payloadLength + i] !== i + 1) throw new EspError("malformed", "padding bytes are not 1, 2, 3, ...");
  }
  return { nextHeader, payload: plaintext.subarray(0, payloadLength) };
}
