/**
 * File names inside the key store (DESIGN.md "The key store"). Pure: paths are
 * relative to the store directory and use '/' on every platform, so that
 * generated Nix and the manifest are identical everywhere.
 */
import { byteOrder } from "../config/types.js";

export const PRESHARED_DIR = "preshared_keys";
/** Provider keys of VPNs (`wgqt vpn import`). */
export const VPN_DIR = "vpns";
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

/** `vpns/us-west.age`: a VPN's private key, from the provider's file, age-encrypted. */
export function vpnKeyFile(vpn: string): string {
  return `${VPN_DIR}/${vpn}.age`;
}

/** `vpns/us-west.psk.age`: the VPN's preshared key, when the provider gave one. */
export function vpnPresharedKeyFile(vpn: string): string {
  return `${VPN_DIR}/${vpn}.psk.age`;
}

/** The VPN a store file belongs to and which of its keys it is, or undefined for other files. */
export function parseVpnFile(
  file: string,
): { vpn: string; kind: "vpn-private-key" | "vpn-preshared-key" } | undefined {
  const match = new RegExp(`^${VPN_DIR}/([^/]+?)(\\.psk)?\\.age$`).exec(file);
  if (match === null) return undefined;
  return { vpn: match[1]!, kind: match[2] ? "vpn-preshared-key" : "vpn-private-key" };
}
