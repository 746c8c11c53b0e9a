/**
 * IPv6 addresses for the planner: every network a /64 of one fleet prefix, a
 * /48 unique local prefix (RFC 4193: `fd` + a 40-bit global id), and every
 * member an interface id of its own. Addresses come from names and the
 * accepted plan, never from who else is in the fleet, so adding or removing
 * a machine or a network never moves another machine's address:
 *
 * - the fleet prefix is `ipv6_prefix` from wgqt.toml, else the one the
 *   accepted plan (plan.json) recorded, else derived from the admins' age
 *   recipients (SHA-256; see {@link derivedUlaPrefix}) and recorded there;
 * - a network's /64 is the one the accepted plan recorded for it, else the
 *   prefix and 16 bits of SHA-256 of its name, or the next free id after
 *   that one when another network holds it (see {@link assignSubnets});
 * - a member's interface id is 64 bits of SHA-256 of its machine name.
 *
 * Two machines whose names hash to one interface id are an error naming
 * both (planner). Pure; no I/O.
 */
import { hash } from "node:crypto";
import ipaddr from "ipaddr.js";
import type { Config } from "../config/types.js";
import { quote } from "../errors.js";
import { byteOrder } from "../order.js";

/** Makes the error for a field of wgqt.toml (the planner's, naming the file). */
type Fail = (field: string, message: string) => Error;

/** The prefix length of the fleet prefix. */
export const ULA_PREFIX_LENGTH = 48;
/** Every network's block. */
export const NETWORK_PREFIX_LENGTH = 64;

// One-shot hash(): no Hash object per call, and a plan hashes every
// member's name (a thousand at n = 1000).
function hashBytes(label: string, text: string): Uint8Array {
  return hash("sha256", `wgqt ${label}\0${text}`, "buffer");
}

/**
 * Why `text` is not a fleet prefix, or undefined when it is one: a /48 inside
 * fd00::/8 (the locally assigned half of RFC 4193's fc00::/7; fc00::/8 has no
 * assignment rules), with nothing set past the 48 bits.
 */
export function ulaPrefixProblem(text: string): string | undefined {
  const expected = `expected a /48 inside fd00::/8 such as "fd42:7a3c:91e0::/48", got ${quote(text)}`;
  let address: ipaddr.IPv6;
  let length: number;
  try {
    const parsed = ipaddr.IPv6.parseCIDR(text);
    address = parsed[0];
    length = parsed[1];
  } catch {
    return expected;
  }
  const bytes = address.toByteArray();
  if (length !== ULA_PREFIX_LENGTH || bytes[0] !== 0xfd) return expected;
  if (bytes.slice(6).some((byte) => byte !== 0))
    return `${quote(text)} has bits set past the /48; write ${quote(`${formatIpv6([...bytes.slice(0, 6), ...new Array(10).fill(0)])}/48`)}`;
  return undefined;
}

/** A fleet prefix (checked by {@link ulaPrefixProblem}) in its canonical form, e.g. `fd42:7a3c:91e0::/48`. */
export function canonicalUlaPrefix(text: string): string {
  const [address] = ipaddr.IPv6.parseCIDR(text);
  return `${formatIpv6Groups(address.parts)}/${ULA_PREFIX_LENGTH}`;
}

/**
 * The prefix of a fleet that sets no `ipv6_prefix` and has no accepted plan
 * yet: `fd` + 40 bits of SHA-256 of the admins' recipients (sorted, one per
 * line). Those are in wgqt.toml, committed, and differ between fleets, so two
 * fleets rarely share a prefix (RFC 4193 asks for a random global id); once
 * plan.json records it, changing the admins never moves it.
 */
export function derivedUlaPrefix(admins: readonly string[]): string {
  const hash = hashBytes("ula", [...admins].sort(byteOrder).join("\n"));
  return `${formatIpv6([0xfd, ...hash.slice(0, 5), ...new Array(10).fill(0)])}/${ULA_PREFIX_LENGTH}`;
}

/** The 16-bit subnet id a network's name hashes to: its own, when no other network holds it ({@link assignSubnets}). */
export function subnetId(network: string): number {
  const hash = hashBytes("subnet", network);
  return hash[0]! * 256 + hash[1]!;
}

/** An interface id: the last four groups of a member's address. */
export interface InterfaceId {
  /** Four 16-bit groups. */
  groups: readonly number[];
  /** The groups in hex without leading zeros, `:`-joined: unique to the id, and its addresses' tail when none is zero. */
  text: string;
  /** No group is zero, so RFC 5952's `::` never reaches into the id ({@link subnetFormatter}). */
  zeroFree: boolean;
}

/** The interface id of four 16-bit groups. */
export function interfaceIdOf(groups: readonly number[]): InterfaceId {
  return {
    groups,
    text: groups.map((group) => group.toString(16)).join(":"),
    zeroFree: groups.every((group) => group !== 0),
  };
}

/** Interface ids by machine name: a machine in many networks is hashed once. */
const interfaceIds = new Map<string, InterfaceId>();

/** A machine's 64-bit interface id, the same in every network: from its name. */
function interfaceId(machine: string): InterfaceId {
  let id = interfaceIds.get(machine);
  if (id === undefined) {
    const hash = hashBytes("interface", machine);
    id = interfaceIdOf([0, 2, 4, 6].map((at) => hash[at]! * 256 + hash[at + 1]!));
    interfaceIds.set(machine, id);
  }
  return id;
}

/**
 * The machines of `machines` whose interface id another one has too: only
 * they can take one address in a network, so only they are checked there
 * ({@link subnetAddresses}). Almost always none: ids are 64 bits of a hash.
 */
export function sharingInterfaceIds(machines: Iterable<string>): Set<string> {
  const owners = new Map<string, string>();
  const sharing = new Set<string>();
  for (const machine of machines) {
    const { text } = interfaceId(machine);
    const owner = owners.get(text);
    if (owner === undefined) owners.set(text, machine);
    else if (owner !== machine) sharing.add(owner).add(machine);
  }
  return sharing;
}

/** The /64 of subnet `subnet` under `prefix` (canonical), e.g. `fd42:7a3c:91e0:1b2c::/64`. */
export function networkBlock(prefix: string, subnet: number): string {
  return `${formatIpv6Groups([...prefixGroups(prefix), subnet, 0, 0, 0, 0])}/${NETWORK_PREFIX_LENGTH}`;
}

/**
 * Formats the addresses of subnet `subnet` under `prefix`: its four groups,
 * then an interface id's. A dense fleet has a member per client per network,
 * so the subnet's part is formatted once, here: when no group of the id is
 * zero, RFC 5952's `::` can only fall in the subnet's groups, and the text is
 * the subnet's part followed by the id's ({@link InterfaceId}). An id with a
 * zero group may extend or start a run of zeros: that address is formatted whole.
 */
export function subnetFormatter(prefix: string, subnet: number): (id: InterfaceId) => string {
  const groups = [...prefixGroups(prefix), subnet];
  // With any zero-free id (1:1:1:1) the text ends in the id's groups, whatever they are.
  const head = formatIpv6Groups([...groups, 1, 1, 1, 1]).slice(0, -"1:1:1:1".length);
  return (id) => (id.zeroFree ? head + id.text : formatIpv6Groups([...groups, ...id.groups]));
}

/** Gives the IPv6 address of a member (a machine name) of one network. */
export type MemberAddress6 = (machine: string) => string;

/**
 * The member addresses of network `network`, subnet `subnet` under `prefix`:
 * the subnet's groups, then the machine's interface id.
 *
 * @param sharing - The machines whose interface id another has ({@link sharingInterfaceIds}).
 * @throws when two members of the network share an address: an error naming both.
 */
export function subnetAddresses(
  network: string,
  prefix: string,
  subnet: number,
  sharing: ReadonlySet<string>,
  error: Fail,
): MemberAddress6 {
  const format = subnetFormatter(prefix, subnet);
  // Only a machine sharing its id can take another member's address.
  const taken = new Map<string, string>();
  return (machine) => {
    const address = format(interfaceId(machine));
    if (!sharing.has(machine)) return address;
    const other = taken.get(address);
    if (other !== undefined && other !== machine)
      throw error(
        `proxies.${network}`,
        `machines ${quote(other)} and ${quote(machine)} hash to the same IPv6 address ${address}; rename one`,
      );
    taken.set(address, machine);
    return address;
  };
}

/** The three 16-bit groups of each fleet prefix seen, parsed once. */
const parsedPrefixes = new Map<string, readonly number[]>();

function prefixGroups(prefix: string): readonly number[] {
  let groups = parsedPrefixes.get(prefix);
  if (groups === undefined) {
    groups = ipaddr.IPv6.parseCIDR(prefix)[0].parts.slice(0, 3);
    parsedPrefixes.set(prefix, groups);
  }
  return groups;
}

/**
 * Eight 16-bit groups as RFC 5952 text (section 4): lowercase hex without
 * leading zeros, and the longest run of two or more zero groups, the first
 * of equal ones, as `::`.
 */
export function formatIpv6Groups(groups: readonly number[]): string {
  let runStart = -1;
  let runLength = 1; // a single zero group stays "0" (section 4.2.2)
  for (let at = 0; at < 8; ) {
    if (groups[at] !== 0) {
      at++;
      continue;
    }
    let end = at + 1;
    while (end < 8 && groups[end] === 0) end++;
    if (end - at > runLength) {
      runStart = at;
      runLength = end - at;
    }
    at = end;
  }
  const hex = (from: number, to: number) =>
    groups
      .slice(from, to)
      .map((group) => group.toString(16))
      .join(":");
  if (runStart < 0) return hex(0, 8);
  return `${hex(0, runStart)}::${hex(runStart + runLength, 8)}`;
}

/** Sixteen bytes as RFC 5952 text (`fd42::1`). */
function formatIpv6(bytes: readonly number[]): string {
  const groups: number[] = [];
  for (let at = 0; at < 16; at += 2) groups.push(bytes[at]! * 256 + bytes[at + 1]!);
  return formatIpv6Groups(groups);
}

/** Whether `text` is an IPv6 address or CIDR (a colon is enough: IPv4 never has one). */
export function isIpv6Text(text: string): boolean {
  return text.includes(":");
}

/** `ipv6_prefix` (checked), else the accepted plan's, else one derived from the admins. */
export function fleetIpv6Prefix(
  config: Pick<Config, "ipv6Prefix" | "admins">,
  accepted: string | undefined,
  error: Fail,
): string {
  if (config.ipv6Prefix !== undefined) {
    const problem = ulaPrefixProblem(config.ipv6Prefix);
    if (problem !== undefined) throw error("ipv6_prefix", problem);
    return canonicalUlaPrefix(config.ipv6Prefix);
  }
  if (accepted !== undefined && ulaPrefixProblem(accepted) === undefined)
    return canonicalUlaPrefix(accepted);
  return derivedUlaPrefix(config.admins);
}

/** How many /64s a /48 holds: subnet ids are 0…65535. */
const SUBNET_COUNT = 1 << (NETWORK_PREFIX_LENGTH - ULA_PREFIX_LENGTH);

/**
 * The bridges' subnet ids (bridge.ts): 0xb000 + a routing key's three
 * decimal digits read as hex, 0xb001…0xb999, so `…:b100::/64` is the bridge
 * of key 100. No network takes one of these.
 */
export const BRIDGE_SUBNET6_BASE = 0xb000;
/** How many ids {@link isBridgeSubnet} holds back: three decimal digits. */
const BRIDGE_SUBNET_COUNT = 1000;

/** Whether `subnet` is one a bridge may use: `b` and three decimal digits in hex. */
export function isBridgeSubnet(subnet: number): boolean {
  if (subnet >> 12 !== BRIDGE_SUBNET6_BASE >> 12) return false;
  return [8, 4, 0].every((shift) => ((subnet >> shift) & 0xf) <= 9);
}

/**
 * The subnet id of `cidr6` when it is a /64 of `prefix` with nothing set past
 * the 64 bits, else undefined (not an IPv6 CIDR, not a /64, another prefix).
 */
export function subnetUnder(prefix: string, cidr6: string): number | undefined {
  let address: ipaddr.IPv6;
  let length: number;
  try {
    [address, length] = ipaddr.IPv6.parseCIDR(cidr6);
  } catch {
    return undefined;
  }
  const { parts } = address;
  if (length !== NETWORK_PREFIX_LENGTH) return undefined;
  if (prefixGroups(prefix).some((group, index) => parts[index] !== group)) return undefined;
  if (parts.slice(4).some((group) => group !== 0)) return undefined;
  return parts[3]!;
}

/**
 * Every IPv6 network's subnet id under `prefix`, by name: no two alike, and
 * none that moves when another network joins or leaves. Ids are claimed in
 * two rounds:
 *
 * 1. a network the accepted plan records (`accepted`: name → cidr6) with a
 *    /64 of `prefix` keeps it; of two recording the same /64, the first in
 *    byte order of name (plan.json was edited by hand);
 * 2. every other network, in byte order of name, takes the id its name
 *    hashes to ({@link subnetId}), or when that is taken or a bridge's
 *    ({@link isBridgeSubnet}), the next free one above it, wrapping from
 *    65535 to 0.
 *
 * A network that joins is in round 2 until plan.json records it, so it never
 * takes an id from one already there. A recorded /64 that is not one of
 * `prefix`'s (`ipv6_prefix` changed: every member moves, reviewed) or not a
 * /64 at all is ignored: that network takes round 2's id, and the
 * renumbering review shows its members' move against plan.json.
 */
export function assignSubnets(
  prefix: string,
  networks: readonly string[],
  accepted: Readonly<Record<string, string>> | undefined,
  error: Fail,
): Map<string, number> {
  // Unreachable while ports run out first (udp_start + id ≤ 65535), but never loop forever.
  const room = SUBNET_COUNT - BRIDGE_SUBNET_COUNT;
  if (networks.length > room)
    throw error(
      "proxies",
      `${networks.length} networks with IPv6, but ${prefix} has only ${room} /64s for networks; set ipv6 = false on some`,
    );
  const names = [...networks].sort(byteOrder);
  const taken = new Set<number>();
  const subnets = new Map<string, number>();
  for (const name of names) {
    const recorded = accepted && Object.hasOwn(accepted, name) ? accepted[name] : undefined;
    const subnet = recorded === undefined ? undefined : subnetUnder(prefix, recorded);
    if (subnet === undefined || taken.has(subnet)) continue;
    taken.add(subnet);
    subnets.set(name, subnet);
  }
  for (const name of names) {
    if (subnets.has(name)) continue;
    let subnet = subnetId(name);
    while (taken.has(subnet) || isBridgeSubnet(subnet)) subnet = (subnet + 1) % SUBNET_COUNT;
    taken.add(subnet);
    subnets.set(name, subnet);
  }
  return subnets;
}
