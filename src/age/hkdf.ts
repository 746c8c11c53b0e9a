/**
 * HKDF-SHA-256 (RFC 5869) for the 32-byte keys age derives: the stanza wrap
 * keys, the header MAC key and the payload key. One output block needs two
 * HMACs:
 *
 *     PRK = HMAC-SHA-256(key = salt, ikm)
 *     OKM = HMAC-SHA-256(key = PRK, info || 0x01)
 *
 * node:crypto's hkdfSync computes the same bytes but sets up an OpenSSL KDF
 * context per call, twice the cost of the two HMACs; age derives five keys per
 * file. test/age/encrypt.test.ts checks this against hkdfSync.
 */

import { createHmac } from "node:crypto";

const BLOCK_ONE = new Uint8Array([1]);

export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array | string,
): Uint8Array {
  const prk = createHmac("sha256", salt).update(ikm).digest();
  return createHmac("sha256", prk).update(info).update(BLOCK_ONE).digest();
}
