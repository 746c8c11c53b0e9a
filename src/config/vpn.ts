/**
 * `[vpns.<name>]`: an external WireGuard VPN — a
 * provider's server some machines use. The field checks here are shared by
 * `wgqt.toml` validation and the provider-file import (provider.ts), so both
 * accept and refuse the same values with the same words. Pure.
 */
import { quote } from "../errors.js";
import { nodeNet } from "../lazy-node.js";
import { checkLinkSettings } from "./link.js";
import { interfaceNameProblem } from "./names.js";
import type { MachineConfig, ProxyConfig, VpnConfig } from "./types.js";

/** What a VPN carries when `allowed_ips` is not given: everything (a default-route tunnel). */
export const DEFAULT_ALLOWED_IPS = ["0.0.0.0/0"];

/** The VPN id range, 1…99: routing keys below the proxies' (docs/design.md "Routing model"). */
export const MIN_VPN_ID = 1;
export const MAX_VPN_ID = 99;

/** Why `text` is not an IPv4 address with a prefix length ("10.64.1.2/32"), or undefined. */
export function ipv4CidrProblem(text: string): string | undefined {
  const match = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (match === null || !nodeNet().isIPv4(match[1]!) || Number(match[2]) > 32) {
    return nodeNet().isIPv6(text.split("/")[0]!)
      ? "an IPv6 address (IPv6 goes in address6, beside an IPv4 address)"
      : "not an IPv4 address with a prefix length (like 10.64.1.2/32)";
  }
  return undefined;
}

/** Why `text` is not an IPv6 address with a prefix length ("fc00:bbbb::1:2/128"), or undefined. */
export function ipv6CidrProblem(text: string): string | undefined {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (match === null || !nodeNet().isIPv6(match[1]!) || Number(match[2]) > 128)
    return "not an IPv6 address with a prefix length (like fc00:bbbb::1:2/128)";
  return undefined;
}

/** Why `text` is not an IPv4 or IPv6 range, or undefined. */
export function cidrProblem(text: string): string | undefined {
  if (!text.includes(":")) return ipv4CidrProblem(text);
  return ipv6CidrProblem(text) === undefined
    ? undefined
    : "not an IP range with a prefix length (like 10.99.0.0/16 or ::/0)";
}

/** Why `text` is not `host:port` (host name, IPv4, or [IPv6]), or undefined. */
export function hostPortProblem(text: string): string | undefined {
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  const plain = /^([^:[\]\s]+):(\d+)$/.exec(text);
  const match = bracketed ?? plain;
  if (match === null) return "expected host:port (an IPv6 host in brackets: [2001:db8::1]:51820)";
  const [, host, port] = match;
  if (bracketed && !nodeNet().isIPv6(host!)) return "not an IPv6 address in the brackets";
  if (
    plain &&
    !nodeNet().isIPv4(host!) &&
    !/^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/.test(
      host!,
    )
  ) {
    return "not a host name or IP address before the port";
  }
  if (Number(port) < 1 || Number(port) > 65535) return "port must be 1…65535";
  return undefined;
}

/** The raw `[vpns.<name>]` fields, as the schema gives them. */
export interface RawVpn {
  machines: string[];
  id: number;
  endpoint: string;
  public_key: string;
  address: string;
  address6?: string | undefined;
  dns: string[];
  allowed_ips?: string[] | undefined;
  preshared_key?: boolean | undefined;
  killswitch?: boolean | undefined;
  mtu?: number | undefined;
  keepalive?: number | undefined;
}

/**
 * Check every `[vpns.*]` table against the machines and proxies; `fail`
 * throws (load.ts's ConfigError naming the file). `checkKey` validates a
 * WireGuard key the way machines' keys are validated.
 */
export function checkVpns(
  raw: Record<string, RawVpn>,
  machines: Record<string, MachineConfig>,
  proxies: Record<string, ProxyConfig>,
  fail: (message: string) => never,
  checkKey: (key: string, where: string) => void,
): Record<string, VpnConfig> {
  const vpns: Record<string, VpnConfig> = {};
  const ids = new Map<number, string>();
  for (const name of Object.keys(raw).sort()) {
    const entry = raw[name]!;
    const where = `vpns.${name}`;
    const problem = interfaceNameProblem(name);
    if (problem) fail(`${where}: ${problem} (the VPN's name is its WireGuard interface name)`);
    if (proxies[name]) {
      fail(`${where}: proxies.${name} has the same name; a VPN and a proxy are both interfaces`);
    }
    if (entry.machines.length === 0) fail(`${where}.machines: name at least one machine`);
    const seen = new Set<string>();
    entry.machines.forEach((machine, index) => {
      if (!machines[machine])
        fail(`${where}.machines[${index}]: unknown machine ${quote(machine)}`);
      if (seen.has(machine)) fail(`${where}.machines[${index}]: ${quote(machine)} is listed twice`);
      if (machines[machine]!.recipients.length === 0) {
        fail(
          `${where}.machines[${index}]: machine ${quote(machine)} has no recipients to encrypt the VPN key to`,
        );
      }
      seen.add(machine);
    });
    const other = ids.get(entry.id);
    if (other !== undefined) fail(`${where}.id: ${entry.id} is already the id of vpns.${other}`);
    ids.set(entry.id, name);
    const endpointProblem = hostPortProblem(entry.endpoint);
    if (endpointProblem)
      fail(`${where}.endpoint: ${endpointProblem}, got ${quote(entry.endpoint)}`);
    checkKey(entry.public_key, `${where}.public_key`);
    const addressProblem = ipv4CidrProblem(entry.address);
    if (addressProblem) fail(`${where}.address: ${addressProblem}, got ${quote(entry.address)}`);
    const address6Problem =
      entry.address6 === undefined ? undefined : ipv6CidrProblem(entry.address6);
    if (address6Problem)
      fail(`${where}.address6: ${address6Problem}, got ${quote(entry.address6)}`);
    entry.dns.forEach((server, index) => {
      if (!nodeNet().isIP(server))
        fail(`${where}.dns[${index}]: not an IP address, got ${quote(server)}`);
    });
    const allowedIPs = entry.allowed_ips ?? DEFAULT_ALLOWED_IPS;
    if (allowedIPs.length === 0) fail(`${where}.allowed_ips: empty; leave it out for 0.0.0.0/0`);
    allowedIPs.forEach((cidr, index) => {
      const problem = cidrProblem(cidr);
      if (problem) fail(`${where}.allowed_ips[${index}]: ${problem}, got ${quote(cidr)}`);
    });
    vpns[name] = {
      name,
      machines: [...entry.machines],
      id: entry.id,
      endpoint: entry.endpoint,
      publicKey: entry.public_key,
      address: entry.address,
      ...(entry.address6 === undefined ? {} : { address6: entry.address6 }),
      dns: [...entry.dns],
      allowedIPs: [...allowedIPs],
      presharedKey: entry.preshared_key === true,
      ...(entry.killswitch === undefined ? {} : { killswitch: entry.killswitch }),
      ...checkLinkSettings(entry, where, fail),
    };
  }
  return vpns;
}

/** Whether a VPN carries the default route (its table, kill switch and, when not the default, a bridge). */
export function carriesDefaultRoute(vpn: Pick<VpnConfig, "allowedIPs">): boolean {
  return vpn.allowedIPs.includes("0.0.0.0/0");
}
