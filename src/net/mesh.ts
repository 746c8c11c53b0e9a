/**
 * One member's view of a mesh (docs/networks.md "Meshes"): it peers with
 * every other member it can reach, each with that member's own addresses as
 * AllowedIPs, so a mesh never takes a default route nor adds policy rules.
 *
 * - A peer with an endpoint gets `Endpoint = <endpoint>:<port>`; a member
 *   without one initiates to it and keeps the mapping open with
 *   PersistentKeepalive (the mesh's `keepalive`, else 25; 0: none).
 * - A member's routed subnets (`routes`: a LAN behind it) go on its peer
 *   entries beside its addresses, and on the relay's where it is relayed;
 *   the member forwards between the mesh and them.
 * - Two members without an endpoint do not peer: neither could start the
 *   handshake. With a `relay`, each carries the others' addresses on its
 *   relay peer, and the relay forwards between them (IP forwarding, no NAT).
 * Pure.
 */
import type { Config } from "../config/types.js";
import { presharedKeyFile } from "../store/layout.js";
import { endpointWithPort, type PlanMember, type PlanNetwork } from "./plan.js";

/** A mesh member's keepalive to the members with an endpoint when the mesh sets none. */
const MESH_KEEPALIVE = 25;

/** One `[Peer]` of a mesh member (the shape of host.ts's HostPeer). */
export interface MeshPeer {
  machine: string;
  publicKey: string;
  presharedKeyFile: string;
  allowedIPs: string[];
  endpoint?: string;
  persistentKeepalive?: number;
}

/** A member's own addresses, as AllowedIPs. */
function ownAddresses(member: PlanMember): string[] {
  return [
    `${member.address}/32`,
    ...(member.address6 === undefined ? [] : [`${member.address6}/128`]),
  ];
}

/**
 * The peers of `host` in mesh `network`, whether it forwards between them (the relay does), and its routed subnets.
 *
 * @param publicKey - The peer's key, or throws naming what is missing (host.ts).
 */
export function meshPeers(
  network: PlanNetwork,
  config: Config,
  host: string,
  publicKey: (member: PlanMember) => string,
): { peers: MeshPeer[]; forwards: boolean; routes: string[]; masquerade: boolean } {
  const endpointOf = (machine: string) => config.machines[machine]?.endpoint || undefined;
  const routesOf = (member: PlanMember) => config.machines[member.machine]?.routes ?? [];
  const reached = (member: PlanMember) => [...ownAddresses(member), ...routesOf(member)];
  const roaming = endpointOf(host) === undefined;
  const keepalive = network.keepalive ?? MESH_KEEPALIVE;
  const roamers = network.roaming ?? [];
  const viaRelay =
    roaming && network.relay !== undefined
      ? network.members.filter(
          (member) => member.machine !== host && endpointOf(member.machine) === undefined,
        )
      : [];
  const peers: MeshPeer[] = [];
  for (const member of network.members) {
    if (member.machine === host) continue;
    const endpoint = endpointOf(member.machine);
    if (roaming && endpoint === undefined) continue;
    peers.push({
      machine: member.machine,
      publicKey: publicKey(member),
      presharedKeyFile: presharedKeyFile(host, member.machine),
      allowedIPs: [
        ...reached(member),
        ...(member.machine === network.relay ? viaRelay.flatMap(reached) : []),
      ],
      ...(endpoint === undefined ? {} : { endpoint: endpointWithPort(endpoint, network.port) }),
      ...(roaming && keepalive !== 0 ? { persistentKeepalive: keepalive } : {}),
    });
  }
  return {
    peers,
    forwards: network.relay === host && roamers.length >= 2,
    routes: [...(config.machines[host]?.routes ?? [])],
    masquerade: config.machines[host]?.masqueradeRoutes === true,
  };
}
