/**
 * Writing the store: encrypted secrets, public keys and the generated files
 * (manifest.json, secrets.nix, machines.nix). Every mutating command stages
 * its files through these into one Transaction, which writes them all or
 * none, leaves files whose bytes do not change alone, and reports exactly
 * which files changed (for the git commit).
 */
import { join } from "node:path";
import type { Config } from "../config/types.js";
import { StoreError } from "../errors.js";
import { stageAcceptedPlan } from "./accepted-plan.js";
import { type ExpectedSecret, expectedFor, managedMachines } from "./expected.js";
import { sha256Hex } from "./files.js";
import {
  MACHINES_NIX,
  MANIFEST_FILE,
  privateKeyFile,
  publicKeyFile,
  SECRETS_NIX,
} from "./layout.js";
import { type Manifest, type ManifestEntry, manifestBytes } from "./manifest.js";
import { machineEntries, renderMachinesNix, renderSecretsNix } from "./nix.js";
import type { MadeSecret } from "./secrets.js";
import type { Transaction } from "./transaction.js";

/** Public files are world-readable; encrypted files too (they are committed to git). */
export const PUBLIC_MODE = 0o644;

/**
 * Encrypt a key (base64 text) to the secret's recipients and stage it. The
 * plaintext exists only in memory; returns the manifest entry for the file.
 * The encryption code is loaded here, on first use: most commands that write
 * the store encrypt nothing.
 */
export async function writeSecret(
  dir: string,
  secret: ExpectedSecret,
  key: string,
  created: string,
  tx: Transaction,
  publicKey?: string,
): Promise<ManifestEntry> {
  const [{ encryptToSync }, { parseRecipient }, { keyFileContent }] = await Promise.all([
    import("../age/crypt.js"),
    import("../age/recipients.js"),
    import("../keys/wireguard.js"),
  ]);
  const ciphertext = encryptToSync(
    keyFileContent(key),
    secret.recipients.map((recipient) => parseRecipient(recipient)),
  );
  return stageSecret(dir, secret, ciphertext, created, tx, publicKey);
}

/** Stage an already encrypted secret; returns its manifest entry. */
export function stageSecret(
  dir: string,
  secret: ExpectedSecret,
  ciphertext: Uint8Array,
  created: string,
  tx: Transaction,
  publicKey?: string,
): ManifestEntry {
  // A new encryption: never what the file there holds.
  tx.write(join(dir, secret.file), ciphertext, PUBLIC_MODE, { fresh: true });
  const entry: ManifestEntry = {
    kind: secret.kind,
    machines: [...secret.machines],
    recipients: [...secret.recipients],
    created,
    sha256: sha256Hex(ciphertext),
  };
  if (publicKey !== undefined) entry.public_key = publicKey;
  return entry;
}

/**
 * What a command that makes keys stages them into: the transaction, and the
 * manifest, public keys and present `.age` files the generated files are
 * written from (the command's copies, updated as keys are staged).
 */
export interface Staging {
  dir: string;
  tx: Transaction;
  manifest: Manifest;
  publicKeys: Record<string, string>;
  existing: Set<string>;
  /** The manifest's `created` for every key made now. */
  created: string;
}

/**
 * Stage a secret `makeSecrets` made: its `.age`, and for a keypair (it comes
 * with its public key) the machine's `.pub`.
 */
export function stageMade(staging: Staging, secret: ExpectedSecret, made: MadeSecret): void {
  const { dir, tx, created } = staging;
  const { ciphertext, publicKey } = made;
  if (publicKey !== undefined) {
    const machine = secret.machines[0]!;
    writePublicKey(dir, machine, publicKey, tx);
    staging.publicKeys[machine] = publicKey;
  }
  staging.manifest.files[secret.file] = stageSecret(
    dir,
    secret,
    ciphertext,
    created,
    tx,
    publicKey,
  );
  staging.existing.add(secret.file);
}

/** Stage `<machine>.pub`: the base64 key and a newline, like `wg pubkey`. */
export function writePublicKey(
  dir: string,
  machine: string,
  publicKey: string,
  tx: Transaction,
): void {
  tx.write(join(dir, publicKeyFile(machine)), `${publicKey}\n`, PUBLIC_MODE);
}

/** The error for a machine whose `.age` is there without its `.pub`: what to do about it. */
export function missingPublicKey(dir: string, machine: string): StoreError {
  return new StoreError(
    "store/missing-key",
    `${join(dir, privateKeyFile(machine))} exists but ${publicKeyFile(machine)} is missing; restore it from git, or run 'wgqt rotate --machine ${machine}' for a new keypair`,
  );
}

/**
 * Refuse public keys the store cannot vouch for before they go into
 * machines.nix, where every peer takes them from: a machine whose `.age` is
 * there needs its `.pub`, and that `.pub` must be the public key the
 * manifest recorded when the private key was made. A `.pub` replaced in the
 * repository would otherwise make the fleet trust a key whose private half
 * someone else holds. `except`: private key files a rekey is accepting as
 * changed outside wgqt (it checks those against their decrypted keys).
 */
export function checkPublicKeys(
  config: Config,
  dir: string,
  manifest: Manifest,
  publicKeys: Record<string, string>,
  existingFiles: ReadonlySet<string>,
  except: ReadonlySet<string> = new Set(),
): void {
  for (const name of managedMachines(config)) {
    const file = privateKeyFile(name);
    if (!existingFiles.has(file) || except.has(file)) continue;
    const publicKey = publicKeys[name];
    if (publicKey === undefined) throw missingPublicKey(dir, name);
    const entry = Object.hasOwn(manifest.files, file) ? manifest.files[file] : undefined;
    const how = `restore it from git, or run 'wgqt rotate --machine ${name}' for a new keypair`;
    if (entry === undefined) {
      throw new StoreError(
        "store/unvouched",
        `${join(dir, file)}: not recorded in manifest.json, so nothing vouches for ${publicKeyFile(name)} (${how}; if both files are yours: wgqt rekey --accept ${join(dir, file)})`,
      );
    }
    if (entry.public_key !== undefined && entry.public_key !== publicKey) {
      throw new StoreError(
        "store/unvouched",
        `${join(dir, publicKeyFile(name))}: not the public key manifest.json records for ${file} (replaced? ${how})`,
      );
    }
  }
}

/**
 * Stage manifest.json, secrets.nix and machines.nix, after `checkPublicKeys`,
 * and plan.json when no member moves (accepted-plan.ts).
 * The expected files come from `expectedFor`, which a command that planned
 * with the same config has already worked out.
 */
export function writeGeneratedFiles(
  config: Config,
  dir: string,
  manifest: Manifest,
  publicKeys: Record<string, string>,
  existingFiles: ReadonlySet<string>,
  tx: Transaction,
): void {
  checkPublicKeys(config, dir, manifest, publicKeys, existingFiles);
  const expected = expectedFor(config);
  tx.write(join(dir, MANIFEST_FILE), manifestBytes(manifest), PUBLIC_MODE);
  tx.write(join(dir, SECRETS_NIX), renderSecretsNix(expected.values()), PUBLIC_MODE);
  tx.write(
    join(dir, MACHINES_NIX),
    renderMachinesNix(machineEntries(config, publicKeys, existingFiles)),
    PUBLIC_MODE,
  );
  stageAcceptedPlan(config, dir, publicKeys, tx);
}
