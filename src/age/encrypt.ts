/**
 * Writing an age v1 file in one synchronous pass (age-encryption.org/v1):
 *
 *     file key    = random(16)
 *     header      = "age-encryption.org/v1" LF, one stanza per recipient, "---"
 *     MAC         = HMAC-SHA-256(HKDF-SHA-256(ikm = file key, salt = "", info = "header"),
 *                                header up to and including "---")
 *     nonce       = random(16)
 *     payload key = HKDF-SHA-256(ikm = file key, salt = nonce, info = "payload")
 *     payload     = nonce || STREAM(payload key, plaintext): 64 KiB chunks, each
 *                   ChaCha20-Poly1305 under the nonce counter(11 bytes, big-endian)
 *                   || last-chunk flag(1 byte); an empty plaintext is one empty
 *                   final chunk
 *
 * age-encryption's Encrypter writes the same bytes, but through web streams
 * and JavaScript HMAC/HKDF: about 0.5 ms of overhead per file, more than the
 * X25519 work a key file needs. wgqt writes tens of thousands of 45-byte key
 * files, so it writes them here with node:crypto (OpenSSL); crypt.ts reads
 * them back the same way. test/age/encrypt.test.ts checks every file against
 * `age -d` and age-encryption's Decrypter, and byte for byte against age-encryption's own
 * encryption with the same randomness.
 */

import { createCipheriv, createHmac } from "node:crypto";
import type { Stanza } from "age-encryption";
import { KeyError } from "../errors.js";
import { type RandomSource, secureRandom } from "../keys/wireguard.js";
import { encodeHeaderWithoutMac, finishHeader } from "./header.js";
import { hkdfSha256 } from "./hkdf.js";

/** A recipient that wraps a file key without waiting: all of wgqt's are. */
export interface SyncRecipient {
  wrapFileKey(fileKey: Uint8Array): Stanza[];
}

const FILE_KEY_SIZE = 16;
export const PAYLOAD_NONCE_SIZE = 16;
/** Plaintext bytes per STREAM chunk. */
export const CHUNK_SIZE = 64 * 1024;
/** Poly1305 tag bytes after each chunk. */
export const TAG_SIZE = 16;
const EMPTY = new Uint8Array(0);

/** The header MAC: HMAC-SHA-256 under HKDF(file key, "header") of the header up to "---". */
export function headerMac(fileKey: Uint8Array, headerWithoutMac: Uint8Array): Buffer {
  return createHmac("sha256", hkdfSha256(fileKey, EMPTY, "header"))
    .update(headerWithoutMac)
    .digest();
}

/**
 * Encrypt `plaintext` to `recipients` (at least one), all in memory.
 * `random` is for tests that need reproducible files; it supplies the file key
 * and the payload nonce (the recipients draw their own ephemeral keys).
 */
export function encryptSync(
  plaintext: Uint8Array,
  recipients: readonly SyncRecipient[],
  random: RandomSource = secureRandom,
): Uint8Array {
  if (recipients.length === 0)
    throw new KeyError("age/no-recipients", "cannot encrypt to no recipients");
  const fileKey = random(FILE_KEY_SIZE);
  const stanzas = recipients.flatMap((recipient) => recipient.wrapFileKey(fileKey));
  const header = Buffer.from(encodeHeaderWithoutMac(stanzas), "latin1");
  const mac = headerMac(fileKey, header);
  const nonce = random(PAYLOAD_NONCE_SIZE);
  const payloadKey = hkdfSha256(fileKey, nonce, "payload");
  const parts: Uint8Array[] = [header, finishHeader(mac), nonce];
  const chunks = Math.max(1, Math.ceil(plaintext.length / CHUNK_SIZE));
  const chunkNonce = Buffer.alloc(12);
  for (let index = 0; index < chunks; index++) {
    chunkNonce.writeUIntBE(index, 5, 6); // the counter's low 6 bytes; files stay far below 2^48 chunks
    chunkNonce[11] = index === chunks - 1 ? 1 : 0;
    const cipher = createCipheriv("chacha20-poly1305", payloadKey, chunkNonce, {
      authTagLength: TAG_SIZE,
    });
    const chunk = plaintext.subarray(index * CHUNK_SIZE, (index + 1) * CHUNK_SIZE);
    parts.push(cipher.update(chunk), cipher.final(), cipher.getAuthTag());
  }
  return new Uint8Array(Buffer.concat(parts));
}
