/**
 * A host's bridges (bridge.ts) against the fleet: neither subnet may overlap
 * a network of the plan or one of the host's VPN addresses.
 */
import ipaddr from "ipaddr.js";
import { ConfigError, quote } from "../errors.js";
import type { Bridge } from "./bridge.js";
import { parseIpv4 } from "./ipv4.js";
import type { Plan, PlanNetwork } from "./plan.js";

/** First and last address of a CIDR block. */
function cidrRange(cidr: string): [number, number] {
  const [address, prefix] = cidr.split("/");
  const size = 2 ** (32 - Number(prefix));
  const start = parseIpv4(address!)! - (parseIpv4(address!)! % size);
  return [start, start + size - 1];
}

/** A bridge subnet's range, and the first network of the plan (in plan order) it overlaps. */
interface BridgeSubnet {
  first: number;
  last: number;
  overlaps?: PlanNetwork;
}

/**
 * Bridge subnets derive from routing keys, so a fleet has few distinct ones
 * however many hosts carry them: each is checked against the plan's networks
 * once, not once per host.
 */
const bridgeSubnets = new WeakMap<Plan, Map<string, BridgeSubnet>>();

function bridgeSubnet(plan: Plan, bridge: string): BridgeSubnet {
  let subnets = bridgeSubnets.get(plan);
  if (subnets === undefined) {
    subnets = new Map();
    bridgeSubnets.set(plan, subnets);
  }
  let subnet = subnets.get(bridge);
  if (subnet === undefined) {
    const [first, last] = cidrRange(bridge);
    const overlaps = plan.networks.find((network) => {
      const [start, end] = cidrRange(network.cidr);
      return start <= last && end >= first;
    });
    subnet = { first, last, ...(overlaps === undefined ? {} : { overlaps }) };
    subnets.set(bridge, subnet);
  }
  return subnet;
}

/** Like bridgeSubnets for the bridges' /64s: the network each overlaps, found once per plan. */
const bridgeSubnets6 = new WeakMap<Plan, Map<string, readonly [string, string] | undefined>>();

function networkOverlap6(plan: Plan, cidr6: string): readonly [string, string] | undefined {
  let subnets = bridgeSubnets6.get(plan);
  if (subnets === undefined) {
    subnets = new Map();
    bridgeSubnets6.set(plan, subnets);
  }
  if (!subnets.has(cidr6)) {
    const networks = plan.networks.flatMap((network) =>
      network.cidr6 === undefined ? [] : [[`network ${network.name}`, network.cidr6] as const],
    );
    subnets.set(cidr6, bridgeOverlap6(cidr6, networks));
  }
  return subnets.get(cidr6);
}

/** A bridge's subnets must not overlap any network of the fleet nor the host's VPN addresses. */
export function checkBridge(
  plan: Plan,
  host: string,
  vpns: readonly { name: string; cidr: string; address6?: string }[],
  entry: Bridge,
): void {
  const bridge = entry.cidr;
  const overlap = (what: string, cidr: string) =>
    new ConfigError(
      "config/conflict",
      `${quote(host)}: bridge subnet ${bridge} overlaps ${what} (${cidr}); bridges use 10.20.0.0/14, so move ipv4_start or the VPN elsewhere`,
    );
  if (entry.cidr6 !== undefined) {
    const found =
      networkOverlap6(plan, entry.cidr6) ??
      bridgeOverlap6(
        entry.cidr6,
        vpns.flatMap((v) => (v.address6 ? [[`VPN ${v.name}`, v.address6] as const] : [])),
      );
    if (found !== undefined)
      throw new ConfigError(
        "config/conflict",
        `${quote(host)}: bridge subnet ${entry.cidr6} overlaps ${found[0]} (${found[1]}); bridges use subnet ids b001…b999 of ipv6_prefix, so rename the network, set ipv6 = false on it, or move the VPN`,
      );
  }
  const { first, last, overlaps } = bridgeSubnet(plan, bridge);
  if (overlaps !== undefined) throw overlap(`network ${overlaps.name}`, overlaps.cidr);
  for (const vpn of vpns) {
    const [start, end] = cidrRange(vpn.cidr);
    if (start <= last && end >= first) throw overlap(`VPN ${vpn.name}`, vpn.cidr);
  }
}

/**
 * The first of `blocks` (IPv6 CIDRs or addresses, each with what it is)
 * that overlaps the bridge /64 `cidr6`: a network whose /64 has the bridge's
 * subnet id, or a VPN address inside it.
 */
export function bridgeOverlap6(
  cidr6: string,
  blocks: readonly (readonly [what: string, cidr: string])[],
): readonly [what: string, cidr: string] | undefined {
  // Most hosts have no VPN address to hold against their bridges: nothing to parse.
  if (blocks.length === 0) return undefined;
  const [bridge, length] = ipaddr.IPv6.parseCIDR(cidr6);
  return blocks.find(([, cidr]) => {
    const [address, prefix] = cidr.includes("/")
      ? ipaddr.IPv6.parseCIDR(cidr)
      : [ipaddr.IPv6.parse(cidr), 128];
    // Two blocks overlap when the shorter one holds the other's first address.
    return prefix <= length ? bridge.match(address, prefix) : address.match(bridge, length);
  });
}
