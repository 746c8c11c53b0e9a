/**
 * wgqt as a library: read a fleet's `wgqt.toml`, plan its networks, render a
 * host's configs and manage the key store, without a terminal. This entry
 * holds the everyday workflow; each area has its own entry with the rest:
 * `wgqt/config`, `wgqt/keys`, `wgqt/age`, `wgqt/store`, `wgqt/net`,
 * `wgqt/render`.
 *
 * ```ts
 * import { applyKeygen, loadConfig, openKeyStore, plan, planKeygen, render } from "wgqt";
 * const config = await loadConfig(process.cwd());
 * const store = await openKeyStore(config.keysDir);
 * await applyKeygen(config, store, planKeygen(config, store), { now: () => new Date() });
 * const fleet = plan(config, (await openKeyStore(config.keysDir)).publicKeys());
 * const files = render(fleet, config, { format: "wg-quick", machine: "tavern" });
 * ```
 *
 * Errors are {@link WgqtError}s: {@link ConfigError} for `wgqt.toml`,
 * {@link StoreError} for the key store, {@link KeyError} for a key,
 * {@link UsageError} for a bad argument. Their messages never hold a secret.
 *
 * @packageDocumentation
 */

export { decryptWith, encryptTo } from "./age/crypt.js";
export { type AgeHeader, type HeaderStanza, readHeader } from "./age/header.js";
export { type LoadedIdentity, parseIdentities } from "./age/identity.js";
export { type ParsedRecipient, parseRecipient, type RecipientKind } from "./age/recipients.js";
export type { SshKeyType } from "./age/ssh-public-key.js";
export type { NewVpn } from "./config/edit.js";
export { CONFIG_FILE, parseConfig } from "./config/load.js";
export { type Pair, pairsOf, peerPairs } from "./config/peers.js";
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
export { diffPlans, type MemberChange, type PlanDiff } from "./net/diff.js";
export {
  type HostInterface,
  type HostPeer,
  type HostView,
  hostView,
  plannedHosts,
} from "./net/host.js";
export {
  type Plan,
  type PlanJson,
  type PlanMember,
  type PlanNetwork,
  type PlanVpn,
  plan,
  planJson,
  type Role,
} from "./net/plan.js";
export type { RenderedFile } from "./render/common.js";
export { FORMATS, type Format, type RenderOptions, render } from "./render/render.js";
export type { ApplyOptions } from "./store/apply.js";
export { findConfig, loadConfig } from "./store/config-file.js";
export { type ExpectedSecret, expectedSecrets, type SecretKind } from "./store/expected.js";
export {
  type FileAccess,
  type FileReader,
  fileAccess,
  type HeaderEvidence,
} from "./store/inspect/access.js";
export { findProblems, type Problem, type ProblemKind } from "./store/inspect/problems.js";
export {
  type FileFacts,
  type FileInspection,
  findTempFiles,
  type Inspection,
  inspectStore,
  type StanzaSummary,
} from "./store/inspect/read.js";
export {
  type FileStatus,
  type MachineStatus,
  type StoreStatus,
  storeStatus,
  type VpnStatus,
} from "./store/inspect/status.js";
export { checkWithIdentities } from "./store/inspect/verify.js";
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
export type { Manifest, ManifestEntry } from "./store/manifest.js";
export { applyPrune, type PrunePlan, planPrune } from "./store/prune.js";
export {
  applyRekey,
  type IdentitySource,
  inspectForRekey,
  type LoadedIdentities,
  loadIdentityFiles,
  planRekey,
  type RekeyFile,
  type RekeyOptions,
  type RekeyPlan,
} from "./store/rekey.js";
export {
  applyRotate,
  planRotate,
  type Redeploy,
  type RotatePlan,
  type RotateRequest,
} from "./store/rotate.js";
export type { AfterApply } from "./store/transaction.js";
export {
  applyVpnImport,
  planVpnImport,
  type VpnImportPlan,
  type VpnImportRequest,
} from "./store/vpn-import.js";
