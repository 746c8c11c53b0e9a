/**
 * `wgqt rekey`: after recipients change in wgqt.toml, re-encrypt only the
 * files whose recipient set differs from what it asks (the agenix complaint:
 * `agenix -r` rewrites every file). Every other file keeps its bytes; the
 * secrets inside never change. Planning reads headers only (`planRekey`);
 * `applyRekey` decrypts everything it needs before it writes anything.
 *
 * Which files to read comes from manifest.json (`inspectForRekey`): it records
 * every file's recipients and hash, and is written in the same all-or-nothing
 * transaction as the files, so a file whose entry already lists what
 * wgqt.toml asks is left unread, and a rekey costs what it changes, not the
 * size of the store. The files it does read have their hash and header
 * checked against the manifest before they are trusted. `checkAll` reads
 * every file, for a store changed behind wgqt's back (a merge, `agenix -e`).
 */
import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { decryptWith, type LoadedIdentity, parseIdentities } from "../age/index.js";
import type { Config } from "../config/types.js";
import { KeyError, UsageError, WgqtError } from "../errors.js";
import { parseKeyFileContent } from "../keys/wireguard.js";
import { type ExpectedSecret, expectedFor } from "./expected.js";
import { displayPath, type FileInspection, inspectFiles, staleness } from "./inspect.js";
import { timestamp } from "./keygen.js";
import type { KeyStore } from "./keystore.js";
import { copyManifest } from "./manifest.js";
import { BATCH_SIZE, type MadeSecret, type SecretJob, secretPool } from "./secrets.js";
import { type AfterApply, Transaction } from "./transaction.js";
import { stageSecret, writeGeneratedFiles } from "./write.js";

export interface RekeyFile {
  secret: ExpectedSecret;
  /** Recipients wgqt.toml adds to the file. */
  added: string[];
  /** Recipients that lose access. */
  removed: string[];
  /** Set when the manifest cannot vouch for the file (missing entry, changed bytes, header disagrees). */
  untrusted?: string;
}

export interface RekeyPlan {
  /** Files to re-encrypt, in byte order. */
  files: RekeyFile[];
  /** Present files whose recipients are already right: left byte-identical. */
  unchanged: string[];
}

/**
 * Present files wgqt.toml asks for whose manifest entry does not already say
 * they are encrypted to what it asks (no entry, other recipients), in byte
 * order: the only files a rekey may have to rewrite, as far as the manifest
 * can tell.
 */
export function rekeyCandidates(config: Config, store: KeyStore): string[] {
  const candidates: string[] = [];
  for (const secret of expectedFor(config).values()) {
    if (!store.encryptedFiles.has(secret.file)) continue;
    const entry = store.manifest.files[secret.file];
    if (entry === undefined || !sameRecipientList(entry.recipients, secret.recipients))
      candidates.push(secret.file);
  }
  return candidates;
}

/** The same recipients, whatever the order (as expected.ts's `sameRecipients`), without a set per file. */
function sameRecipientList(listed: readonly string[], wanted: readonly string[]): boolean {
  if (listed.length !== wanted.length) return false;
  for (const recipient of wanted) if (!listed.includes(recipient)) return false;
  return true;
}

/**
 * Read what `planRekey` judges: the candidate files (see `rekeyCandidates`),
 * or, with `checkAll`, every encrypted file of the store. `inspectStore`'s
 * result does as well, and reads everything.
 */
export async function inspectForRekey(
  config: Config,
  store: KeyStore,
  options: { checkAll?: boolean } = {},
): Promise<FileInspection> {
  return inspectFiles(
    config,
    store,
    options.checkAll ? store.encryptedFiles : rekeyCandidates(config, store),
  );
}

/**
 * Which present files need re-encrypting, judged from the files the
 * inspection read; a present file it did not read is one the manifest vouches
 * for (see `inspectForRekey`) and stays as it is. Missing files are keygen's
 * job and orphans prune's; neither is touched here.
 */
export function planRekey(inspection: FileInspection): RekeyPlan {
  const { config, store } = inspection;
  const plan: RekeyPlan = { files: [], unchanged: [] };
  for (const secret of expectedFor(config).values()) {
    if (!store.encryptedFiles.has(secret.file)) continue;
    const stale = inspection.files.has(secret.file) ? staleness(inspection, secret) : undefined;
    if (stale) plan.files.push({ secret, ...stale });
    else plan.unchanged.push(secret.file);
  }
  return plan;
}

export interface IdentitySource {
  /** Absolute path of the identity file. */
  file: string;
  identities: LoadedIdentity[];
}

export interface LoadedIdentities {
  sources: IdentitySource[];
  /** Every identity of every file, in the order given. */
  identities: LoadedIdentity[];
  /** Warnings for stderr: loose permissions, default files that could not be used. */
  warnings: string[];
}

/** agenix's defaults: `~/.ssh/id_ed25519`, then `~/.ssh/id_rsa`. */
export function defaultIdentityFiles(home: string | undefined): string[] {
  return home ? [join(home, ".ssh", "id_ed25519"), join(home, ".ssh", "id_rsa")] : [];
}

/**
 * Load identities from age identity files or unencrypted SSH private keys.
 * `files` given explicitly must all load; without them the defaults are used,
 * skipping those that do not exist or cannot be used (with a warning).
 */
export async function loadIdentityFiles(
  files: readonly string[],
  options: { cwd: string; home: string | undefined },
): Promise<LoadedIdentities> {
  const explicit = files.length > 0;
  const paths = explicit
    ? files.map((file) => resolve(options.cwd, file))
    : defaultIdentityFiles(options.home);
  const loaded: LoadedIdentities = { sources: [], identities: [], warnings: [] };
  const skipped: string[] = [];
  for (const file of paths) {
    let text: string;
    let mode: number;
    try {
      mode = (await stat(file)).mode;
      text = await readFile(file, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      if (explicit) throw new UsageError(`--identity: cannot read ${file} (${code})`);
      skipped.push(`${file} (${code === "ENOENT" ? "does not exist" : code})`);
      continue;
    }
    let identities: LoadedIdentity[];
    try {
      identities = parseIdentities(text, file);
    } catch (error) {
      if (explicit || !(error instanceof WgqtError)) throw error;
      loaded.warnings.push(`skipping ${error.message}`);
      skipped.push(`${file} (unusable)`);
      continue;
    }
    // Like ssh refusing a private key others can read: warn, since it is the key to everything.
    if (mode & 0o044) {
      loaded.warnings.push(
        `${file} is readable by ${mode & 0o004 ? "everyone" : "its group"} (mode ${(mode & 0o777).toString(8)}); it can decrypt the key store: chmod 600 it`,
      );
    }
    loaded.sources.push({ file, identities });
    loaded.identities.push(...identities);
  }
  if (loaded.identities.length === 0) {
    throw new UsageError(
      `no identity to decrypt with: pass --identity FILE (an admin's age identity or SSH private key)${skipped.length ? `; tried ${skipped.join(", ")}` : ""}`,
    );
  }
  return loaded;
}

export interface RekeyOptions {
  now: () => Date;
  log?: (line: string) => void;
  /** Runs once the files are written, before the journal goes: the git commit. */
  afterApply?: AfterApply;
}

/** The WireGuard key in a store file (base64), decrypted with the first identity that opens it. */
async function decryptKey(
  config: Config,
  identities: LoadedIdentities,
  secret: ExpectedSecret,
  bytes: Uint8Array,
): Promise<string> {
  const where = displayPath(config, secret.file);
  let plaintext: Uint8Array;
  try {
    plaintext = await decryptWith(bytes, identities.identities, where);
  } catch (error) {
    if (!(error instanceof KeyError)) throw error;
    throw new KeyError(
      `${error.message}; identities from ${identities.sources.map((source) => source.file).join(", ")} (pass --identity with an admin's key)`,
    );
  }
  try {
    return parseKeyFileContent(plaintext, where);
  } catch {
    // The decoder's message would quote the plaintext.
    throw new KeyError(`${where}: decrypts, but not to a WireGuard key; not re-encrypting it`);
  }
}

/**
 * Re-encrypt the planned files to the recipients wgqt.toml asks for. Every
 * file is decrypted first, so a file no identity opens stops the run before
 * anything is written. The manifest keeps each secret's `created` time.
 * Returns the absolute paths of every file changed.
 */
export async function applyRekey(
  config: Config,
  store: KeyStore,
  inspection: FileInspection,
  plan: RekeyPlan,
  identities: LoadedIdentities,
  options: RekeyOptions,
): Promise<string[]> {
  const log = options.log ?? (() => {});
  // Decrypted keys go to the workers (on all cores when there are many: an
  // admin added to a fleet re-encrypts every file) a batch at a time, so they
  // re-encrypt one batch while this thread decrypts the next.
  const pool = secretPool(plan.files.map(({ secret }) => secret));
  const parts: Promise<MadeSecret[]>[] = [];
  const handOver = (jobs: SecretJob[]) => {
    const part = pool.make(jobs);
    part.catch(() => {}); // awaited below; refused when a later file stops the run
    parts.push(part);
  };
  let made: MadeSecret[];
  try {
    let batch: SecretJob[] = [];
    for (const { secret } of plan.files) {
      const { bytes } = inspection.files.get(secret.file)!;
      const key = await decryptKey(config, identities, secret, bytes);
      batch.push({ kind: "re-encrypt", key, recipients: secret.recipients });
      if (batch.length === BATCH_SIZE) {
        handOver(batch);
        batch = [];
        // Let the workers' answers in, so they get their next batches.
        await new Promise(setImmediate);
      }
    }
    handOver(batch);
    made = (await Promise.all(parts)).flat();
  } finally {
    await pool.close();
  }
  const manifest = copyManifest(store.manifest);
  const tx = new Transaction(config.dir, options.afterApply);
  for (const [index, { secret }] of plan.files.entries()) {
    const previous = manifest.files[secret.file];
    const created = previous?.created ?? timestamp(options.now);
    const publicKey =
      secret.kind === "private-key"
        ? (previous?.public_key ?? store.machines[secret.machines[0]!]?.publicKey)
        : secret.kind === "vpn-private-key"
          ? previous?.public_key
          : undefined;
    manifest.files[secret.file] = stageSecret(
      store.dir,
      secret,
      made[index]!.ciphertext,
      created,
      tx,
      publicKey,
    );
    log(`re-encrypted ${displayPath(config, secret.file)}`);
  }
  writeGeneratedFiles(config, store.dir, manifest, store.publicKeys(), store.encryptedFiles, tx);
  return tx.commit(`wgqt: rekey (${describeRekey(plan)})`);
}

/** `1 private key + 2 preshared keys`, for messages and the commit subject. */
export function describeRekey(plan: RekeyPlan): string {
  const count = (kind: string) => plan.files.filter((file) => file.secret.kind === kind).length;
  const privateKeys = count("private-key");
  const presharedKeys = count("preshared-key");
  const vpnKeys = count("vpn-private-key") + count("vpn-preshared-key");
  const parts: string[] = [];
  if (privateKeys) parts.push(`${privateKeys} private ${privateKeys === 1 ? "key" : "keys"}`);
  if (presharedKeys)
    parts.push(`${presharedKeys} preshared ${presharedKeys === 1 ? "key" : "keys"}`);
  if (vpnKeys) parts.push(`${vpnKeys} VPN ${vpnKeys === 1 ? "key" : "keys"}`);
  return parts.join(" + ") || "nothing re-encrypted";
}
