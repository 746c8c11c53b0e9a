/**
 * `[meshes.<name>]`: a full mesh, every member peering with every other.
 * Checked after machines, proxies and VPNs, since a mesh's name is an
 * interface name and must not be one of theirs. Pure.
 */
import { quote } from "../errors.js";
import { checkLinkSettings } from "./link.js";
import { interfaceNameProblem } from "./names.js";
import type { RawConfig } from "./schema.js";
import type { MachineConfig, MeshConfig } from "./types.js";

/**
 * The validated meshes of wgqt.toml; `fail` throws the caller's one-line error.
 *
 * @param taken - Names already used by proxies and VPNs, as `proxies.<name>` / `vpns.<name>`.
 */
export function checkMeshes(
  raw: RawConfig["meshes"],
  machines: Record<string, MachineConfig>,
  taken: Map<string, string>,
  fail: (message: string) => never,
): Record<string, MeshConfig> {
  const meshes: Record<string, MeshConfig> = {};
  for (const [name, entry] of Object.entries(raw)) {
    const where = `meshes.${name}`;
    const problem = interfaceNameProblem(name);
    if (problem) fail(`${where}: ${problem} (the mesh's name is its WireGuard interface name)`);
    const other = taken.get(name);
    if (other !== undefined)
      fail(`${where}: ${other} has the same name; networks and VPNs are all interfaces`);
    if (entry.members.length < 2)
      fail(`${where}.members: a mesh needs at least 2 members, got ${entry.members.length}`);
    const seen = new Set<string>();
    entry.members.forEach((member, index) => {
      if (!machines[member]) fail(`${where}.members[${index}]: unknown machine ${quote(member)}`);
      if (seen.has(member)) fail(`${where}.members[${index}]: ${quote(member)} is listed twice`);
      seen.add(member);
    });
    const mesh: MeshConfig = { name, members: [...entry.members] };
    if (entry.relay !== undefined) {
      if (!seen.has(entry.relay))
        fail(`${where}.relay: ${quote(entry.relay)} is not a member of the mesh`);
      if (machines[entry.relay]!.endpoint === undefined)
        fail(
          `${where}.relay: ${quote(entry.relay)} has no endpoint; a relay needs machines.${entry.relay}.endpoint`,
        );
      mesh.relay = entry.relay;
    }
    if (entry.ipv6 !== undefined) mesh.ipv6 = entry.ipv6;
    Object.assign(mesh, checkLinkSettings(entry, where, fail));
    meshes[name] = mesh;
  }
  return meshes;
}
