/**
 * The validated, normalised form of `wgqt.toml`. Everything downstream (the
 * store, the planner, the renderers) works on this, never on raw TOML.
 */
import { byteOrder } from "../order.js";

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
  /** Subnets behind this machine (a LAN), canonical CIDRs, reachable through its one mesh. */
  routes?: string[];
  /** `masquerade_routes = true`: what the mesh sends into `routes` leaves with this machine's address. */
  masqueradeRoutes?: boolean;
}

/** A hub-and-spoke network: `[proxies.<name>]`; the name is the interface name. */
export interface ProxyConfig {
  name: string;
  gateway: string;
  /** Client machine names, as listed (the planner sorts them). */
  clients: string[];
  /** For clients of several tunnels: this proxy carries their default route. */
  default?: boolean;
  /** Keep blocking when a client takes the tunnel down on purpose; absent means off. */
  killswitch?: boolean;
  /**
   * Every member's interface MTU. Absent: wg-quick(8) picks the uplink's MTU − 80,
   * networkd and NixOS keep the kernel's 1420.
   */
  mtu?: number;
  /** The clients' PersistentKeepalive to the gateway in seconds, 0 = off; absent: 25. */
  keepalive?: number;
  /** `ipv6 = false`: the network has IPv4 only (absent: both families). */
  ipv6?: boolean;
}

/**
 * A full mesh: `[meshes.<name>]`; the name is the interface name. Every
 * member peers with every other it can reach; none takes a default route.
 */
export interface MeshConfig {
  name: string;
  /** Member machine names, as listed (the planner sorts them). */
  members: string[];
  /** A member with an endpoint that forwards between members that both lack one. */
  relay?: string;
  /** Every member's interface MTU; absent: as for a proxy. */
  mtu?: number;
  /** PersistentKeepalive from members without an endpoint, in seconds, 0 = off; absent: 25. */
  keepalive?: number;
  /** `ipv6 = false`: the network has IPv4 only (absent: both families). */
  ipv6?: boolean;
}

/**
 * An external WireGuard VPN (a provider's server): `[vpns.<name>]`; the name
 * is the interface name. Its private key is the provider's, imported into the
 * store (`vpns/<name>.age`) by `wgqt vpn import`, never made by wgqt.
 */
export interface VpnConfig {
  name: string;
  /**
   * Machines that use it; they share the one provider key (docs/networks.md:
   * one provider key per machine).
   */
  machines: string[];
  /** 1…99, unique across VPNs: the routing key (table, fwmark, rule priorities); lowest = default. */
  id: number;
  /** The provider's server, `host:port` (an IPv6 host in brackets). */
  endpoint: string;
  /** The server's public key. */
  publicKey: string;
  /** This end's address with its prefix length, e.g. "10.64.1.2/32". */
  address: string;
  /** This end's IPv6 address with its prefix length, e.g. "fc00:bbbb::1:2/128", when the provider gave one. */
  address6?: string;
  /** The provider's DNS servers (IPv4 or IPv6), used while this VPN carries the default route. */
  dns: string[];
  /** What the tunnel carries; ["0.0.0.0/0"] by default (a default-route tunnel). */
  allowedIPs: string[];
  /** The provider gave a preshared key: it is in the store as `vpns/<name>.psk.age`. */
  presharedKey: boolean;
  /** Keep blocking when the tunnel is taken down on purpose; absent means on. */
  killswitch?: boolean;
  /** The interface MTU, when the provider's file set one (absent: as for a proxy). */
  mtu?: number;
  /** PersistentKeepalive to the server in seconds, 0 or absent = off (wg(8)'s default). */
  keepalive?: number;
}

/** A validated `wgqt.toml`, with absolute paths resolved. Never changed after parsing. */
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
  /** `ipv6_prefix` as written: the fleet's /48 ULA prefix; absent, plan.json's or a derived one (net/ipv6.ts). */
  ipv6Prefix?: string;
  udpStart: number;
  /** Normalised admin recipients: can decrypt every file. */
  admins: string[];
  /** Keyed by machine name. Iterate with `sortedNames()` for deterministic order. */
  machines: Record<string, MachineConfig>;
  proxies: Record<string, ProxyConfig>;
  /**
   * Keyed by VPN name. Optional so configs built by hand (before VPNs
   * existed) stay valid; `parseConfig` always sets it. Read it with `vpnsOf`.
   */
  vpns?: Record<string, VpnConfig>;
  /**
   * Keyed by mesh name. Optional like `vpns`, so configs built by hand stay
   * valid; `parseConfig` always sets it. Read it with `meshesOf`.
   */
  meshes?: Record<string, MeshConfig>;
}

/**
 * The config's meshes in byte order of name.
 *
 * @returns Empty when the config has no mesh.
 */
export function meshesOf(config: Config): MeshConfig[] {
  const meshes = config.meshes ?? {};
  return sortedNames(meshes).map((name) => meshes[name]!);
}

/**
 * The config's VPNs in byte order of name.
 *
 * @returns Empty when the config has no VPN.
 */
export function vpnsOf(config: Config): VpnConfig[] {
  const vpns = config.vpns ?? {};
  return sortedNames(vpns).map((name) => vpns[name]!);
}

/** The keys of a record in byte order. */
export function sortedNames(record: Record<string, unknown>): string[] {
  return Object.keys(record).sort(byteOrder);
}
