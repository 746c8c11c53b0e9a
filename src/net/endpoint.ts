/**
 * Endpoints and public keys as the planner takes them: a machine's endpoint
 * is a host without a port (the planner appends each network's), a public
 * key 32 bytes of base64. Pure.
 */
import { KeyError, quote } from "../errors.js";
import { WIREGUARD_KEY } from "../keys/encoding.js";

/** A host name or IP without a port: the planner appends the network's port. */
export function checkEndpoint(
  field: string,
  endpoint: string,
  error: (field: string, message: string) => Error,
): void {
  const bracketed = endpoint.startsWith("[") && endpoint.endsWith("]");
  const colons = endpoint.split(":").length - 1;
  if (/\s|\/|@/.test(endpoint) || (!bracketed && colons === 1) || endpoint.startsWith(":")) {
    throw error(field, `expected a host name or IP address without a port, got ${quote(endpoint)}`);
  }
}

/**
 * `host:port` for a peer's Endpoint, bracketing IPv6 literals as wg(8) expects.
 *
 * @returns E.g. `vpn.example.com:51820`, `[2001:db8::1]:51820`.
 */
export function endpointWithPort(endpoint: string, port: number): string {
  const host = endpoint.includes(":") && !endpoint.startsWith("[") ? `[${endpoint}]` : endpoint;
  return `${host}:${port}`;
}

/** `key` when it is a WireGuard public key (or absent); else a KeyError naming the machine. */
export function checkedPublicKey(machine: string, key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (!WIREGUARD_KEY.test(key)) {
    throw new KeyError(
      "key/invalid",
      `public key of machine ${quote(machine)}: expected 44 characters of base64 (32 bytes), got ${quote(key)}`,
    );
  }
  return key;
}
