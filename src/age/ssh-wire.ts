/**
 * The SSH wire encoding (RFC 4251, Section 5) used by public key blobs
 * (RFC 4253 §6.6, RFC 8709 §4) and by OpenSSH's private key format
 * (openssh PROTOCOL.key). Only the types those need: uint32, string, mpint.
 *
 * The reader is strict: it returns null instead of reading past the end, and
 * refuses non-canonical mpints, so that a blob we accept re-encodes to the very
 * same bytes. That matters because age's SSH key tag hashes the re-encoded
 * blob (agessh: `sha256.Sum256(pk.Marshal())`), not the bytes in the file.
 */

/** Reads SSH wire values from a byte array, front to back. */
export class WireReader {
  #bytes: Uint8Array;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  /** The unread bytes, consuming them. */
  rest(): Uint8Array {
    const rest = this.#bytes.subarray(this.#offset);
    this.#offset = this.#bytes.length;
    return rest;
  }

  /** `n` raw bytes, or null if fewer remain. */
  bytes(n: number): Uint8Array | null {
    if (n > this.remaining) return null;
    const out = this.#bytes.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    return out;
  }

  /** RFC 4251: "uint32 … stored as four bytes in the order of decreasing significance". */
  uint32(): number | null {
    const b = this.bytes(4);
    if (b === null) return null;
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  }

  /** RFC 4251: "string … stored as a uint32 containing its length … and zero or more bytes". */
  string(): Uint8Array | null {
    const length = this.uint32();
    if (length === null) return null;
    return this.bytes(length);
  }

  /** A string that must be printable ASCII (key type names, cipher names). */
  text(): string | null {
    const bytes = this.string();
    if (bytes === null) return null;
    for (const byte of bytes) if (byte < 0x20 || byte > 0x7e) return null;
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  }

  /**
   * RFC 4251 mpint, restricted to non-negative values in canonical form:
   * "Unnecessary leading bytes with the value 0 or 255 MUST NOT be included."
   * Returns the magnitude (big-endian, no sign byte), or null.
   */
  positiveMpint(): Uint8Array | null {
    const raw = this.string();
    if (raw === null || raw.length === 0) return null;
    if (raw[0]! & 0x80) return null; // negative
    if (raw[0] === 0) {
      // A leading zero is only allowed to keep the next byte's high bit from reading as a sign.
      if (raw.length === 1 || !(raw[1]! & 0x80)) return null;
      return raw.subarray(1);
    }
    return raw;
  }
}

/** Concatenate byte arrays (SSH wire fields, a payload's chunks). */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Encode an RFC 4251 string (a uint32 length, then the bytes). */
export function wireString(value: Uint8Array | string): Uint8Array {
  const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

/** Encode a non-negative big-endian magnitude as a canonical RFC 4251 mpint. */
export function wireMpint(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  if (trimmed.length > 0 && trimmed[0]! & 0x80)
    return wireString(concatBytes(new Uint8Array([0]), trimmed));
  return wireString(trimmed);
}
