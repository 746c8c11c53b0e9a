/**
 * `[machines.<name>] routes = ["192.168.1.0/24"]`: subnets behind a machine
 * (a LAN), reachable by the other members of its mesh through it. Each is a
 * network address with its prefix length, and no two routed subnets of the
 * fleet overlap. Pure.
 */
import ipaddr from "ipaddr.js";
import { quote } from "../errors.js";
import type { Config, MachineConfig } from "./types.js";
import { meshesOf } from "./types.js";
import { cidrProblem } from "./vpn.js";

/** A parsed CIDR, for overlap checks. */
type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Whether two ranges share an address (one holds the other's network address). */
export function rangesOverlap(a: string, b: string): boolean {
  const x: Range = ipaddr.parseCIDR(a);
  const y: Range = ipaddr.parseCIDR(b);
  if (x[0].kind() !== y[0].kind()) return false;
  return x[0].match(y as never) || y[0].match(x as never);
}

/** The machine's `routes`, each checked and canonical (`192.168.1.0/24`, `fd00:1::/64`). */
export function checkRoutes(
  routes: string[],
  where: string,
  fail: (message: string) => never,
): string[] {
  return routes.map((route, index) => {
    const field = `${where}.routes[${index}]`;
    const problem = cidrProblem(route);
    if (problem !== undefined) fail(`${field}: ${problem}, got ${quote(route)}`);
    const [address, length] = ipaddr.parseCIDR(route);
    const network =
      address.kind() === "ipv4"
        ? ipaddr.IPv4.networkAddressFromCIDR(route)
        : ipaddr.IPv6.networkAddressFromCIDR(route);
    const canonical = `${network.toString()}/${length}`;
    if (network.toString() !== address.toString())
      fail(`${field}: ${quote(route)} has host bits set; write ${quote(canonical)}`);
    return canonical;
  });
}

/**
 * No two routed subnets overlap, and each machine with routes is in exactly
 * one mesh: its subnets are reached through that mesh.
 */
export function checkRoutedMachines(
  config: Pick<Config, "machines" | "meshes">,
  fail: (message: string) => never,
): void {
  const seen: { field: string; route: string }[] = [];
  const meshes = meshesOf(config as Config);
  for (const machine of Object.values(config.machines) as MachineConfig[]) {
    const routes = machine.routes ?? [];
    if (routes.length === 0) continue;
    const where = `machines.${machine.name}.routes`;
    routes.forEach((route, index) => {
      const field = `${where}[${index}]`;
      const other = seen.find((entry) => rangesOverlap(entry.route, route));
      if (other !== undefined) fail(`${field}: ${route} overlaps ${other.field} (${other.route})`);
      seen.push({ field, route });
    });
    const inMeshes = meshes.filter((mesh) => mesh.members.includes(machine.name));
    if (inMeshes.length !== 1)
      fail(
        inMeshes.length === 0
          ? `${where}: ${quote(machine.name)} is in no mesh; routed subnets are reached through a mesh`
          : `${where}: ${quote(machine.name)} is in meshes ${inMeshes.map((mesh) => mesh.name).join(" and ")}; a machine's routed subnets go through one mesh`,
      );
  }
}
