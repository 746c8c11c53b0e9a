/**
 * The validated, normalised form of `wgqt.toml`. Everything downstream (the
 * store, the planner, the renderers) works on this, never on raw TOML.
 */

/** One machine of the fleet: `[machines.<name>]`. */
export interface MachineConfig {
  /** Hostname-like name, the table key. */
  name: string;
  /** The host's age recipients, normalised (`age1…`, or `ssh-ed25519 <key>` without comment). */
  recipients: string[];
  /** Public host name or IP address; required for a gateway. */
  endpoint?: string;
  /** Bring-your-own WireGuard public key: no private key is stored for this machine. */
  publicKey?: string;
  /** The gateway's uplink interface for NAT; when absent, the default route's interface. */
  uplink?: string;
}

/** A hub-and-spoke network: `[proxies.<name>]`; the name is the interface name. */
export interface ProxyConfig {
  name: string;
  gateway: string;
  /** Client machine names, as listed (the planner sorts them). */
  clients: string[];
  /** For clients of several tunnels: this proxy carries their default route. */
  default?: boolean;
}

export interface Config {
  /** Absolute path of the `wgqt.toml` this came from. */
  path: string;
  /** Absolute path of the directory holding `wgqt.toml`. */
  dir: string;
  /** Absolute path of the key store directory. */
  keysDir: string;
  /** `keys_dir` as written (relative to `dir`), for messages and generated files. */
  keysDirSetting: string;
  ipv4Start: string;
  udpStart: number;
  /** Normalised admin recipients: can decrypt every file. */
  admins: string[];
  /** Keyed by machine name. Iterate with `sortedNames()` for deterministic order. */
  machines: Record<string, MachineConfig>;
  proxies: Record<string, ProxyConfig>;
}

/** Byte-order comparison of ASCII names (DESIGN.md: "sorted by byte order"). */
export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The keys of a record in byte order. */
export function sortedNames(record: Record<string, unknown>): string[] {
  return Object.keys(record).sort(byteOrder);
}
