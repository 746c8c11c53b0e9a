/**
 * WireGuard keys: Curve25519 keypairs and preshared keys, in the base64 form
 * `wg genkey`, `wg pubkey` and `wg genpsk` use (wg(8)).
 *
 * Randomness is injected so tests can make deterministic keys; the default is
 * node:crypto's CSPRNG. Public keys come from ./x25519.ts (node:crypto when
 * available); the keys' text, which needs no curve, from ./encoding.ts.
 */
import { randomBytes, randomFillSync } from "node:crypto";
import { decodeKey, encodeKey, KEY_LENGTH } from "./encoding.js";
import { x25519 } from "./x25519.js";

export {
  decodeKey,
  encodeKey,
  keyFileContent,
  parseKeyFileContent,
  WIREGUARD_KEY,
} from "./encoding.js";

/** Source of cryptographically secure random bytes. */
export type RandomSource = (length: number) => Uint8Array;

/**
 * Random bytes from a pool refilled 4 KiB at a time: one randomBytes call per
 * request costs ~5 µs, and an encrypted key file takes five of them (key, file
 * key, payload nonce, ephemeral shares). Each byte is handed out once and
 * zeroed in the pool as it is.
 */
const POOL_SIZE = 4096;
let pool = Buffer.alloc(0);
let poolOffset = 0;

export const secureRandom: RandomSource = (length) => {
  if (length > POOL_SIZE / 8) return new Uint8Array(randomBytes(length));
  if (poolOffset + length > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafeSlow(POOL_SIZE));
    poolOffset = 0;
  }
  const bytes = Uint8Array.from(pool.subarray(poolOffset, poolOffset + length));
  pool.fill(0, poolOffset, poolOffset + length);
  poolOffset += length;
  return bytes;
};

/** A WireGuard keypair in wg(8)'s base64 form. */
export interface KeyPair {
  /** Base64 private key, clamped as `wg genkey` makes it. */
  privateKey: string;
  /** Base64 public key, what `wg pubkey` prints for `privateKey`. */
  publicKey: string;
}

/**
 * Clamp a Curve25519 scalar as RFC 7748 §5 (and `wg genkey`) does: clear the
 * three low bits, clear the top bit, set bit 254.
 */
function clamp(scalar: Uint8Array): Uint8Array {
  const clamped = Uint8Array.from(scalar);
  clamped[0] = clamped[0]! & 248;
  clamped[31] = (clamped[31]! & 127) | 64;
  return clamped;
}

/**
 * The public key of a base64 private key, as `wg pubkey` computes it.
 *
 * @param what - Names the key in errors.
 * @returns The base64 public key.
 * @throws {KeyError} when `privateKey` is not a base64 WireGuard key.
 */
export function publicKeyOf(privateKey: string, what = "private key"): string {
  const scalar = decodeKey(privateKey, what);
  return encodeKey(publicKeyBytes(scalar));
}

/**
 * A new keypair, equivalent to `wg genkey | tee priv | wg pubkey`. The stored
 * private key is the clamped bytes, as `wg genkey` prints them; X25519 would
 * clamp unclamped bytes the same way, but other tools may not.
 *
 * @param random - Where the 32 secret bytes come from; `node:crypto` by default.
 */
export function generateKeyPair(random: RandomSource = secureRandom): KeyPair {
  const privateBytes = clamp(random(KEY_LENGTH));
  return {
    privateKey: encodeKey(privateBytes),
    publicKey: encodeKey(publicKeyBytes(privateBytes)),
  };
}

/** X25519(clamp(scalar), 9), what `wg pubkey` computes (it clamps first too). */
function publicKeyBytes(scalar: Uint8Array): Uint8Array {
  return x25519().scalar(clamp(scalar)).publicKey;
}

/**
 * A new preshared key: 32 random bytes, as `wg genpsk`.
 *
 * @param random - Where the bytes come from; `node:crypto` by default.
 * @returns The base64 key.
 */
export function generatePresharedKey(random: RandomSource = secureRandom): string {
  return encodeKey(random(KEY_LENGTH));
}
