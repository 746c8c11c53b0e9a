/**
 * Wrapping a file key in a stanza body, as the X25519 and ssh-ed25519 stanzas
 * do: "body = ChaCha20-Poly1305(key = wrap key, plaintext = file key) where the
 * ChaCha20-Poly1305 nonce is fixed as 12 0x00 bytes" (age-encryption.org/v1,
 * X25519 recipient stanza). The fixed nonce is safe because every wrap key is
 * derived from a fresh ephemeral share.
 *
 * ChaCha20-Poly1305 (RFC 7539) comes from node:crypto (OpenSSL), so no cipher
 * library beyond our declared dependencies is needed.
 */

import { createCipheriv, createDecipheriv } from "node:crypto";

/** "The file key MUST be generated as 16 bytes of CSPRNG output." */
export const FILE_KEY_SIZE = 16;
/** A wrapped file key: 16 bytes of ciphertext and a 16-byte Poly1305 tag. */
export const WRAPPED_FILE_KEY_SIZE = 32;

const TAG_SIZE = 16;
const ZERO_NONCE = new Uint8Array(12);

/** Encrypt a file key under a 32-byte wrap key. */
export function sealFileKey(wrapKey: Uint8Array, fileKey: Uint8Array): Uint8Array {
  const cipher = createCipheriv("chacha20-poly1305", wrapKey, ZERO_NONCE, {
    authTagLength: TAG_SIZE,
  });
  const sealed = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
  return new Uint8Array(sealed);
}

/**
 * Decrypt a wrapped file key, or return null when authentication fails (the
 * body was not made with this wrap key). Callers check the body length first:
 * the spec requires it to be exactly 32 bytes "before attempting to decrypt
 * it, to mitigate partitioning oracle attacks".
 */
export function openFileKey(wrapKey: Uint8Array, body: Uint8Array): Uint8Array | null {
  if (body.length !== WRAPPED_FILE_KEY_SIZE) return null;
  return openChaCha20Poly1305(wrapKey, ZERO_NONCE, body);
}

/**
 * ChaCha20-Poly1305 decryption of `sealed` (ciphertext, then the 16-byte
 * tag), or null when it does not authenticate under `key` and `nonce`.
 */
export function openChaCha20Poly1305(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
): Uint8Array | null {
  if (sealed.length < TAG_SIZE) return null;
  const decipher = createDecipheriv("chacha20-poly1305", key, nonce, {
    authTagLength: TAG_SIZE,
  });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
  try {
    const opened = Buffer.concat([
      decipher.update(sealed.subarray(0, sealed.length - TAG_SIZE)),
      decipher.final(),
    ]);
    return new Uint8Array(opened);
  } catch {
    return null;
  }
}
