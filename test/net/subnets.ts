/**
 * Network names whose IPv6 subnet ids collide, found by brute force over
 * `<stem><n>` names (16 bits: a pair turns up within a few hundred names), so
 * that tests name real collisions instead of hard-coded ones.
 */
import { subnetId } from "../../src/net/ipv6.js";
import { byteOrder } from "../../src/order.js";

/** Two names hashing to one subnet id, in byte order, and that id. */
export function collidingPair(stem = "n"): { names: [string, string]; subnet: number } {
  const seen = new Map<number, string>();
  for (let index = 0; ; index++) {
    const name = `${stem}${index}`;
    const subnet = subnetId(name);
    const other = seen.get(subnet);
    if (other !== undefined)
      return { names: [other, name].sort(byteOrder) as [string, string], subnet };
    seen.set(subnet, name);
  }
}

/**
 * Three names where two hash to one subnet id and the third to the id after
 * it (a chain: the second of the pair must step over the third's id), with
 * that first id.
 */
export function collidingChain(stem = "c"): { names: string[]; subnet: number } {
  const byId = new Map<number, string[]>();
  for (let index = 0; ; index++) {
    const name = `${stem}${index}`;
    const subnet = subnetId(name);
    byId.set(subnet, [...(byId.get(subnet) ?? []), name]);
    for (const first of [subnet, (subnet + 65535) % 65536]) {
      const pair = byId.get(first) ?? [];
      const next = byId.get((first + 1) % 65536) ?? [];
      if (pair.length >= 2 && next.length >= 1)
        return { names: [pair[0]!, pair[1]!, next[0]!].sort(byteOrder), subnet: first };
    }
  }
}

/** A name whose subnet id is at least `least` (to reach the wrap from 65535 to 0). */
export function nameHashingAtLeast(least: number, stem = "w"): string {
  for (let index = 0; ; index++) if (subnetId(`${stem}${index}`) >= least) return `${stem}${index}`;
}

/** A name whose subnet id is `wanted` (within the first million names of `stem`), else undefined. */
export function nameHashingTo(wanted: (subnet: number) => boolean, stem = "b"): string {
  for (let index = 0; ; index++) if (wanted(subnetId(`${stem}${index}`))) return `${stem}${index}`;
}
