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
const PADDED = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Encode as age's unpadded standard base64. */
export function encodeBase64NoPad(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString("base64")
    .replace(/=+$/, "");
}

/** Decode age's canonical unpadded base64, or return null. */
export function decodeBase64NoPad(text: string): Uint8Array | null {
  if (!UNPADDED.test(text) || text.length % 4 === 1) return null;
  const bytes = new Uint8Array(Buffer.from(text, "base64"));
  return encodeBase64NoPad(bytes) === text ? bytes : null;
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
