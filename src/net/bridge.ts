/**
 * The bridge of a default-route tunnel that is not the host's default
 * (routing.ts): its name, fit to IFNAMSIZ, and its subnet, 10.20.<key>.0/24.
 */
import { createHash } from "node:crypto";
import { formatIpv4 } from "./ipv4.js";

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
}

/** Bridge subnets start here: 10.20.0.0 (a tunnel's bridge is 10.20.<key>.1/24). */
export const BRIDGE_BASE = 0x0a140000;
export const BRIDGE_PREFIX_LENGTH = 24;

/** `br-<tunnel>`, or `br-<first 7>-<4 hex of SHA-256(tunnel)>` when that would pass 15 characters. */
export function bridgeName(tunnel: string): string {
  const plain = `br-${tunnel}`;
  if (Buffer.byteLength(plain) <= 15) return plain;
  const hash = createHash("sha256").update(tunnel).digest("hex").slice(0, 4);
  return `br-${tunnel.slice(0, 7)}-${hash}`;
}

/** The bridge of the tunnel with routing key `key` (see routing.ts). */
export function bridgeFor(tunnel: string, key: number, tunnelAddress: string): Bridge {
  const subnet = BRIDGE_BASE + key * 256;
  return {
    name: bridgeName(tunnel),
    address: formatIpv4(subnet + 1),
    prefixLength: BRIDGE_PREFIX_LENGTH,
    cidr: `${formatIpv4(subnet)}/${BRIDGE_PREFIX_LENGTH}`,
    snatTo: tunnelAddress,
  };
}
