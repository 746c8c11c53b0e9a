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
import { join, relative, resolve, sep } from "node:path";
import { decryptWith, type LoadedIdentity, parseIdentities } from "../age/index.js";
import type { Config } from "../config/types.js";
import { KeyError, quote, StoreError, UsageError, WgqtError } from "../errors.js";
import { parseKeyFileContent, publicKeyOf } from "../keys/wireguard.js";
import { beginChange, finishChange, timestamp } from "./apply.js";
import { type ExpectedSecret, expectedFor } from "./expected.js";
import { foreignReaders } from "./inspect/access.js";
import { displayPath, labelled } from "./inspect/names.js";
import { staleness } from "./inspect/problems.js";
import { type FileInspection, inspectFiles } from "./inspect/read.js";
import type { KeyStore } from "./keystore.js";
import { publicKeyFile } from "./layout.js";
import { BATCH_SIZE, type MadeSecret, type SecretJob, secretPool } from "./secrets.js";
import type { AfterApply } from "./transaction.js";
import { checkPublicKeys, missingPublicKey, stageSecret } from "./write.js";

/** A file to re-encrypt, and how its recipients change. */
export interface RekeyFile {
  secret: ExpectedSecret;
  /** Recipients wgqt.toml adds to the file. */
  added: string[];
  /** Recipients that lose access. */
  removed: string[];
  /** Set when the manifest cannot vouch for the file (missing entry, changed bytes, header disagrees). */
  untrusted?: string;
}

/** What {@link applyRekey} re-encrypts, and what it leaves alone. */
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

/** The same recipients, whatever the order (order does not change who can decrypt), without a set per file. */
function sameRecipientList(listed: readonly string[], wanted: readonly string[]): boolean {
  if (listed.length !== wanted.length) return false;
  for (const recipient of wanted) if (!listed.includes(recipient)) return false;
  return true;
}

/**
 * Read what `planRekey` judges: the candidate files (see `rekeyCandidates`),
 * or, with `checkAll`, every encrypted file of the store. `inspectStore`'s
 * result does as well, and reads everything.
 *
 * @throws {StoreError} when a store file cannot be read, or is a symlink or not a regular file.
 */
export async function inspectForRekey(
  config: Config,
  store: KeyStore,
  options: { checkAll?: boolean; accept?: ReadonlySet<string> } = {},
): Promise<FileInspection> {
  const files = new Set(options.checkAll ? store.encryptedFiles : rekeyCandidates(config, store));
  for (const file of options.accept ?? []) if (store.encryptedFiles.has(file)) files.add(file);
  return inspectFiles(config, store, files);
}

/**
 * The store-relative files `--accept` names (paths as the user gives them,
 * resolved against `cwd`): each must be an encrypted file of the store that
 * wgqt.toml asks for.
 */
export function acceptedFiles(
  config: Config,
  store: KeyStore,
  paths: readonly string[],
  cwd: string,
): Set<string> {
  const accepted = new Set<string>();
  const expected = expectedFor(config);
  for (const path of paths) {
    const file = relative(store.dir, resolve(cwd, path)).split(sep).join("/");
    if (!expected.has(file) || !store.encryptedFiles.has(file)) {
      throw new UsageError(
        "usage/bad-value",
        `${quote(path)} is not a key file in ${config.keysDirSetting} that wgqt.toml asks for`,
        { field: "accept" },
      );
    }
    accepted.add(file);
  }
  return accepted;
}

/**
 * Why the planned rekey must not run, naming the first file concerned (and
 * how many more there are); undefined when it may. Nothing is re-encrypted,
 * and so vouched for again in manifest.json, that wgqt cannot vouch for:
 * - a machine whose `.age` is there without its `.pub`, or whose `.pub` is
 *   not the one manifest.json records (see checkPublicKeys);
 * - a file whose header or manifest entry says a key wgqt.toml gives to
 *   other machines only can read it (`foreignReaders`): another machine's
 *   secret under this name (swapped, manifest and all), or one that machine
 *   has been able to read;
 * - a file changed since wgqt wrote it (bytes, header, no manifest entry).
 * Either is re-encrypted only when `accepted` names it: changed on purpose
 * (`agenix -e`), or read by a host key this machine shared with others until
 * wgqt.toml gave it a new one. A private key is also checked against its
 * `.pub` once decrypted (applyRekey), accepted or not.
 */
export function rekeyRefusal(
  inspection: FileInspection,
  plan: RekeyPlan,
  accepted: ReadonlySet<string> = new Set(),
): string | undefined {
  const { config, store } = inspection;
  try {
    checkPublicKeys(
      config,
      store.dir,
      store.manifest,
      store.publicKeys(),
      store.encryptedFiles,
      accepted,
    );
  } catch (error) {
    if (error instanceof StoreError) return error.message;
    throw error;
  }
  const refusals: string[] = [];
  for (const { secret, untrusted } of plan.files) {
    if (accepted.has(secret.file)) continue;
    const where = displayPath(config, secret.file);
    const foreign = foreignReaders(inspection, secret);
    if (foreign.length > 0) {
      const whose = foreign.map((reader) => labelled(config, reader.recipient)).join(", ");
      refusals.push(
        `${where}: can be read by ${whose}, a key wgqt.toml gives to other machines; re-encrypting it would vouch for another machine's secret (a swapped or planted file? restore it from git, or replace the key: ${rotateHint(secret)}; if that key was this machine's too, a host key shared with them: wgqt rekey --accept ${where})`,
      );
    } else if (untrusted !== undefined) {
      refusals.push(
        `${where}: ${untrusted}; wgqt does not re-encrypt a file it cannot vouch for (restore it from git; if you changed it on purpose, e.g. with agenix -e: wgqt rekey --accept ${where})`,
      );
    }
  }
  if (refusals.length === 0) return undefined;
  const more = refusals.length - 1;
  return `${refusals[0]}${more ? `; and ${more} more ${more === 1 ? "file" : "files"} (wgqt verify lists them)` : ""}`;
}

/** How to replace a secret with a new one, for messages. */
function rotateHint(secret: ExpectedSecret): string {
  if (secret.kind === "private-key") return `wgqt rotate --machine ${secret.machines[0]}`;
  if (secret.kind === "preshared-key") return `wgqt rotate --pair ${secret.machines.join(" ")}`;
  return `re-import the provider's file: wgqt vpn import ${secret.vpn} --from FILE --machine ${secret.machines[0]} --yes`;
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

/** The identities loaded from one file. */
export interface IdentitySource {
  /** Absolute path of the identity file. */
  file: string;
  identities: LoadedIdentity[];
}

/** What {@link loadIdentityFiles} loaded, and what it warns about. */
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
 *
 * @throws {UsageError} when a file given cannot be read, or none of the default files can be used.
 * @throws {KeyError} when a file given holds no usable identity.
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
      if (explicit)
        throw new UsageError("usage/unreadable", `cannot read ${file} (${code})`, {
          field: "identity",
        });
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
      "usage/missing",
      `no identity to decrypt with: pass --identity FILE (an admin's age identity or SSH private key)${skipped.length ? `; tried ${skipped.join(", ")}` : ""}`,
    );
  }
  return loaded;
}

/**
 * How {@link applyRekey} runs: like {@link ApplyOptions}, plus the files accepted as changed on purpose.
 */
export interface RekeyOptions {
  /** The clock for the manifest. */
  now: () => Date;
  /** Store-relative files changed outside wgqt on purpose, to re-encrypt and record (see rekeyRefusal). */
  accept?: ReadonlySet<string>;
  /** Progress lines (never secrets). */
  log?: (line: string) => void;
  /** Runs once the files are written, before the journal goes: the git commit. */
  afterApply?: AfterApply;
  /** Called once per file decrypted (a progress bar). */
  onProgress?: (done: number) => void;
}

/**
 * The WireGuard key in a store file (base64), decrypted with the first
 * identity that opens it; a private key must match its machine's `.pub`, and
 * a VPN's the public key recorded for it unless the file is `accepted`.
 */
async function decryptKey(
  config: Config,
  store: KeyStore,
  identities: LoadedIdentities,
  secret: ExpectedSecret,
  bytes: Uint8Array,
  accepted: boolean,
): Promise<string> {
  const where = displayPath(config, secret.file);
  let plaintext: Uint8Array;
  try {
    plaintext = await decryptWith(bytes, identities.identities, where);
  } catch (error) {
    if (!(error instanceof KeyError)) throw error;
    throw new KeyError(
      error.code,
      `${error.message}; identities from ${identities.sources.map((source) => source.file).join(", ")} (pass --identity with an admin's key)`,
    );
  }
  let key: string;
  try {
    key = parseKeyFileContent(plaintext, where);
  } catch {
    // The decoder's message would quote the plaintext.
    throw new KeyError(
      "key/invalid",
      `${where}: decrypts, but not to a WireGuard key; not re-encrypting it`,
    );
  }
  if (secret.kind === "private-key") {
    // The key must be the one the fleet knows this machine by: a private key
    // swapped in from another machine's file would otherwise be re-encrypted
    // to this machine.
    const machine = secret.machines[0]!;
    const publicKey = store.machines[machine]?.publicKey;
    if (publicKey === undefined) throw missingPublicKey(store.dir, machine);
    if (publicKeyOf(key, where) !== publicKey) {
      throw new KeyError(
        "key/mismatch",
        `${where}: holds the private key of another public key than ${publicKeyFile(machine)} (swapped with another machine's file? restore it from git, or wgqt rotate --machine ${machine}); nothing was written`,
      );
    }
  }
  if (secret.kind === "vpn-private-key" && !accepted) {
    const recorded = store.manifest.files[secret.file]?.public_key;
    if (recorded !== undefined && publicKeyOf(key, where) !== recorded) {
      throw new KeyError(
        "key/mismatch",
        `${where}: holds a private key whose public key is not the one manifest.json records for VPN ${secret.vpn}; nothing was written`,
      );
    }
  }
  return key;
}

/**
 * Re-encrypt the planned files to the recipients wgqt.toml asks for. Every
 * file is decrypted first, so a file no identity opens stops the run before
 * anything is written. The manifest keeps each secret's `created` time.
 * Returns the absolute paths of every file changed.
 *
 * @throws {StoreError} when a file changed outside wgqt (and is not in `accept`), or a file cannot be written; nothing is changed then.
 * @throws {KeyError} when no identity decrypts a file, or it does not hold the key it should.
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
  const accept = options.accept ?? new Set<string>();
  const refusal = rekeyRefusal(inspection, plan, accept);
  if (refusal !== undefined) throw new StoreError("store/unvouched", refusal);
  /** Public keys of accepted VPN keys, from the keys themselves. */
  const vpnPublicKeys = new Map<string, string>();
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
      const accepted = accept.has(secret.file);
      const key = await decryptKey(config, store, identities, secret, bytes, accepted);
      options.onProgress?.(1);
      if (accepted && secret.kind === "vpn-private-key")
        vpnPublicKeys.set(secret.file, publicKeyOf(key, secret.file));
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
  const change = beginChange(config, store, options.afterApply);
  for (const [index, { secret }] of plan.files.entries()) {
    const previous = change.manifest.files[secret.file];
    const created = previous?.created ?? timestamp(options.now);
    // A private key was checked against its `.pub` when it was decrypted.
    const publicKey =
      secret.kind === "private-key"
        ? store.machines[secret.machines[0]!]?.publicKey
        : secret.kind === "vpn-private-key"
          ? (vpnPublicKeys.get(secret.file) ?? previous?.public_key)
          : undefined;
    change.manifest.files[secret.file] = stageSecret(
      store.dir,
      secret,
      made[index]!.ciphertext,
      created,
      change.tx,
      publicKey,
    );
    log(`re-encrypted ${displayPath(config, secret.file)}`);
  }
  return finishChange(config, change, `wgqt: rekey (${describeRekey(plan)})`);
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
