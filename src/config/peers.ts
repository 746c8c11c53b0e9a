/**
 * Which machines are peers: the pairs that get a preshared key. A pair gets a
 * PSK when the two machines are peers in some network (docs/design.md "Peers
 * and proxies"). In a proxy
 * (hub and spoke) the peers are the gateway and each client; clients do not
 * peer with each other. In a mesh every two members are peers unless both
 * lack an endpoint (neither could start the handshake; a relay carries their
 * traffic over its own pairs). A pair in several networks has one PSK.
 */
import { byteOrder } from "../order.js";
import { type Config, meshesOf } from "./types.js";

/** A peer pair, its two names in byte order. */
export type Pair = readonly [string, string];

/** Order two machine names into a pair (byte order). */
export function pair(a: string, b: string): Pair {
  return byteOrder(a, b) <= 0 ? [a, b] : [b, a];
}

/**
 * Pairs are asked for once per machine by several writers (machines.nix,
 * rotate); a config is never changed after it is parsed, so each config's
 * pairs are computed once.
 */
const pairsCache = new WeakMap<Config, { all: Pair[]; byMachine: Map<string, Pair[]> }>();

function pairsIndex(config: Config): { all: Pair[]; byMachine: Map<string, Pair[]> } {
  let index = pairsCache.get(config);
  if (index === undefined) {
    const all = computePeerPairs(config);
    const byMachine = new Map<string, Pair[]>();
    for (const peers of all) {
      for (const machine of peers) {
        const list = byMachine.get(machine);
        if (list) list.push(peers);
        else byMachine.set(machine, [peers]);
      }
    }
    index = { all, byMachine };
    pairsCache.set(config, index);
  }
  return index;
}

/**
 * Every peer pair of the fleet, each once, in byte order.
 *
 * @returns Each pair's two names in byte order.
 */
export function peerPairs(config: Config): Pair[] {
  return [...pairsIndex(config).all];
}

function computePeerPairs(config: Config): Pair[] {
  const seen = new Map<string, Pair>();
  for (const proxy of Object.values(config.proxies)) {
    for (const client of proxy.clients) {
      const peers = pair(proxy.gateway, client);
      seen.set(peers.join("+"), peers);
    }
  }
  for (const mesh of meshesOf(config)) {
    const members = [...new Set(mesh.members)].sort(byteOrder);
    const hasEndpoint = members.map((machine) => Boolean(config.machines[machine]?.endpoint));
    for (let i = 0; i < members.length; i++) {
      for (let j = i + 1; j < members.length; j++) {
        if (!hasEndpoint[i] && !hasEndpoint[j]) continue;
        const peers: Pair = [members[i]!, members[j]!];
        seen.set(peers.join("+"), peers);
      }
    }
  }
  return [...seen.values()].sort((x, y) => byteOrder(x[0], y[0]) || byteOrder(x[1], y[1]));
}

/**
 * The pairs `machine` belongs to.
 *
 * @returns Each pair's two names in byte order; empty for an unknown machine.
 */
export function pairsOf(config: Config, machine: string): Pair[] {
  return [...(pairsIndex(config).byMachine.get(machine) ?? [])];
}
