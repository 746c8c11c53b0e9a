/**
 * IPv4 arithmetic for the planner: addresses as unsigned 32-bit integers
 * (10.128.0.0 is 176160768), so blocks are sums and alignment a remainder.
 * Pure; no I/O.
 */

const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Parse a dotted quad ("10.128.0.0") strictly; undefined when it is not one. */
export function parseIpv4(text: string): number | undefined {
  if (!DOTTED_QUAD.test(text)) return undefined;
  return text.split(".").reduce((value, octet) => value * 256 + Number(octet), 0);
}

/** Format an address integer (0 … 2^32 - 1) as a dotted quad. */
export function formatIpv4(value: number): string {
  return `${Math.floor(value / 0x1000000) % 256}.${Math.floor(value / 0x10000) % 256}.${Math.floor(value / 0x100) % 256}.${Math.floor(value) % 256}`;
}

/** Smallest power of two ≥ n: the size of a network's block (docs/design.md "Allocation"). */
export function nextPow2(n: number): number {
  let size = 1;
  while (size < n) size *= 2;
  return size;
}

/** Prefix length of a block of `size` addresses, `size` a power of two. */
export function prefixLength(size: number): number {
  return 32 - Math.log2(size);
}

/** An inclusive address range with a name for error messages. */
export interface AddressRoom {
  name: string;
  first: number;
  last: number;
}

const PRIVATE_ROOMS: AddressRoom[] = [
  { name: "10.0.0.0/8", first: 0x0a000000, last: 0x0affffff },
  { name: "100.64.0.0/10", first: 0x64400000, last: 0x647fffff },
  { name: "172.16.0.0/12", first: 0xac100000, last: 0xac1fffff },
  { name: "192.168.0.0/16", first: 0xc0a80000, last: 0xc0a8ffff },
];

const WHOLE_SPACE: AddressRoom = { name: "0.0.0.0/0", first: 0, last: 0xffffffff };

/**
 * The room a fleet's blocks must stay inside (docs/design.md "Allocation":
 * running out of it is an error): the private range that holds
 * `ipv4_start` — RFC 1918's 10/8, 172.16/12, 192.168/16, or RFC 6598's shared
 * 100.64/10 — so a fleet never spills from private space into someone else's
 * public addresses; a start outside them may use the rest of the IPv4 space,
 * but never wraps past 255.255.255.255.
 */
export function addressRoom(start: number): AddressRoom {
  return PRIVATE_ROOMS.find((room) => start >= room.first && start <= room.last) ?? WHOLE_SPACE;
}
