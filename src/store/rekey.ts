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
import { relative, resolve, sep } from "node:path";
import type { Config } from "../config/types.js";
import { quote, StoreError, UsageError } from "../errors.js";
import { type ExpectedSecret, expectedFor } from "./expected.js";
import { foreignReaders } from "./inspect/access.js";
import { displayPath, labelled } from "./inspect/names.js";
import { staleness } from "./inspect/problems.js";
import { type FileInspection, inspectFiles } from "./inspect/read.js";
import type { KeyStore } from "./keystore.js";
import { checkPublicKeys } from "./write.js";

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
