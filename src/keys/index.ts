/**
 * WireGuard keys: Curve25519 keypairs and preshared keys in wg(8)'s base64
 * form, with the randomness injectable for tests. Pure apart from the default
 * random source (node:crypto).
 *
 * @packageDocumentation
 */
export {
  decodeKey,
  encodeKey,
  generateKeyPair,
  generatePresharedKey,
  type KeyPair,
  publicKeyOf,
  type RandomSource,
} from "./wireguard.js";
