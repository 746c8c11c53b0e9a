/**
 * File names inside the key store (docs/design.md "Store format"). Pure: paths are
 * relative to the store directory and use '/' on every platform, so that
 * generated Nix and the manifest are identical everywhere.
 */
import { interfaceNameProblem, machineNameProblem } from "../config/names.js";
import { byteOrder } from "../config/types.js";

export const PRESHARED_DIR = "preshared_keys";
/** Provider keys of VPNs (`wgqt vpn import`). */
export const VPN_DIR = "vpns";
export const MANIFEST_FILE = "manifest.json";
export const SECRETS_NIX = "secrets.nix";
export const MACHINES_NIX = "machines.nix";
/** The accepted address plan (`wgqt plan --write`). */
export const PLAN_FILE = "plan.json";

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

/** The files wgqt generates in the store, by name. */
const GENERATED = new Set([MANIFEST_FILE, SECRETS_NIX, MACHINES_NIX, PLAN_FILE]);

const isMachine = (name: string) => machineNameProblem(name) === undefined;

/**
 * Whether `file` (store-relative, '/'-separated) is a name under which wgqt
 * writes a file into the store: a machine's `.pub` or `.age`, a pair's PSK
 * (names in byte order), a VPN's keys, or a generated file. What a journal
 * may write there (see transaction.ts) is exactly this.
 */
export function isStoreFileName(file: string): boolean {
  if (GENERATED.has(file)) return true;
  const parts = file.split("/");
  if (parts.length === 1) {
    const match = /^(.+)\.(pub|age)$/.exec(file);
    return match !== null && isMachine(match[1]!);
  }
  if (parts.length !== 2) return false;
  const [dir, name] = parts as [string, string];
  if (dir === PRESHARED_DIR) {
    const match = /^([^+]+)\+([^+]+)\.age$/.exec(name);
    return (
      match !== null &&
      isMachine(match[1]!) &&
      isMachine(match[2]!) &&
      byteOrder(match[1]!, match[2]!) < 0
    );
  }
  const vpn = parseVpnFile(file);
  return vpn !== undefined && interfaceNameProblem(vpn.vpn) === undefined;
}

/**
 * The parts of `file` when it lies directly in one of the store's own
 * directories (the store, `preshared_keys/`, `vpns/`): `dir` is "" for the
 * store itself. Undefined for anything deeper or elsewhere.
 */
export function storeDirEntry(file: string): { dir: string; name: string } | undefined {
  const parts = file.split("/");
  const name = parts.at(-1)!;
  if (name === "" || name === "." || name === "..") return undefined;
  if (parts.length === 1) return { dir: "", name };
  if (parts.length === 2 && (parts[0] === PRESHARED_DIR || parts[0] === VPN_DIR))
    return { dir: parts[0], name };
  return undefined;
}

/**
 * Whether `file` is a key file wgqt may remove from the store: any name it
 * writes, and what `wgqt prune` removes whatever its name (an orphaned `.age`
 * anywhere in the store, an orphaned `.pub` in the store itself).
 */
export function isRemovableStoreName(file: string): boolean {
  if (isStoreFileName(file)) return true;
  const entry = storeDirEntry(file);
  if (entry === undefined) return false;
  return entry.name.endsWith(".age") || (entry.dir === "" && entry.name.endsWith(".pub"));
}
