/**
 * Names: every member of a network reaches every other as
 * `<machine>.<network>` (a machine in several networks has one name in each).
 * A host knows the names of every member of every proxy and mesh it is in,
 * its own included: a proxy's gateway and clients alike, a mesh's members.
 * VPNs get none: the provider's server is no machine of the fleet, and the
 * host's address in it is the provider's to give.
 *
 * Machine names are host name labels and network names interface names
 * (letters, digits, '-' and '_'), so `<machine>.<network>` is a name
 * /etc/hosts and NixOS's `networking.hosts` take as it is. Pure.
 *
 * Every member of a network knows the same names of it, so they are made
 * once per network and shared by its members' views: in a dense fleet (a
 * thousand machines, each in a hundred proxies of nine hundred members) a
 * host knows ninety thousand names, and making them host by host would be
 * ninety million.
 */
import { byteOrder } from "../order.js";
import type { PlanNetwork } from "./plan.js";

/** One name a host can reach: `<machine>.<network>` and the machine's addresses in that network. */
export interface HostName {
  /** `<machine>.<network>`. */
  name: string;
  /** The IPv4 address, no prefix. */
  address: string;
  /** The IPv6 address, no prefix; absent for a network with `ipv6 = false`. */
  address6?: string;
}

/** The names of one proxy's or mesh's members, which each of them knows. */
export interface NetworkNames {
  /** The network: every name ends in `.<network>`. */
  network: string;
  /** Its members, byte order: the machines that know these names. */
  machines: string[];
  /** One per member, in byte order of the name. */
  names: HostName[];
}

/** `<machine>.<network>`: a machine's name in one network. */
export function memberName(machine: string, network: string): string {
  return `${machine}.${network}`;
}

/** A plan is never changed after it is made: each network's names are made once. */
const namesOfNetworks = new WeakMap<PlanNetwork, NetworkNames>();

/** The names of `network`'s members, made once per network. */
export function namesOf(network: PlanNetwork): NetworkNames {
  let known = namesOfNetworks.get(network);
  if (known !== undefined) return known;
  const names = new Map<string, HostName>();
  const machines = new Set<string>();
  for (const member of network.members) {
    const name = memberName(member.machine, network.name);
    // A machine is listed once per network; the first entry is the one that counts.
    if (names.has(name)) continue;
    machines.add(member.machine);
    names.set(name, {
      name,
      address: member.address,
      ...(member.address6 === undefined || network.cidr6 === undefined
        ? {}
        : { address6: member.address6 }),
    });
  }
  known = {
    network: network.name,
    machines: [...machines].sort(byteOrder),
    names: [...names.values()].sort((a, b) => byteOrder(a.name, b.name)),
  };
  namesOfNetworks.set(network, known);
  return known;
}

/**
 * The names of every member of `networks` (the networks one host is in),
 * the host's own among them.
 *
 * @returns One entry per network, in byte order of the network's name (each
 *   shared with the network's other members: not to be changed).
 */
export function networkNames(networks: readonly PlanNetwork[]): NetworkNames[] {
  const byNetwork = new Map<string, NetworkNames>();
  // A network is listed once; the first entry is the one that counts.
  for (const network of networks)
    if (!byNetwork.has(network.name)) byNetwork.set(network.name, namesOf(network));
  return [...byNetwork.values()].sort((a, b) => byteOrder(a.network, b.network));
}

/**
 * The names as `/etc/hosts` lines: `<address> <name>`, each name's IPv4
 * address first, then its IPv6 address.
 */
export function hostsLines(names: readonly HostName[]): string[] {
  return names.flatMap((entry) => [
    `${entry.address} ${entry.name}`,
    ...(entry.address6 === undefined ? [] : [`${entry.address6} ${entry.name}`]),
  ]);
}
