/**
 * Writing the store: encrypted secrets, public keys and the generated files
 * (manifest.json, secrets.nix, machines.nix). Every mutating command stages
 * its files through these into one Transaction, which writes them all or
 * none, leaves files whose bytes do not change alone, and reports exactly
 * which files changed (for the git commit).
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { encryptToSync } from "../age/crypt.js";
import { parseRecipient } from "../age/recipients.js";
import { pairsOf } from "../config/peers.js";
import { byteOrder, type Config, sortedNames } from "../config/types.js";
import { keyFileContent } from "../keys/wireguard.js";
import { type ExpectedSecret, expectedFor } from "./expected.js";
import {
  MACHINES_NIX,
  MANIFEST_FILE,
  presharedKeyFile,
  privateKeyFile,
  publicKeyFile,
  SECRETS_NIX,
} from "./layout.js";
import { type Manifest, type ManifestEntry, manifestBytes } from "./manifest.js";
import { type MachineEntry, renderMachinesNix, renderSecretsNix } from "./nix.js";
import type { MadeSecret } from "./secrets.js";
import type { Transaction } from "./transaction.js";

/** Public files are world-readable; encrypted files too (they are committed to git). */
export const PUBLIC_MODE = 0o644;

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Encrypt a key (base64 text) to the secret's recipients and stage it. The
 * plaintext exists only in memory; returns the manifest entry for the file.
 */
export async function writeSecret(
  dir: string,
  secret: ExpectedSecret,
  key: string,
  created: string,
  tx: Transaction,
  publicKey?: string,
): Promise<ManifestEntry> {
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

/**
 * The machines.nix entries: every configured machine that has a public key,
 * with the key files that exist.
 */
export function machineEntries(
  config: Config,
  publicKeys: Record<string, string>,
  existingFiles: ReadonlySet<string>,
): MachineEntry[] {
  const entries: MachineEntry[] = [];
  for (const name of sortedNames(config.machines)) {
    const publicKey = publicKeys[name];
    if (!publicKey) continue;
    const machine = config.machines[name]!;
    const presharedKeyFiles: [string, string][] = [];
    for (const [a, b] of pairsOf(config, name)) {
      const file = presharedKeyFile(a, b);
      if (existingFiles.has(file)) presharedKeyFiles.push([a === name ? b : a, file]);
    }
    presharedKeyFiles.sort(([x], [y]) => byteOrder(x, y));
    const entry: MachineEntry = { name, publicKey, presharedKeyFiles };
    if (existingFiles.has(privateKeyFile(name)) && machine.publicKey === undefined)
      entry.privateKeyFile = privateKeyFile(name);
    if (machine.endpoint !== undefined) entry.endpoint = machine.endpoint;
    entries.push(entry);
  }
  return entries;
}

/**
 * Stage manifest.json, secrets.nix and machines.nix. The expected files come
 * from `expectedFor`, which a command that planned with the same config has
 * already worked out.
 */
export function writeGeneratedFiles(
  config: Config,
  dir: string,
  manifest: Manifest,
  publicKeys: Record<string, string>,
  existingFiles: ReadonlySet<string>,
  tx: Transaction,
): void {
  const expected = expectedFor(config);
  tx.write(join(dir, MANIFEST_FILE), manifestBytes(manifest), PUBLIC_MODE);
  tx.write(join(dir, SECRETS_NIX), renderSecretsNix(expected.values()), PUBLIC_MODE);
  tx.write(
    join(dir, MACHINES_NIX),
    renderMachinesNix(machineEntries(config, publicKeys, existingFiles)),
    PUBLIC_MODE,
  );
}
