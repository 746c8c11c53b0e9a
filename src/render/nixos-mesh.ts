/**
 * What a mesh adds to a host's NixOS module beyond its interface: the notes
 * of a relay or routing member, and `masquerade_routes` as nixos/nat.nix
 * `internalIPs`. Pure.
 */
import { ConfigError, quote } from "../errors.js";
import type { HostInterface } from "../net/host.js";
import { byteOrder } from "../order.js";
import type { NixValue } from "./nix-syntax.js";

/** The header lines of a relay or a member with routed subnets. */
export function meshNotes(entries: HostInterface[]): string[] {
  return entries.flatMap((entry) => [
    ...(entry.forwards
      ? [`Relay: ${entry.name} forwards between its members without an endpoint (no NAT).`]
      : []),
    ...(entry.routes === undefined
      ? []
      : [
          entry.masqueradeRoutes
            ? `Routes: ${entry.name} reaches ${entry.routes.join(", ")} through this machine, masqueraded (networking.nat.internalIPs).`
            : `Routes: ${entry.name} reaches ${entry.routes.join(", ")} through this machine (forwarding, no NAT; that network's router needs a route back to ${entry.cidr} via it).`,
        ]),
  ]);
}

/**
 * `masquerade_routes` (nixos/nat.nix): the mesh's block as `internalIPs`, so
 * what it sends out of another interface (the routed subnet's) leaves with
 * this machine's address; beside a gateway's NAT when the host is one too.
 */
export function masqueradeRoutes(
  host: string,
  networking: Record<string, NixValue>,
  entries: HostInterface[],
): void {
  const nat = (networking.nat ?? { enable: true }) as Record<string, NixValue>;
  if (nat.externalInterface !== undefined)
    throw new ConfigError(
      "config/conflict",
      `nixos: ${quote(host)} masquerades its routes and NATs a proxy out of ${String(nat.externalInterface)} (machines.${host}.uplink); networking.nat has one external interface: drop one of the two`,
    );
  nat.internalIPs = entries.map((entry) => entry.cidr).sort(byteOrder);
  const blocks6 = entries.flatMap((entry) =>
    entry.cidr6 !== undefined && entry.routes!.some((route) => route.includes(":"))
      ? [entry.cidr6]
      : [],
  );
  if (blocks6.length > 0) {
    nat.enableIPv6 = true;
    nat.internalIPv6s = [...((nat.internalIPv6s as string[] | undefined) ?? []), ...blocks6].sort(
      byteOrder,
    );
  }
  networking.nat = nat;
}
