/**
 * File names inside the key store (DESIGN.md "The key store"). Pure: paths are
 * relative to the store directory and use '/' on every platform, so that
 * generated Nix and the manifest are identical everywhere.
 */
import { byteOrder } from "../config/types.js";

export const PRESHARED_DIR = "preshared_keys";
export const MANIFEST_FILE = "manifest.json";
export const SECRETS_NIX = "secrets.nix";
export const MACHINES_NIX = "machines.nix";

/** `tavern.pub`: the machine's WireGuard public key, plaintext. */
export function publicKeyFile(machine: string): string {
  return `${machine}.pub`;
}

/** `tavern.age`: the machine's WireGuard private key, age-encrypted. */
export function privateKeyFile(machine: string): string {
  return `${machine}.age`;
}

/** A peer pair, its two names in byte order. */
export type Pair = readonly [string, string];

/** Order two machine names into a pair (byte order). */
export function pair(a: string, b: string): Pair {
  return byteOrder(a, b) <= 0 ? [a, b] : [b, a];
}

/** `preshared_keys/archive+tavern.age`: names sorted by byte order, joined by '+'. */
export function presharedKeyFile(a: string, b: string): string {
  const [first, second] = pair(a, b);
  return `${PRESHARED_DIR}/${first}+${second}.age`;
}
