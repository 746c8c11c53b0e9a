/**
 * The bridge of a default-route tunnel that is not the host's default
 * (routing.ts): its name, fit to IFNAMSIZ, and its subnets: 10.20.<key>.0/24
 * and, unless the tunnel is a proxy with `ipv6 = false`, the /64 of the fleet
 * prefix whose subnet id is `b` followed by the key's three decimal digits
 * (`fd42:7a3c:91e0:b100::/64` for key 100), beside the networks' /64s
 * (ipv6.ts), which the planner derives from their names.
 */
import { hash } from "node:crypto";
import { formatIpv4 } from "./ipv4.js";
import { BRIDGE_SUBNET6_BASE, NETWORK_PREFIX_LENGTH, networkBlock } from "./ipv6.js";

/** A bridge whose traffic is routed into one non-default tunnel (see routing.ts). */
export interface Bridge {
  /** Interface name: `br-<tunnel>`, or shortened with a hash to fit 15 characters. */
  name: string;
  /** The host's address on it, the gateway of what is attached: 10.20.<key>.1. */
  address: string;
  prefixLength: number;
  /** The bridge subnet, 10.20.<key>.0/24: what the policy rule and the SNAT match. */
  cidr: string;
  /** SNAT target: the tunnel's own address on this host. */
  snatTo: string;
  /** The host's IPv6 address on it, `<fleet prefix>:b<key>::1`; absent for a proxy with `ipv6 = false`. */
  address6?: string;
  /** The prefix length of `cidr6`: 64. */
  prefixLength6?: number;
  /** The bridge's IPv6 /64: what the IPv6 policy rule and NAT66 match. */
  cidr6?: string;
  /**
   * NAT66 target: the tunnel's own IPv6 address. Absent when the tunnel has
   * none (a provider without IPv6): what is attached then has its IPv6
   * dropped by the tunnel's table, and the host does not forward it.
   */
  snatTo6?: string;
}

/** Bridge subnets start here: 10.20.0.0 (a tunnel's bridge is 10.20.<key>.1/24). */
export const BRIDGE_BASE = 0x0a140000;
export const BRIDGE_PREFIX_LENGTH = 24;

/** `br-<tunnel>`, or `br-<first 7>-<4 hex of SHA-256(tunnel)>` when that would pass 15 characters. */
export function bridgeName(tunnel: string): string {
  const plain = `br-${tunnel}`;
  if (Buffer.byteLength(plain) <= 15) return plain;
  return `br-${tunnel.slice(0, 7)}-${hash("sha256", tunnel).slice(0, 4)}`;
}

/**
 * The IPv6 subnet id of the bridge of routing key `key` (1…999): `b` and
 * the key's three decimal digits, so `b100` is the bridge of key 100.
 */
export function bridgeSubnetId(key: number): number {
  return BRIDGE_SUBNET6_BASE + Number.parseInt(String(key).padStart(3, "0"), 16);
}

/** What the IPv6 half of a bridge needs: the fleet prefix and the tunnel's IPv6 address, if any. */
export interface BridgeIpv6 {
  /** The fleet's /48 (plan.ts `ipv6Prefix`). */
  prefix: string;
  /** The tunnel's IPv6 address on this host, no prefix: the NAT66 target. */
  tunnelAddress6?: string;
}

/** The bridge of the tunnel with routing key `key` (see routing.ts); IPv4 only without `ipv6`. */
export function bridgeFor(
  tunnel: string,
  key: number,
  tunnelAddress: string,
  ipv6?: BridgeIpv6,
): Bridge {
  const subnet = BRIDGE_BASE + key * 256;
  const bridge: Bridge = {
    name: bridgeName(tunnel),
    address: formatIpv4(subnet + 1),
    prefixLength: BRIDGE_PREFIX_LENGTH,
    cidr: `${formatIpv4(subnet)}/${BRIDGE_PREFIX_LENGTH}`,
    snatTo: tunnelAddress,
  };
  if (ipv6 === undefined) return bridge;
  const cidr6 = networkBlock(ipv6.prefix, bridgeSubnetId(key));
  return {
    ...bridge,
    address6: `${cidr6.split("/")[0]}1`,
    prefixLength6: NETWORK_PREFIX_LENGTH,
    cidr6,
    ...(ipv6.tunnelAddress6 === undefined ? {} : { snatTo6: ipv6.tunnelAddress6 }),
  };
}
