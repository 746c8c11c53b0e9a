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

/** `<machine>.<network>`: a machine's name in one network. */
export function memberName(machine: string, network: string): string {
  return `${machine}.${network}`;
}

/**
 * The names of every member of `networks` (the networks one host is in),
 * the host's own among them.
 *
 * @returns One entry per machine and network, in byte order of the name.
 */
export function networkNames(networks: readonly PlanNetwork[]): HostName[] {
  const names = new Map<string, HostName>();
  for (const network of networks) {
    for (const member of network.members) {
      const name = memberName(member.machine, network.name);
      // A machine is listed once per network; the first entry is the one that counts.
      if (names.has(name)) continue;
      names.set(name, {
        name,
        address: member.address,
        ...(member.address6 === undefined || network.cidr6 === undefined
          ? {}
          : { address6: member.address6 }),
      });
    }
  }
  return [...names.values()].sort((a, b) => byteOrder(a.name, b.name));
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
