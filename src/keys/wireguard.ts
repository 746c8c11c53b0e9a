/**
 * WireGuard keys: Curve25519 keypairs and preshared keys, in the base64 form
 * `wg genkey`, `wg pubkey` and `wg genpsk` use (wg(8)).
 *
 * Randomness is injected so tests can make deterministic keys; the default is
 * node:crypto's CSPRNG. Public keys come from ./x25519.ts (node:crypto when
 * available).
 */
import { randomBytes, randomFillSync } from "node:crypto";
import { KeyError, quote } from "../errors.js";
import { x25519 } from "./x25519.js";

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

const KEY_LENGTH = 32;
/**
 * A WireGuard key as wg(8) prints it: 32 bytes in base64 are 43 characters
 * and one '=' of padding, the last character carrying 4 bits (its 2 low bits
 * zero, so it is one of 16). Exactly the strings `decodeKey` accepts.
 */
export const WIREGUARD_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

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
 * Encode a 32-byte key as wg(8) prints it: 44 characters of base64.
 *
 * @throws {KeyError} when `bytes` is not 32 bytes long.
 */
export function encodeKey(bytes: Uint8Array): string {
  if (bytes.length !== KEY_LENGTH) {
    throw new KeyError("key/invalid", `key expected ${KEY_LENGTH} bytes, got ${bytes.length}`);
  }
  return Buffer.from(bytes).toString("base64");
}

/**
 * Parse a base64 WireGuard key strictly: exactly 44 characters, canonical
 * padding (the unused low bits of the last character are zero), 32 bytes.
 * `what` names the key in the error (`machines.tavern.public_key`).
 *
 * @returns The key's 32 bytes.
 * @throws {KeyError} naming `what` when `text` is not such a key.
 */
export function decodeKey(text: string, what = "key"): Uint8Array {
  if (typeof text !== "string" || !WIREGUARD_KEY.test(text)) {
    throw new KeyError(
      "key/invalid",
      `${what}: not a WireGuard key (44 characters of base64 for 32 bytes), got ${quote(text)}`,
    );
  }
  return new Uint8Array(Buffer.from(text, "base64"));
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

/**
 * The bytes stored inside an encrypted key file: the base64 key and a newline,
 * exactly what `wg genkey`/`wg genpsk` print, so `wg set … private-key FILE`,
 * networkd's PrivateKeyFile= and NixOS's privateKeyFile read it unchanged.
 */
export function keyFileContent(key: string): Uint8Array {
  return new TextEncoder().encode(`${key}\n`);
}

/** Inverse of `keyFileContent`; tolerant of a missing trailing newline. */
export function parseKeyFileContent(bytes: Uint8Array, what: string): string {
  const text = new TextDecoder().decode(bytes).replace(/\r?\n$/, "");
  decodeKey(text, what);
  return text;
}
