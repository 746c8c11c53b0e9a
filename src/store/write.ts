/**
 * Writing the store: encrypted secrets, public keys and the generated files
 * (manifest.json, secrets.nix, machines.nix). Every mutating command goes
 * through these, so each writes a file only when its bytes change and reports
 * exactly which files it changed (for the git commit).
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { encryptTo } from "../age/crypt.js";
import { parseRecipient } from "../age/recipients.js";
import { pairsOf } from "../config/peers.js";
import { type Config, sortedNames } from "../config/types.js";
import { keyFileContent } from "../keys/wireguard.js";
import { type ExpectedSecret, expectedSecrets } from "./expected.js";
import { readIfExists, writeFileAtomic } from "./files.js";
import {
  MACHINES_NIX,
  MANIFEST_FILE,
  presharedKeyFile,
  privateKeyFile,
  publicKeyFile,
  SECRETS_NIX,
} from "./layout.js";
import { type Manifest, type ManifestEntry, serializeManifest } from "./manifest.js";
import { type MachineEntry, renderMachinesNix, renderSecretsNix } from "./nix.js";

/** Public files are world-readable; encrypted files too (they are committed to git). */
const PUBLIC_MODE = 0o644;

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Write `data` to `path` unless the file already holds exactly these bytes. */
export async function writeIfChanged(
  path: string,
  data: string | Uint8Array,
  changed: Set<string>,
): Promise<void> {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data);
  const current = await readIfExists(path);
  if (current?.equals(bytes)) return;
  await writeFileAtomic(path, bytes, PUBLIC_MODE);
  changed.add(path);
}

/**
 * Encrypt a key (base64 text) to the secret's recipients and write it. The
 * plaintext exists only in memory; returns the manifest entry for the file.
 */
export async function writeSecret(
  dir: string,
  secret: ExpectedSecret,
  key: string,
  created: string,
  changed: Set<string>,
  publicKey?: string,
): Promise<ManifestEntry> {
  const ciphertext = await encryptTo(
    keyFileContent(key),
    secret.recipients.map((recipient) => parseRecipient(recipient)),
  );
  await writeFileAtomic(join(dir, secret.file), ciphertext, PUBLIC_MODE);
  changed.add(join(dir, secret.file));
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

/** Write `<machine>.pub`: the base64 key and a newline, like `wg pubkey`. */
export async function writePublicKey(
  dir: string,
  machine: string,
  publicKey: string,
  changed: Set<string>,
): Promise<void> {
  await writeIfChanged(join(dir, publicKeyFile(machine)), `${publicKey}\n`, changed);
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
    const entry: MachineEntry = { name, publicKey, presharedKeyFiles: {} };
    if (existingFiles.has(privateKeyFile(name)) && machine.publicKey === undefined)
      entry.privateKeyFile = privateKeyFile(name);
    if (machine.endpoint !== undefined) entry.endpoint = machine.endpoint;
    for (const [a, b] of pairsOf(config, name)) {
      const file = presharedKeyFile(a, b);
      if (existingFiles.has(file)) entry.presharedKeyFiles[a === name ? b : a] = file;
    }
    entries.push(entry);
  }
  return entries;
}

/** Rewrite manifest.json, secrets.nix and machines.nix where their content changed. */
export async function writeGeneratedFiles(
  config: Config,
  dir: string,
  manifest: Manifest,
  publicKeys: Record<string, string>,
  existingFiles: ReadonlySet<string>,
  changed: Set<string>,
): Promise<void> {
  await writeIfChanged(join(dir, MANIFEST_FILE), serializeManifest(manifest), changed);
  await writeIfChanged(
    join(dir, SECRETS_NIX),
    renderSecretsNix(expectedSecrets(config).values()),
    changed,
  );
  await writeIfChanged(
    join(dir, MACHINES_NIX),
    renderMachinesNix(machineEntries(config, publicKeys, existingFiles)),
    changed,
  );
}
