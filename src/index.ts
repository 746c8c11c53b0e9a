/**
 * wgqt as a library: everything the CLI does, without a terminal.
 *
 * ```ts
 * import { loadConfig, openKeyStore, planKeygen, applyKeygen } from "wgqt";
 * const config = await loadConfig(process.cwd());
 * const store = await openKeyStore(config.keysDir);
 * await applyKeygen(config, store, planKeygen(config, store), { now: () => new Date() });
 * ```
 */

export { decryptWith, encryptTo } from "./age/crypt.js";
export { type AgeHeader, readHeader } from "./age/header.js";
export { type LoadedIdentity, parseIdentities } from "./age/identity.js";
export { type ParsedRecipient, parseRecipient } from "./age/recipients.js";
export { CONFIG_FILE, findConfig, loadConfig, parseConfig } from "./config/load.js";
export { pairsOf, peerPairs } from "./config/peers.js";
export {
  type ParsedProviderFile,
  type ProviderVpn,
  parseProviderFile,
} from "./config/provider.js";
export {
  type Config,
  type MachineConfig,
  type ProxyConfig,
  type VpnConfig,
  vpnsOf,
} from "./config/types.js";
export {
  AGE_ERROR_CODES,
  type AgeErrorCode,
  CONFIG_ERROR_CODES,
  ConfigError,
  type ConfigErrorCode,
  type ErrorCode,
  KEY_ERROR_CODES,
  KeyError,
  type KeyErrorCode,
  RENDER_ERROR_CODES,
  type RenderErrorCode,
  STORE_ERROR_CODES,
  StoreError,
  type StoreErrorCode,
  USAGE_ERROR_CODES,
  UsageError,
  type UsageErrorCode,
  WgqtError,
  type WgqtErrorOptions,
} from "./errors.js";
export { type CommitResult, commitFiles } from "./git/commit.js";
export {
  decodeKey,
  generateKeyPair,
  generatePresharedKey,
  type KeyPair,
  publicKeyOf,
  type RandomSource,
} from "./keys/wireguard.js";
export { type ExpectedSecret, expectedSecrets } from "./store/expected.js";
export {
  checkWithIdentities,
  type FileInspection,
  fileAccess,
  findProblems,
  findTempFiles,
  type Inspection,
  inspectStore,
  type Problem,
  type ProblemKind,
  type StoreStatus,
  storeStatus,
} from "./store/inspect.js";
export { applyKeygen, type KeygenPlan, planKeygen } from "./store/keygen.js";
export {
  type KeyStore,
  openKeyStore,
  type StoredMachine,
  type StoredPresharedKey,
  type StoredVpnKey,
} from "./store/keystore.js";
export {
  presharedKeyFile,
  privateKeyFile,
  publicKeyFile,
  vpnKeyFile,
  vpnPresharedKeyFile,
} from "./store/layout.js";
export { acquireLock } from "./store/lock.js";
export type { Manifest, ManifestEntry } from "./store/manifest.js";
export { applyPrune, type PrunePlan, planPrune } from "./store/prune.js";
export {
  applyRekey,
  inspectForRekey,
  type LoadedIdentities,
  loadIdentityFiles,
  planRekey,
  type RekeyPlan,
} from "./store/rekey.js";
export { applyRotate, planRotate, type RotatePlan, type RotateRequest } from "./store/rotate.js";
export { recoverJournal, Transaction } from "./store/transaction.js";
export {
  applyVpnImport,
  planVpnImport,
  type VpnImportPlan,
  type VpnImportRequest,
} from "./store/vpn-import.js";
