/**
 * The key store (`keysDir`): opening it, and each command's work as a pure
 * `plan…` and an `apply…` that writes all or nothing (keygen, prune, rekey,
 * rotate, vpn import); `inspectStore`, `findProblems`, `storeStatus` and
 * `checkWithIdentities` for what `status` and `verify` report. The caller
 * holds the store's lock and commits to git (`commitFiles`) as the CLI does.
 *
 * @packageDocumentation
 */

export type { Pair } from "../config/peers.js";
export { type CommitResult, commitFiles } from "../git/commit.js";
export {
  type AcceptPlan,
  applyAcceptPlan,
  planAcceptPlan,
  readAcceptedPlan,
} from "./accepted-plan.js";
export type { ApplyOptions, ChangeOptions } from "./apply.js";
export { type ExpectedSecret, expectedSecrets, type SecretKind } from "./expected.js";
export {
  defaultIdentityFiles,
  type IdentitySource,
  type LoadedIdentities,
  loadIdentityFiles,
} from "./identities.js";
export { applyInit, type InitPlan, planInit } from "./init.js";
export {
  type FileAccess,
  type FileReader,
  fileAccess,
  type HeaderEvidence,
} from "./inspect/access.js";
export { findProblems, type Problem, type ProblemKind } from "./inspect/problems.js";
export {
  type FileFacts,
  type FileInspection,
  findTempFiles,
  type Inspection,
  inspectStore,
  type StanzaSummary,
} from "./inspect/read.js";
export {
  type FileStatus,
  type MachineStatus,
  type StoreStatus,
  storeStatus,
  type VpnStatus,
} from "./inspect/status.js";
export { checkWithIdentities } from "./inspect/verify.js";
export {
  applyKeygen,
  type KeygenPlan,
  keygenIsEmpty,
  planKeygen,
} from "./keygen.js";
export {
  type KeyStore,
  openKeyStore,
  type StoredMachine,
  type StoredPresharedKey,
  type StoredVpnKey,
} from "./keystore.js";
export {
  presharedKeyFile,
  privateKeyFile,
  publicKeyFile,
  vpnKeyFile,
  vpnPresharedKeyFile,
} from "./layout.js";
export {
  applyMachineAdd,
  applyMachineRemove,
  type MachinePlan,
  type MachineRemovePlan,
  planMachineAdd,
  planMachineRemove,
} from "./machines.js";
export type { Manifest, ManifestEntry } from "./manifest.js";
export { applyPrune, type PrunePlan, planPrune, pruneIsEmpty } from "./prune.js";
export { inspectForRekey, planRekey, type RekeyFile, type RekeyPlan } from "./rekey.js";
export { applyRekey, type RekeyOptions } from "./rekey-apply.js";
export {
  applyRotate,
  planRotate,
  type Redeploy,
  type RotatePlan,
  type RotateRequest,
} from "./rotate.js";
export type { AfterApply } from "./transaction.js";
export {
  applyVpnImport,
  planVpnImport,
  type VpnImportPlan,
  type VpnImportRequest,
} from "./vpn-import.js";
