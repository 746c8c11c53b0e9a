/**
 * The one shape of every command that changes the store. `planX(config,
 * store, request)` works out what will change and returns a plain,
 * JSON-serialisable plan without writing anything, so the CLI can show it
 * and ask; `applyX(config, store, plan, options)` stages every file into one
 * Transaction (all or nothing, see transaction.ts) and returns the absolute
 * paths it changed. This module holds what the applies share.
 */
import { join } from "node:path";
import type { Pair } from "../config/peers.js";
import type { Config } from "../config/types.js";
import type { RandomSource } from "../keys/wireguard.js";
import { expectedFor } from "./expected.js";
import type { KeyStore } from "./keystore.js";
import { parseKeyFileName, presharedKeyFile, privateKeyFile } from "./layout.js";
import { copyManifest } from "./manifest.js";
import { type AfterApply, Transaction } from "./transaction.js";
import { type Staging, stageMade, writeGeneratedFiles } from "./write.js";

/** How an `apply…` function runs: its clock, randomness, messages and the step that commits. */
export interface ApplyOptions {
  /** Where new keys' random bytes come from; `node:crypto` (on worker threads for many keys) by default. */
  random?: RandomSource;
  /** The clock for the manifest's `created` times. */
  now: () => Date;
  /** Progress lines (never secrets). */
  log?: (line: string) => void;
  /** What the change is: the journal's and the commit's message. */
  message?: string;
  /** Runs once the files are written, before the journal goes: the git commit. */
  afterApply?: AfterApply;
  /** How many of the new secrets are made, as they are (a progress bar). */
  onProgress?: (done: number) => void;
}

/** What an apply that makes no keys takes besides its plan. */
export type ChangeOptions = Pick<ApplyOptions, "message" | "afterApply">;

/** The timestamp recorded in the manifest: UTC, whole seconds. */
export function timestamp(now: () => Date): string {
  return now()
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z");
}

/** A change in the making: its transaction and its own copies of what the store holds. */
export type Change = Omit<Staging, "created">;

/** Open a change to `store`: nothing is written until `finishChange`. */
export function beginChange(config: Config, store: KeyStore, afterApply?: AfterApply): Change {
  return {
    dir: store.dir,
    tx: new Transaction(config.dir, afterApply),
    manifest: copyManifest(store.manifest),
    publicKeys: store.publicKeys(),
    existing: new Set(store.encryptedFiles),
  };
}

/**
 * Stage the removal of `file` (store-relative): the file, its manifest
 * entry, and its public key when it is a machine's `.pub`.
 */
export function stageRemoval(change: Change, file: string): void {
  change.tx.remove(join(change.dir, file));
  change.existing.delete(file);
  delete change.manifest.files[file];
  const parsed = parseKeyFileName(file);
  if (parsed?.kind === "public-key") delete change.publicKeys[parsed.machine];
}

/**
 * Stage the generated files (manifest.json, secrets.nix, machines.nix,
 * plan.json) for `config`, the config as it is after the change, and write
 * everything. Returns the absolute paths changed.
 */
export function finishChange(config: Config, change: Change, message: string): Promise<string[]> {
  const { dir, manifest, publicKeys, existing, tx } = change;
  writeGeneratedFiles(config, dir, manifest, publicKeys, existing, tx);
  return tx.commit(message);
}

/** New keys to make: keypairs of machines and preshared keys of pairs. */
export interface NewKeys {
  keypairs: readonly string[];
  presharedKeys: readonly Pair[];
}

/**
 * Make and encrypt `keys` (on all cores when there are many; only
 * ciphertext and public keys come back) and stage them into `change`,
 * logging `<verb>keypair tavern` and `<verb>preshared key nyaa+tavern`.
 *
 * The encryption code (age, the curves, the worker pool) is loaded only when
 * there is a key to make: a keygen that finds every key present, which only
 * brings the generated files in line, never loads it.
 */
export async function stageNewKeys(
  config: Config,
  change: Change,
  keys: NewKeys,
  options: ApplyOptions,
  verb = "",
): Promise<void> {
  const log = options.log ?? (() => {});
  const expected = expectedFor(config);
  const keypairs = keys.keypairs.map((name) => expected.get(privateKeyFile(name))!);
  const presharedKeys = keys.presharedKeys.map(
    (peers) => expected.get(presharedKeyFile(...peers))!,
  );
  if (keypairs.length + presharedKeys.length === 0) return;
  const [{ checkRecipients }, { makeSecrets }] = await Promise.all([
    import("./recipients-check.js"),
    import("./secrets.js"),
  ]);
  checkRecipients(config, [...keypairs, ...presharedKeys]);
  const made = await makeSecrets(
    [
      ...keypairs.map(({ recipients }) => ({ kind: "keypair" as const, recipients })),
      ...presharedKeys.map(({ recipients }) => ({ kind: "preshared-key" as const, recipients })),
    ],
    options.random === undefined ? { onProgress: options.onProgress } : { random: options.random },
  );
  const staging: Staging = { ...change, created: timestamp(options.now) };
  for (const [index, secret] of keypairs.entries()) {
    stageMade(staging, secret, made[index]!);
    log(`${verb}keypair ${keys.keypairs[index]}`);
  }
  for (const [index, secret] of presharedKeys.entries()) {
    stageMade(staging, secret, made[keypairs.length + index]!);
    log(`${verb}preshared key ${keys.presharedKeys[index]!.join("+")}`);
  }
}
