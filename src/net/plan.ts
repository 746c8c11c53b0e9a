/**
 * The planner: config + public keys → every network's block, id, port and
 * member addresses. Pure and deterministic, so every host computes the same
 * answer (docs/design.md "Allocation"):
 *
 * - all networks take part, even those a host is not in;
 * - a proxy has 1 + len(clients) machines; networks sort by that count,
 *   descending, then by name in byte order;
 * - walking from `ipv4_start`, each takes nextPow2(machines + 2) addresses
 *   (first and last reserved), id 0, 1, 2, … and port `udp_start + id`;
 * - the gateway is block start + 1, clients in byte order from start + 2.
 *
 * Sizes are powers of two taken largest first, so an aligned start keeps every
 * block aligned to its own size; we check it anyway.
 */
import { interfaceNameProblem, uplinkNameProblem } from "../config/names.js";
import { type Config, meshesOf, sortedNames, type VpnConfig, vpnsOf } from "../config/types.js";
import { ConfigError, quote } from "../errors.js";
import { byteOrder } from "../order.js";
import { checkEndpoint, checkedPublicKey } from "./endpoint.js";
import { addressRoom, formatIpv4, nextPow2, parseIpv4, prefixLength } from "./ipv4.js";
import {
  assignSubnets,
  fleetIpv6Prefix,
  networkBlock,
  sharingInterfaceIds,
  subnetAddresses,
} from "./ipv6.js";
import { checkMesh, checkRouteBlocks, meshNetwork } from "./mesh-plan.js";

export { endpointWithPort } from "./endpoint.js";

/** A machine's role: in a proxy network `gateway` or `client`, in a mesh `member` or `relay`. */
export type Role = "gateway" | "client" | "member" | "relay";

/** A machine in a network, with its address. */
export interface PlanMember {
  machine: string;
  role: Role;
  /** Dotted quad, no prefix length. */
  address: string;
  /** The IPv6 address, no prefix length; absent when the network has `ipv6 = false`. */
  address6?: string;
  /** WireGuard public key (base64) when known: from the store or `public_key`. */
  publicKey?: string;
}

/** A proxy or mesh network as allocated: its id, port, address block and members. */
export interface PlanNetwork {
  name: string;
  kind: "proxy" | "mesh";
  id: number;
  port: number;
  /** The block, e.g. "10.128.0.8/29". */
  cidr: string;
  /** The IPv6 /64, e.g. "fd42:7a3c:91e0:1b2c::/64"; absent with `ipv6 = false`. */
  cidr6?: string;
  /** Block size in addresses (a power of two). */
  size: number;
  prefixLength: number;
  /** A proxy's gateway; absent for a mesh. */
  gateway?: string;
  /** A mesh's relay, when wgqt.toml names one. */
  relay?: string;
  /** A mesh's members without an endpoint, byte order: no two of them peer directly. */
  roaming?: string[];
  /** `default = true` in wgqt.toml: carries its clients' default route (never for a mesh). */
  default?: boolean;
  /** Every member's interface MTU, when wgqt.toml sets one. */
  mtu?: number;
  /**
   * The clients' (a mesh: the members without an endpoint) PersistentKeepalive
   * (0 = off), when wgqt.toml sets one; else 25 (host.ts).
   */
  keepalive?: number;
  /** Gateway first, then clients in byte order (address order); a mesh's members in byte order. */
  members: PlanMember[];
}

/**
 * An external VPN: nothing to allocate — the provider assigned the
 * address — but every host using it needs it: its `[vpns.<name>]` table
 * (VpnConfig) with the machines in byte order, and without the kill switch,
 * which routing reads from the config. Not part of `plan.json`.
 */
export interface PlanVpn extends Omit<VpnConfig, "killswitch"> {
  kind: "vpn";
}

/** The shape `wgqt plan --json` prints and `plan.json` stores. */
export interface PlanJson {
  networks: {
    name: string;
    kind: "proxy" | "mesh";
    id: number;
    port: number;
    cidr: string;
    cidr6?: string;
    /** A proxy's gateway. */
    gateway?: string;
    /** A mesh's relay, when it has one. */
    relay?: string;
    members: { machine: string; role: Role; address: string; address6?: string }[];
  }[];
  /** The fleet's /48 ULA prefix; plan.json keeps it so it never moves. */
  ipv6Prefix?: string;
}

/** The allocation of a whole fleet: every network and VPN. JSON-serialisable. */
export interface Plan {
  /** In allocation order: id 0, 1, 2, … */
  networks: PlanNetwork[];
  /** The fleet's /48 ULA prefix (net/ipv6.ts), canonical. */
  ipv6Prefix: string;
  /** VPNs in id order (kept out of `toJSON`: plan.json is about allocation). */
  vpns: PlanVpn[];
  /** `JSON.stringify(plan)` gives exactly the `wgqt plan --json` shape. */
  toJSON(): PlanJson;
}

const MAX_PORT = 65535;

/** What the planner takes besides the config. */
export interface PlanOptions {
  /** The accepted plan's `ipv6Prefix`: used when wgqt.toml sets no `ipv6_prefix`. */
  acceptedIpv6Prefix?: string;
  /** The accepted plan's `cidr6` by network: each kept while it is a /64 of the fleet prefix. */
  acceptedCidr6?: Readonly<Record<string, string>>;
}

/**
 * Allocate every network of the fleet: ids, ports and addresses, deterministic for a config. Pure.
 *
 * @param publicKeys - WireGuard public keys by machine (`KeyStore.publicKeys()`); a member without one plans fine, but cannot be rendered for its peers.
 * @param options - The accepted IPv6 prefix and /64s, when plan.json has them.
 * @throws {ConfigError} naming the field and value, for a network that cannot be allocated as configured.
 * @throws {KeyError} when a public key is not a WireGuard key.
 */
export function plan(
  config: Config,
  publicKeys: Record<string, string | undefined> = {},
  options: PlanOptions = {},
): Plan {
  const error = (field: string, message: string) =>
    new ConfigError(
      "config/invalid",
      `${config.path ? `${config.path}: ` : ""}${field}: ${message}`,
    );

  const ipv4Start = parseIpv4(config.ipv4Start);
  if (ipv4Start === undefined) {
    throw error("ipv4_start", `not an IPv4 address: ${quote(config.ipv4Start)}`);
  }
  if (!Number.isInteger(config.udpStart) || config.udpStart < 1 || config.udpStart > MAX_PORT) {
    throw error("udp_start", `expected a port 1…${MAX_PORT}, got ${quote(config.udpStart)}`);
  }
  const room = addressRoom(ipv4Start);
  const ipv6Prefix = fleetIpv6Prefix(config, options.acceptedIpv6Prefix, error);

  const proxies = sortedNames(config.proxies).map((name): Allocated => {
    const proxy = config.proxies[name]!;
    checkProxy(config, name, error);
    return {
      name,
      kind: "proxy",
      field: `proxies.${name}`,
      machines: 1 + proxy.clients.length,
      ipv6: proxy.ipv6 !== false,
    };
  });
  const meshes = meshesOf(config).map(
    (mesh): Allocated => ({
      name: mesh.name,
      kind: "mesh",
      field: `meshes.${mesh.name}`,
      machines: checkMesh(config, mesh, error),
      ipv6: mesh.ipv6 !== false,
    }),
  );
  const allocated = [...proxies, ...meshes];
  allocated.sort((a, b) => b.machines - a.machines || byteOrder(a.name, b.name));
  const subnets = assignSubnets(
    ipv6Prefix,
    allocated.flatMap(({ name, ipv6 }) => (ipv6 ? [name] : [])),
    options.acceptedCidr6,
    error,
  );
  // Every member is one of config.machines (checkProxy, checkMesh).
  const sharing =
    subnets.size === 0 ? new Set<string>() : sharingInterfaceIds(Object.keys(config.machines));

  // A machine is a member of many networks; its key is checked once.
  const checkedKeys = new Map<string, string | undefined>();
  const publicKeyOf = (machine: string): string | undefined => {
    if (checkedKeys.has(machine)) return checkedKeys.get(machine);
    const key = checkedPublicKey(
      machine,
      publicKeys[machine] ?? config.machines[machine]?.publicKey,
    );
    checkedKeys.set(machine, key);
    return key;
  };

  let next = ipv4Start;
  const networks = allocated.map(({ name, kind, field, machines }, id): PlanNetwork => {
    const size = nextPow2(machines + 2);
    const start = next;
    if (start % size !== 0) {
      const below = start - (start % size);
      throw error(
        "ipv4_start",
        `${quote(config.ipv4Start)} leaves network ${quote(name)} (${size} addresses) unaligned at ${formatIpv4(start)}; start at a multiple of ${size}, e.g. ${quote(formatIpv4(below))}`,
      );
    }
    if (start + size - 1 > room.last) {
      throw error(
        field,
        `no room for ${size} more addresses after ${formatIpv4(start - 1)}: past the end of ${room.name} (ipv4_start ${quote(config.ipv4Start)})`,
      );
    }
    const port = config.udpStart + id;
    if (port > MAX_PORT) {
      throw error(
        field,
        `port ${port} is above ${MAX_PORT} (udp_start ${config.udpStart} + id ${id})`,
      );
    }
    next = start + size;
    const subnet = subnets.get(name);
    const address6 =
      subnet === undefined ? undefined : subnetAddresses(name, ipv6Prefix, subnet, sharing, error);
    const member = (machine: string, role: Role, offset: number): PlanMember => {
      const publicKey = publicKeyOf(machine);
      return planMember(machine, role, formatIpv4(start + offset), address6?.(machine), publicKey);
    };
    const block = {
      name,
      id,
      port,
      cidr: `${formatIpv4(start)}/${prefixLength(size)}`,
      ...(subnet === undefined ? {} : { cidr6: networkBlock(ipv6Prefix, subnet) }),
      size,
      prefixLength: prefixLength(size),
    };
    if (kind === "mesh") return { ...block, ...meshNetwork(config, config.meshes![name]!, member) };
    const proxy = config.proxies[name]!;
    const clients = [...proxy.clients].sort(byteOrder);
    // A loop, not a spread of clients.map(…): a dense fleet's proxy has hundreds of clients.
    const members = [member(proxy.gateway, "gateway", 1)];
    for (let index = 0; index < clients.length; index++)
      members.push(member(clients[index]!, "client", 2 + index));
    return {
      ...block,
      kind: "proxy",
      gateway: proxy.gateway,
      default: proxy.default === true,
      ...linkSettings(proxy),
      members,
    };
  });

  checkDefaults(networks, error);
  checkRouteBlocks(config, networks, error);
  const vpns = planVpns(config, error);
  const result = { networks, ipv6Prefix, vpns } as Plan;
  Object.defineProperty(result, "toJSON", { value: () => planJson(result), enumerable: false });
  return result;
}

/**
 * The `wgqt plan --json` / `plan.json` form of a plan.
 *
 * @returns The networks' allocation, without keys or VPNs.
 */
export function planJson(planned: Pick<Plan, "networks"> & { ipv6Prefix?: string }): PlanJson {
  return {
    networks: planned.networks.map((network) => ({
      name: network.name,
      kind: network.kind,
      id: network.id,
      port: network.port,
      cidr: network.cidr,
      ...(network.cidr6 === undefined ? {} : { cidr6: network.cidr6 }),
      ...(network.gateway === undefined ? {} : { gateway: network.gateway }),
      ...(network.relay === undefined ? {} : { relay: network.relay }),
      // One literal per shape, not a spread: a member per client per network.
      members: network.members.map(({ machine, role, address, address6 }) =>
        address6 === undefined ? { machine, role, address } : { machine, role, address, address6 },
      ),
    })),
    ...(planned.ipv6Prefix === undefined ? {} : { ipv6Prefix: planned.ipv6Prefix }),
  };
}

/**
 * A member as one object literal of its own shape, not one spread or grown
 * field by field: a dense fleet has a member per client per network.
 */
function planMember(
  machine: string,
  role: Role,
  address: string,
  address6: string | undefined,
  publicKey: string | undefined,
): PlanMember {
  if (address6 === undefined)
    return publicKey === undefined
      ? { machine, role, address }
      : { machine, role, address, publicKey };
  return publicKey === undefined
    ? { machine, role, address, address6 }
    : { machine, role, address, address6, publicKey };
}

/** A network in the allocation walk, before it has a block. */
interface Allocated {
  name: string;
  kind: "proxy" | "mesh";
  /** Its table in wgqt.toml, for errors. */
  field: string;
  /** How many machines it has: what it is sorted by. */
  machines: number;
  /** It has an IPv6 /64 (no `ipv6 = false`). */
  ipv6: boolean;
}

type ErrorFactory = (field: string, message: string) => ConfigError;

/** A tunnel's MTU and keepalive as the plan carries them: only those wgqt.toml sets. */
function linkSettings(tunnel: { mtu?: number; keepalive?: number }): {
  mtu?: number;
  keepalive?: number;
} {
  return {
    ...(tunnel.mtu === undefined ? {} : { mtu: tunnel.mtu }),
    ...(tunnel.keepalive === undefined ? {} : { keepalive: tunnel.keepalive }),
  };
}

/** The config's VPNs in id order; ids must be 1…99 and unique (parseConfig checks it too). */
function planVpns(config: Config, error: ErrorFactory): PlanVpn[] {
  const byId = new Map<number, string>();
  const vpns = vpnsOf(config).map((vpn): PlanVpn => {
    if (!Number.isInteger(vpn.id) || vpn.id < 1 || vpn.id > 99)
      throw error(`vpns.${vpn.name}.id`, `expected 1…99, got ${quote(vpn.id)}`);
    const other = byId.get(vpn.id);
    if (other !== undefined)
      throw error(`vpns.${vpn.name}.id`, `${vpn.id} is already the id of vpns.${other}`);
    byId.set(vpn.id, vpn.name);
    for (const machine of vpn.machines) {
      if (config.machines[machine] === undefined)
        throw error(`vpns.${vpn.name}.machines`, `unknown machine ${quote(machine)}`);
    }
    return {
      name: vpn.name,
      kind: "vpn",
      id: vpn.id,
      machines: [...vpn.machines].sort(byteOrder),
      endpoint: vpn.endpoint,
      publicKey: vpn.publicKey,
      address: vpn.address,
      ...(vpn.address6 === undefined ? {} : { address6: vpn.address6 }),
      dns: [...vpn.dns],
      allowedIPs: [...vpn.allowedIPs],
      presharedKey: vpn.presharedKey,
      ...linkSettings(vpn),
    };
  });
  return vpns.sort((a, b) => a.id - b.id);
}

function checkProxy(config: Config, name: string, error: ErrorFactory): void {
  const proxy = config.proxies[name]!;
  const field = `proxies.${name}`;
  const nameProblem = interfaceNameProblem(name);
  if (nameProblem !== undefined) throw error(field, nameProblem);
  const gateway = config.machines[proxy.gateway];
  if (gateway === undefined) {
    throw error(`${field}.gateway`, `unknown machine ${quote(proxy.gateway)}`);
  }
  if (gateway.endpoint === undefined || gateway.endpoint === "") {
    throw error(
      `${field}.gateway`,
      `machine ${quote(proxy.gateway)} has no endpoint; a gateway needs machines.${proxy.gateway}.endpoint`,
    );
  }
  checkEndpoint(`machines.${proxy.gateway}.endpoint`, gateway.endpoint, error);
  // The uplink goes into iptables lines of the gateway's PostUp: an interface name, nothing else.
  const uplinkProblem =
    gateway.uplink === undefined ? undefined : uplinkNameProblem(gateway.uplink);
  if (uplinkProblem !== undefined) throw error(`machines.${proxy.gateway}.uplink`, uplinkProblem);
  const seen = new Set<string>();
  for (const client of proxy.clients) {
    if (config.machines[client] === undefined) {
      throw error(`${field}.clients`, `unknown machine ${quote(client)}`);
    }
    if (client === proxy.gateway) {
      throw error(`${field}.clients`, `${quote(client)} is the gateway and cannot be a client`);
    }
    if (seen.has(client)) throw error(`${field}.clients`, `${quote(client)} is listed twice`);
    seen.add(client);
  }
}

/** A client of several proxies may have at most one with `default = true`. */
function checkDefaults(networks: PlanNetwork[], error: ErrorFactory): void {
  const defaults = new Map<string, string>();
  for (const network of networks) {
    if (!network.default) continue;
    for (const member of network.members) {
      if (member.role !== "client") continue;
      const other = defaults.get(member.machine);
      if (other !== undefined) {
        const [first, second] = [other, network.name].sort(byteOrder);
        throw error(
          `proxies.${second}.default`,
          `client ${quote(member.machine)} already has its default route through proxies.${first}; only one of its proxies may set default = true`,
        );
      }
      defaults.set(member.machine, network.name);
    }
  }
}
