/**
 * One machine's view of the plan: its interfaces, peers, key files and
 * routing — everything a renderer needs and nothing it must compute again.
 * Pure. Peers follow docs/design.md "Peers and proxies": a gateway lists
 * each client with its /32; a client lists the gateway with
 * `<endpoint>:<port>`, AllowedIPs
 * 0.0.0.0/0 and PersistentKeepalive 25 (wg(8): keeps NAT mappings open), or
 * the proxy's `keepalive` (0: none).
 * A VPN is one more client interface: the provider's server as its
 * one peer, the provider's key files (`vpns/<name>.age`), no listen port (the
 * provider never connects first), its DNS servers, and the keepalive its file
 * set. An `mtu` of the proxy or VPN goes on the interface.
 */

import type { Config } from "../config/types.js";
import { carriesDefaultRoute } from "../config/vpn.js";
import { ConfigError, quote, StoreError, UsageError } from "../errors.js";
import { byteOrder } from "../order.js";
import {
  presharedKeyFile,
  privateKeyFile,
  vpnKeyFile,
  vpnPresharedKeyFile,
} from "../store/layout.js";
import { checkBridge } from "./bridge-check.js";
import { formatIpv4, parseIpv4 } from "./ipv4.js";
import { NETWORK_PREFIX_LENGTH } from "./ipv6.js";
import { meshPeers } from "./mesh.js";
import { type NetworkNames, networkNames } from "./names.js";
import {
  endpointWithPort,
  type Plan,
  type PlanMember,
  type PlanNetwork,
  type PlanVpn,
  type Role,
} from "./plan.js";
import { hostRouting, type InterfaceRouting, routingKey } from "./routing.js";

/** A proxy client's keepalive to its gateway when the proxy sets none. */
export const PERSISTENT_KEEPALIVE = 25;

/** One peer of a host's interface, as its `[Peer]` section says. */
export interface HostPeer {
  /** The peer machine; for a VPN, the VPN's name (the provider's server). */
  machine: string;
  publicKey: string;
  /** The pair's PSK, relative to the key store; absent for a VPN without one. */
  presharedKeyFile?: string;
  allowedIPs: string[];
  endpoint?: string;
  persistentKeepalive?: number;
}

/** One WireGuard interface of a host: a proxy or mesh it is a member of, or a VPN it uses. */
export interface HostInterface {
  /** The interface name: the network's name. */
  name: string;
  kind: "proxy" | "vpn" | "mesh";
  id: number;
  role: Role;
  /** This host's address, no prefix. */
  address: string;
  /** Address with the block's prefix length, e.g. "10.128.0.11/29". */
  addressWithPrefix: string;
  /** This host's IPv6 address, no prefix; absent for a network with `ipv6 = false`, or a VPN without one. */
  address6?: string;
  /** The IPv6 address with its prefix length, e.g. "fd42:7a3c:91e0:12a9:d2f4:5948:bf78:4098/64". */
  address6WithPrefix?: string;
  /** The network's IPv6 block, e.g. "fd42:7a3c:91e0:12a9::/64". */
  cidr6?: string;
  /** The whole block, e.g. "10.128.0.8/29" (a VPN: the address's own network). */
  cidr: string;
  /** Absent for a VPN: the provider never connects first, so any port does. */
  listenPort?: number;
  /** The interface MTU; absent: the system's default. */
  mtu?: number;
  /** A VPN's own private key, relative to the key store; else the host's (`HostView.privateKeyFile`). */
  privateKeyFile?: string;
  /** A VPN's DNS servers: the host's resolvers while it carries the default route, else for its bridge. */
  dns?: string[];
  /** Gateways: NAT out of this uplink; undefined means the default route's interface. */
  uplink?: string;
  /** A mesh member with an endpoint: the others connect to it on `listenPort`. */
  reachable?: true;
  /** A mesh's relay: forwards between members without an endpoint (IP forwarding, no NAT). */
  forwards?: true;
  /** A mesh member's routed subnets (`routes`): it forwards between the mesh and them. */
  routes?: string[];
  /** Masquerade what the mesh sends into `routes` (`masquerade_routes`). */
  masqueradeRoutes?: true;
  peers: HostPeer[];
  /** Policy routing, when the host has a default-route tunnel (see routing.ts). */
  routing?: InterfaceRouting;
}

/**
 * Everything one host needs from the plan: its interfaces and their peers. The JSON renderer prints it.
 */
export interface HostView {
  machine: string;
  /** The private key relative to the key store; undefined for a bring-your-own key. */
  privateKeyFile?: string;
  /** In routing key order: VPNs by id, then proxies by network id. */
  interfaces: HostInterface[];
  /**
   * `<machine>.<network>` of every member of the host's proxies and meshes
   * (names.ts), network by network in byte order of the network's name;
   * absent when none. Each network's entry is shared by all its members' views.
   */
  names?: NetworkNames[];
}

/**
 * The store files (relative to the key store) a host needs decrypted: its
 * private key (unless brought by the user) and the PSK of each peer pair.
 * What `render --format wg-quick` must decrypt for `export`.
 *
 * @returns Store-relative paths, in byte order.
 */
export function hostSecretFiles(view: HostView): string[] {
  const files = new Set(
    view.interfaces.flatMap((entry) => [
      ...(entry.privateKeyFile === undefined ? [] : [entry.privateKeyFile]),
      ...entry.peers.flatMap((peer) =>
        peer.presharedKeyFile === undefined ? [] : [peer.presharedKeyFile],
      ),
    ]),
  );
  if (view.privateKeyFile !== undefined && view.interfaces.some((entry) => !entry.privateKeyFile))
    files.add(view.privateKeyFile);
  return [...files].sort(byteOrder);
}

/**
 * Machines that are in at least one network or use a VPN, byte order.
 *
 * @returns The machines that get a configuration from `render`.
 */
export function plannedHosts(plan: Plan): string[] {
  const hosts = new Set([
    ...plan.networks.flatMap((network) => network.members.map((m) => m.machine)),
    ...(plan.vpns ?? []).flatMap((vpn) => vpn.machines),
  ]);
  return [...hosts].sort(byteOrder);
}

/** A host's part in one network: the network and the host's own member entry. */
interface Membership {
  network: PlanNetwork;
  self: PlanMember;
}

/** Which networks and VPNs each machine is in, indexed once per plan. */
interface PlanIndex {
  /** Per machine, its networks in plan order. */
  networks: Map<string, Membership[]>;
  /** Per machine, its VPNs in plan order. */
  vpns: Map<string, PlanVpn[]>;
}

/**
 * Rendering a fleet asks for every host's view of one plan. Finding a host's
 * networks by scanning every member of every network would make that
 * quadratic in the fleet; a plan is never changed after it is made, so each
 * plan is indexed once.
 */
const planIndexes = new WeakMap<Plan, PlanIndex>();

function planIndex(plan: Plan): PlanIndex {
  let index = planIndexes.get(plan);
  if (index !== undefined) return index;
  index = { networks: new Map(), vpns: new Map() };
  for (const network of plan.networks) {
    for (const member of network.members) {
      const memberships = index.networks.get(member.machine) ?? [];
      // A machine is listed once per network; the first entry is the one that counts.
      if (memberships.at(-1)?.network === network) continue;
      memberships.push({ network, self: member });
      index.networks.set(member.machine, memberships);
    }
  }
  for (const vpn of plan.vpns ?? []) {
    for (const machine of new Set(vpn.machines)) {
      index.vpns.set(machine, [...(index.vpns.get(machine) ?? []), vpn]);
    }
  }
  planIndexes.set(plan, index);
  return index;
}

/**
 * The view of `host`: its interfaces in routing key order, each with its peers and routing.
 *
 * @throws {UsageError} when `host` is not a machine of `config`.
 * @throws {ConfigError} when the host's interfaces clash (a VPN and a proxy of one name, two default tunnels).
 * @throws {WgqtError} when a peer's public key is missing (run keygen first).
 */
export function hostView(plan: Plan, config: Config, host: string): HostView {
  const machine = config.machines[host];
  if (machine === undefined)
    throw new UsageError("usage/unknown-name", `machine ${quote(host)} is not in wgqt.toml`);
  const index = planIndex(plan);
  const memberships = index.networks.get(host) ?? [];
  const interfaces = [
    ...(index.vpns.get(host) ?? []).map((vpn) => vpnInterface(vpn)),
    ...memberships.map(({ network, self }) => hostInterface(network, self, config, host)),
  ];
  const preferred = new Set(
    memberships.filter(({ network }) => network.default).map(({ network }) => network.name),
  );
  const seen = new Set<string>();
  for (const entry of interfaces) {
    if (seen.has(entry.name)) {
      throw new ConfigError(
        "config/conflict",
        `${quote(host)} has two interfaces named ${quote(entry.name)} (a VPN and a proxy); rename one`,
      );
    }
    seen.add(entry.name);
  }
  const routing = hostRouting(
    interfaces.map((entry) => ({
      name: entry.name,
      kind: entry.kind,
      id: entry.id,
      address: entry.address,
      ...(entry.address6 === undefined ? {} : { address6: entry.address6 }),
      carriesDefaultRoute:
        entry.kind === "vpn"
          ? carriesDefaultRoute({ allowedIPs: entry.peers[0]!.allowedIPs })
          : entry.role === "client",
      preferred: preferred.has(entry.name),
      // A bridge is dual-stack unless its tunnel is a proxy with ipv6 = false.
      ...(entry.kind === "vpn" || entry.address6 !== undefined
        ? { ipv6Prefix: plan.ipv6Prefix }
        : {}),
      killswitch: killswitchOf(config, entry),
    })),
  );
  // Interface names are unique (checked above), and so are the routing entries'.
  const routingByName = new Map(routing.map((routed) => [routed.name, routed]));
  const vpns = interfaces.filter((entry) => entry.kind === "vpn");
  for (const entry of interfaces) {
    const found = routingByName.get(entry.name);
    if (found !== undefined) entry.routing = found;
    if (found?.bridge !== undefined) checkBridge(plan, host, vpns, found.bridge);
  }
  interfaces.sort((a, b) => routingKey(a.kind, a.id) - routingKey(b.kind, b.id));
  const names = networkNames(memberships.map(({ network }) => network));
  return {
    machine: host,
    ...(machine.publicKey === undefined ? { privateKeyFile: privateKeyFile(host) } : {}),
    interfaces,
    ...(names.length === 0 ? {} : { names }),
  };
}

/**
 * `killswitch` of the tunnel's table in wgqt.toml; absent, on for a VPN (a
 * commercial VPN is there to keep traffic off the plain uplink) and off for
 * a proxy.
 */
function killswitchOf(config: Config, entry: HostInterface): boolean {
  return entry.kind === "vpn"
    ? (config.vpns?.[entry.name]?.killswitch ?? true)
    : (config.proxies[entry.name]?.killswitch ?? false);
}

/** A VPN client interface: the provider's server as the one peer. */
function vpnInterface(vpn: PlanVpn): HostInterface {
  const [address, prefix] = vpn.address.split("/");
  const size = 2 ** (32 - Number(prefix));
  const start = parseIpv4(address!)!;
  const peer: HostPeer = {
    machine: vpn.name,
    publicKey: vpn.publicKey,
    allowedIPs: [...vpn.allowedIPs],
    endpoint: vpn.endpoint,
  };
  if (vpn.presharedKey) peer.presharedKeyFile = vpnPresharedKeyFile(vpn.name);
  if (vpn.keepalive) peer.persistentKeepalive = vpn.keepalive;
  return {
    name: vpn.name,
    kind: "vpn",
    id: vpn.id,
    role: "client",
    address: address!,
    addressWithPrefix: vpn.address,
    ...(vpn.address6 === undefined
      ? {}
      : { address6: vpn.address6.split("/")[0]!, address6WithPrefix: vpn.address6 }),
    cidr: `${formatIpv4(start - (start % size))}/${prefix}`,
    ...(vpn.mtu === undefined ? {} : { mtu: vpn.mtu }),
    privateKeyFile: vpnKeyFile(vpn.name),
    dns: [...vpn.dns],
    peers: [peer],
  };
}

function hostInterface(
  network: PlanNetwork,
  self: PlanMember,
  config: Config,
  host: string,
): HostInterface {
  const publicKey = (member: PlanMember | undefined, machine: string): string => {
    if (member?.publicKey === undefined) {
      throw new StoreError(
        "store/missing-key",
        `machine ${quote(machine)} has no public key (needed by ${quote(host)} on ${quote(network.name)}); run wgqt keygen --machine ${machine}`,
      );
    }
    return member.publicKey;
  };
  const keepalive = network.keepalive ?? PERSISTENT_KEEPALIVE;
  const mesh =
    network.kind === "mesh"
      ? meshPeers(network, config, host, (member) => publicKey(member, member.machine))
      : undefined;
  const peers: HostPeer[] = mesh
    ? mesh.peers
    : self.role === "gateway"
      ? network.members
          .filter((member) => member.role === "client")
          .map((client) => ({
            machine: client.machine,
            publicKey: publicKey(client, client.machine),
            presharedKeyFile: presharedKeyFile(host, client.machine),
            allowedIPs: [
              `${client.address}/32`,
              ...(client.address6 === undefined ? [] : [`${client.address6}/128`]),
            ],
          }))
      : [
          {
            machine: network.gateway!,
            publicKey: publicKey(
              network.members.find((member) => member.machine === network.gateway),
              network.gateway!,
            ),
            presharedKeyFile: presharedKeyFile(host, network.gateway!),
            allowedIPs: network.cidr6 === undefined ? ["0.0.0.0/0"] : ["0.0.0.0/0", "::/0"],
            endpoint: endpointWithPort(config.machines[network.gateway!]!.endpoint!, network.port),
            ...(keepalive === 0 ? {} : { persistentKeepalive: keepalive }),
          },
        ];
  const uplink = config.machines[host]?.uplink;
  return {
    name: network.name,
    kind: network.kind,
    id: network.id,
    role: self.role,
    address: self.address,
    addressWithPrefix: `${self.address}/${network.prefixLength}`,
    cidr: network.cidr,
    ...(self.address6 === undefined || network.cidr6 === undefined
      ? {}
      : {
          address6: self.address6,
          address6WithPrefix: `${self.address6}/${NETWORK_PREFIX_LENGTH}`,
          cidr6: network.cidr6,
        }),
    listenPort: network.port,
    ...(network.mtu === undefined ? {} : { mtu: network.mtu }),
    ...(self.role === "gateway" && uplink !== undefined ? { uplink } : {}),
    ...(mesh && config.machines[host]?.endpoint ? { reachable: true as const } : {}),
    ...(mesh?.forwards ? { forwards: true as const } : {}),
    ...(mesh?.routes.length ? { routes: mesh.routes } : {}),
    ...(mesh?.masquerade ? { masqueradeRoutes: true as const } : {}),
    peers,
  };
}
