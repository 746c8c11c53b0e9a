/**
 * Two per-tunnel settings shared by proxies (`[proxies.<name>]`) and VPNs
 * (`[vpns.<name>]`, and the provider file's `MTU` and `PersistentKeepalive`):
 * the interface's MTU and the peers' persistent keepalive. One check each, so
 * wgqt.toml and `wgqt vpn import` accept and refuse the same values with the
 * same words. Pure.
 */
import { quote } from "../errors.js";

/**
 * The MTU range wgqt accepts. `ip link set mtu` takes 68 to 65535 on
 * wireguard-go's TUN device (68 is IPv4's minimum, RFC 791; below it the
 * kernel removes the device's IPv4 configuration). wgqt routes IPv4 only, so
 * it does not need IPv6's 1280 (RFC 8200), but it asks for at least the 576
 * bytes every IPv4 host must accept (RFC 791) and at most a jumbo frame's
 * 9000: a tunnel's packets pass only when its MTU plus WireGuard's 60 bytes
 * (80 over IPv6) fits the uplink's, so anything larger is a typo.
 */
export const MIN_MTU = 576;
export const MAX_MTU = 9000;

/**
 * wg(8): PersistentKeepalive is "a seconds interval, between 1 and 65535
 * inclusive", or off; wgqt writes off as 0.
 */
export const MAX_KEEPALIVE = 65535;

/** Why `value` is not an MTU wgqt accepts, or undefined. */
export function mtuProblem(value: unknown): string | undefined {
  return Number.isInteger(value) && (value as number) >= MIN_MTU && (value as number) <= MAX_MTU
    ? undefined
    : `expected a whole number of bytes ${MIN_MTU}…${MAX_MTU}`;
}

/** Why `value` is not a keepalive interval (0 = off), or undefined. */
export function keepaliveProblem(value: unknown): string | undefined {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= MAX_KEEPALIVE
    ? undefined
    : `expected a whole number of seconds 0…${MAX_KEEPALIVE} (0 = off)`;
}

/** The two settings as a table of wgqt.toml holds them. */
export interface LinkSettings {
  mtu?: number | undefined;
  keepalive?: number | undefined;
}

/**
 * The settings of the table at `where` (`proxies.germany`), checked; `fail`
 * throws the caller's one-line error naming the file.
 */
export function checkLinkSettings(
  entry: LinkSettings,
  where: string,
  fail: (message: string) => never,
): { mtu?: number; keepalive?: number } {
  const settings: { mtu?: number; keepalive?: number } = {};
  if (entry.mtu !== undefined) {
    const problem = mtuProblem(entry.mtu);
    if (problem) fail(`${where}.mtu: ${problem}, got ${quote(entry.mtu)}`);
    settings.mtu = entry.mtu;
  }
  if (entry.keepalive !== undefined) {
    const problem = keepaliveProblem(entry.keepalive);
    if (problem) fail(`${where}.keepalive: ${problem}, got ${quote(entry.keepalive)}`);
    settings.keepalive = entry.keepalive;
  }
  return settings;
}
