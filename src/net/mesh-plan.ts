/**
 * A mesh's part of the plan (docs/networks.md "Meshes"): its members in byte
 * order from block start + 1 (a mesh has no gateway), the relay's role, and
 * which members have no endpoint. Two of those cannot reach each other
 * directly: neither knows where the other is. With a `relay` they reach each
 * other through it; without one they do not peer at all. Pure.
 */
import { interfaceNameProblem } from "../config/names.js";
import { rangesOverlap } from "../config/routes.js";
import type { Config, MeshConfig } from "../config/types.js";
import type { ConfigError } from "../errors.js";
import { quote } from "../errors.js";
import { byteOrder } from "../order.js";
import { checkEndpoint } from "./endpoint.js";

type ErrorFactory = (field: string, message: string) => ConfigError;

/** A mesh member's role: `relay` for the one named by `relay`, else `member`. */
export type MeshRole = "member" | "relay";

/** What a mesh adds to its block in the plan. */
export interface MeshPart<M> {
  kind: "mesh";
  relay?: string;
  /** Members without an endpoint, byte order: no two of them peer directly. */
  roaming: string[];
  mtu?: number;
  keepalive?: number;
  members: M[];
}

/**
 * The mesh's cross-references, checked again for configs not made by
 * parseConfig (as the proxies' are).
 *
 * @returns How many machines the mesh has, for the allocation order.
 */
export function checkMesh(config: Config, mesh: MeshConfig, error: ErrorFactory): number {
  const field = `meshes.${mesh.name}`;
  const nameProblem = interfaceNameProblem(mesh.name);
  if (nameProblem !== undefined) throw error(field, nameProblem);
  if (config.proxies[mesh.name] !== undefined)
    throw error(
      field,
      `proxies.${mesh.name} has the same name; a mesh and a proxy are both interfaces`,
    );
  if (mesh.members.length < 2)
    throw error(`${field}.members`, `a mesh needs at least 2 members, got ${mesh.members.length}`);
  const seen = new Set<string>();
  for (const member of mesh.members) {
    if (config.machines[member] === undefined)
      throw error(`${field}.members`, `unknown machine ${quote(member)}`);
    if (seen.has(member)) throw error(`${field}.members`, `${quote(member)} is listed twice`);
    seen.add(member);
    const endpoint = config.machines[member]!.endpoint;
    if (endpoint) checkEndpoint(`machines.${member}.endpoint`, endpoint, error);
  }
  if (mesh.relay !== undefined) {
    if (!seen.has(mesh.relay))
      throw error(`${field}.relay`, `${quote(mesh.relay)} is not a member of the mesh`);
    if (!config.machines[mesh.relay]!.endpoint)
      throw error(
        `${field}.relay`,
        `${quote(mesh.relay)} has no endpoint; a relay needs machines.${mesh.relay}.endpoint`,
      );
  }
  return mesh.members.length;
}

/** The mesh's members (made by `member`, at block start + 1, + 2, … in byte order) and roaming set. */
export function meshNetwork<M>(
  config: Config,
  mesh: MeshConfig,
  member: (machine: string, role: MeshRole, offset: number) => M,
): MeshPart<M> {
  const sorted = [...mesh.members].sort(byteOrder);
  return {
    kind: "mesh",
    ...(mesh.relay === undefined ? {} : { relay: mesh.relay }),
    roaming: sorted.filter((machine) => !config.machines[machine]?.endpoint),
    ...(mesh.mtu === undefined ? {} : { mtu: mesh.mtu }),
    ...(mesh.keepalive === undefined ? {} : { keepalive: mesh.keepalive }),
    members: sorted.map((machine, index) =>
      member(machine, machine === mesh.relay ? "relay" : "member", 1 + index),
    ),
  };
}

/** No machine's routed subnet overlaps a network's block (IPv4 or IPv6). */
export function checkRouteBlocks(
  config: Config,
  networks: readonly { name: string; kind: string; cidr: string; cidr6?: string }[],
  error: ErrorFactory,
): void {
  for (const machine of Object.values(config.machines)) {
    (machine.routes ?? []).forEach((route, index) => {
      for (const network of networks) {
        for (const block of [
          network.cidr,
          ...(network.cidr6 === undefined ? [] : [network.cidr6]),
        ]) {
          if (rangesOverlap(route, block))
            throw error(
              `machines.${machine.name}.routes[${index}]`,
              `${route} overlaps the block of ${network.kind === "mesh" ? "meshes" : "proxies"}.${network.name} (${block}); move ipv4_start or the route`,
            );
        }
      }
    });
  }
}
