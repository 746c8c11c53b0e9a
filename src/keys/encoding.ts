/**
 * WireGuard keys as text: the base64 form wg(8) prints, and the content of a
 * key file. No curve here, so the commands that only read keys (plan, render,
 * status) never load one; making and deriving keys is ./wireguard.ts's.
 */
import { KeyError, quote } from "../errors.js";

/** Every WireGuard key, private, public or preshared, is 32 bytes. */
export const KEY_LENGTH = 32;
/**
 * A WireGuard key as wg(8) prints it: 32 bytes in base64 are 43 characters
 * and one '=' of padding, the last character carrying 4 bits (its 2 low bits
 * zero, so it is one of 16). Exactly the strings `decodeKey` accepts.
 */
export const WIREGUARD_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

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
