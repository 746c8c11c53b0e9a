/**
 * The native X25519 recipient type (age-encryption.org/v1, "The X25519
 * recipient type"), both sides:
 *
 *     ephemeral secret = random(32), share = X25519(ephemeral secret, basepoint)
 *     stanza           = -> X25519 <base64 share>
 *     shared secret    = X25519(ephemeral secret, recipient)
 *     wrap key         = HKDF-SHA-256(ikm = shared secret, salt = share || recipient,
 *                                     info = "age-encryption.org/v1/X25519")
 *     body             = ChaCha20-Poly1305(wrap key, zero nonce, file key)
 *
 * typage has both halves too, but its recipient runs each multiplication
 * through WebCrypto (an async importKey that derives a public key, then
 * deriveBits: ~0.8 ms here) or @noble; ours use ../keys/x25519.ts, one
 * node:crypto operation each, with the recipient's point prepared once.
 */

import { bech32 } from "@scure/base";
import type { Identity, Recipient, Stanza } from "age-encryption";
import { KeyError } from "../errors.js";
import { type RandomSource, secureRandom } from "../keys/wireguard.js";
import { type X25519, type X25519Point, type X25519Scalar, x25519 } from "../keys/x25519.js";
import { decodeBase64NoPad, encodeBase64NoPad } from "./base64.js";
import { openFileKey, sealFileKey, WRAPPED_FILE_KEY_SIZE } from "./file-key.js";
import { hkdfSha256 } from "./hkdf.js";
import { concatBytes } from "./ssh-wire.js";

/** age-encryption.org/v1, X25519 recipient stanza: `info = "age-encryption.org/v1/X25519"`. */
const X25519_LABEL = new TextEncoder().encode("age-encryption.org/v1/X25519");

function wrapKeyOf(sharedSecret: Uint8Array, share: Uint8Array, recipient: Uint8Array) {
  return hkdfSha256(sharedSecret, concatBytes(share, recipient), X25519_LABEL);
}

/**
 * Encrypts a file key to an `age1…` recipient. The caller has checked the
 * public key is 32 bytes and not a low-order point (recipients.ts).
 */
export class X25519Recipient implements Recipient {
  readonly publicKey: Uint8Array;
  #curve: X25519;
  #point: X25519Point;
  #random: RandomSource;

  constructor(publicKey: Uint8Array, random: RandomSource = secureRandom) {
    this.#curve = x25519();
    this.#point = this.#curve.point(publicKey);
    this.publicKey = this.#point.u;
    this.#random = random;
  }

  wrapFileKey(fileKey: Uint8Array): Stanza[] {
    const ephemeral = this.#curve.scalar(this.#random(32));
    const share = ephemeral.publicKey;
    const shared = this.#curve.multiply(ephemeral, this.#point);
    if (shared === null) throw new KeyError("key/invalid", "X25519 recipient is a low-order point");
    const body = sealFileKey(wrapKeyOf(shared, share, this.publicKey), fileKey);
    return [{ args: ["X25519", encodeBase64NoPad(share)], body }];
  }
}

/**
 * A native X25519 identity. The unwrap follows the spec's X25519 stanza rules:
 * ignore other types; reject malformed X25519 stanzas; abort on a low-order
 * share (an all-zero shared secret). X25519 stanzas carry no key id, so one
 * that does not open is someone else's: not an error.
 */
export class X25519Identity implements Identity {
  readonly kind = "x25519";
  /** The `age1…` recipient of this identity. */
  readonly recipient: string;
  #curve: X25519;
  #scalar: X25519Scalar;

  constructor(scalar: Uint8Array) {
    this.#curve = x25519();
    this.#scalar = this.#curve.scalar(scalar);
    this.recipient = bech32.encodeFromBytes("age", this.#scalar.publicKey);
  }

  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null {
    for (const stanza of stanzas) {
      if (stanza.args[0] !== "X25519") continue;
      const share = stanza.args.length === 2 ? decodeBase64NoPad(stanza.args[1]!) : null;
      if (share?.length !== 32 || stanza.body.length !== WRAPPED_FILE_KEY_SIZE) {
        throw new KeyError("age/damaged", "invalid X25519 stanza");
      }
      const shared = this.#curve.multiply(this.#scalar, this.#curve.point(share));
      if (shared === null)
        throw new KeyError("age/damaged", "invalid X25519 stanza: low-order ephemeral share");
      const wrapKey = wrapKeyOf(shared, share, this.#scalar.publicKey);
      const fileKey = openFileKey(wrapKey, stanza.body);
      if (fileKey !== null) return fileKey;
    }
    return null;
  }
}
