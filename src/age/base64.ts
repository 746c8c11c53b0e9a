/**
 * The two base64 dialects age files and SSH keys use, decoded strictly.
 *
 * age: "the standard Base 64 encoding specified in RFC 4648, Section 4, without
 * `=` padding characters … decoders MUST reject non-canonical encodings and
 * encodings ending with `=` padding characters" (age-encryption.org/v1,
 * Conventions). OpenSSH writes the same alphabet with padding.
 *
 * Node's Buffer decoder is lenient (it skips junk and ignores stray bits), so
 * every decode here re-encodes and compares: anything but the one canonical
 * spelling of the bytes is refused. Decoders return null, never throw; callers
 * turn null into an error that names their field.
 */

const UNPADDED = /^[A-Za-z0-9+/]*$/;
/** The alphabet in order: a digit's index is its 6-bit value. */
const DIGIT_VALUES = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const PADDED = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Encode as age's unpadded standard base64. */
export function encodeBase64NoPad(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString("base64")
    .replace(/=+$/, "");
}

/**
 * Decode age's canonical unpadded base64, or return null. Of the texts in the
 * alphabet, the canonical ones are those whose last character carries no
 * stray bits: with 2 characters over a multiple of 4, the last one's low 4 bits
 * are not part of any byte; with 3, its low 2 bits. That is the same as
 * re-encoding and comparing (test/age/base64.test.ts), without the re-encoding:
 * every header line of every file a status or rekey reads comes through here.
 */
export function decodeBase64NoPad(text: string): Uint8Array | null {
  return isBase64NoPad(text) ? new Uint8Array(Buffer.from(text, "base64")) : null;
}

/**
 * Whether `decodeBase64NoPad(text)` decodes (is not null), without decoding:
 * for a reader that checks a header's lines but has no use for their bytes.
 */
export function isBase64NoPad(text: string): boolean {
  const extra = text.length % 4;
  if (extra === 1 || !UNPADDED.test(text)) return false;
  if (extra !== 0) {
    const last = DIGIT_VALUES.indexOf(text.charAt(text.length - 1));
    if ((last & (extra === 2 ? 0b1111 : 0b11)) !== 0) return false;
  }
  return true;
}

/** How many bytes canonical unpadded base64 of `length` characters holds. */
export function base64NoPadSize(length: number): number {
  return Math.floor((length * 3) / 4);
}

/** Encode as padded standard base64, the way OpenSSH writes key blobs. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** Decode canonical padded standard base64, or return null. */
export function decodeBase64(text: string): Uint8Array | null {
  if (!PADDED.test(text)) return null;
  const bytes = new Uint8Array(Buffer.from(text, "base64"));
  return encodeBase64(bytes) === text ? bytes : null;
}
