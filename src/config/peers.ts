/**
 * Which machines are peers: the pairs that get a preshared key. A pair gets a
 * PSK when the two machines are peers in some network (docs/design.md "Peers
 * and proxies"). In a proxy
 * (hub and spoke) the peers are the gateway and each client; clients do not
 * peer with each other.
 */
import { type Pair, pair } from "../store/layout.js";
import { byteOrder, type Config } from "./types.js";

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
