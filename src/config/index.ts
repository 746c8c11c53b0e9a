/**
 * The fleet's `wgqt.toml`: finding, reading and validating it into a
 * `Config`, which machines are peers, and a VPN provider's wg-quick
 * file. Parsing is pure; only `findConfig` and `loadConfig` touch the disk.
 *
 * @packageDocumentation
 */

export { findConfig, loadConfig } from "../store/config-file.js";
export type { NewMachine, NewVpn } from "./edit.js";
export { CONFIG_FILE, parseConfig } from "./load.js";
export { type Pair, pairsOf, peerPairs } from "./peers.js";
export {
  MAX_PROVIDER_FILE_BYTES,
  type ParsedProviderFile,
  type ProviderVpn,
  parseProviderFile,
} from "./provider.js";
export {
  type Config,
  type MachineConfig,
  type MeshConfig,
  meshesOf,
  type ProxyConfig,
  type VpnConfig,
  vpnsOf,
} from "./types.js";
