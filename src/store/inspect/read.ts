/**
 * Reading the key store for inspection (`wgqt status`, `wgqt verify`,
 * `wgqt rekey`): each encrypted file's bytes, hash and header stanzas, the
 * generated files, leftover temp files and a pending journal. Everything
 * that judges what was read is pure and lives beside this module.
 */
import { lstatSync, readdirSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { readHeaderStanzas } from "../../age/header.js";
import type { Config } from "../../config/types.js";
import { WgqtError } from "../../errors.js";
import { expectedFor } from "../expected.js";
import { readStoreFileSync, sha256Hex, TEMP_PREFIX } from "../files.js";
import type { KeyStore } from "../keystore.js";
import { MACHINES_NIX, PRESHARED_DIR, SECRETS_NIX, VPN_DIR } from "../layout.js";
import { machineEntries, renderMachinesNix, renderSecretsNix } from "../nix.js";
import { JOURNAL_FILE } from "../transaction-journal.js";

/** One recipient stanza of a file's header, as far as it names its recipient. */
export interface StanzaSummary {
  /** `X25519`, `ssh-ed25519`, `ssh-rsa`, or another tool's type. */
  type: string;
  /** For SSH stanzas: the key tag. */
  tag?: string;
}

/** What is on disk for one encrypted file. */
export interface FileFacts {
  /** Store-relative path. */
  file: string;
  bytes: Uint8Array;
  sha256: string;
  /** The header's stanzas, or undefined when the header does not parse. */
  stanzas?: StanzaSummary[];
  /** Why the header does not parse. */
  headerError?: string;
}

/** Encrypted files read from the store, with the config and store they are judged against. */
export interface FileInspection {
  config: Config;
  store: KeyStore;
  /** The `.age` files read, by store-relative path, in byte order. */
  files: Map<string, FileFacts>;
}

/** Everything `status` and `verify` look at, read once. */
export interface Inspection extends FileInspection {
  /** Every `.age` file present, by store-relative path, in byte order. */
  files: Map<string, FileFacts>;
  /** Generated files: what is on disk (undefined when missing) and what wgqt.toml makes. */
  generated: { file: string; current?: string; expected: string }[];
  /** Store-relative paths of leftover temp files from an interrupted write. */
  tempFiles: string[];
  /** Store-relative path of the journal of an interrupted change, when one is pending. */
  pendingJournal?: string;
}

/**
 * What is on disk for one encrypted file: its bytes, their hash and the
 * header's stanzas. A file that has gone since the store was listed reads as
 * empty (and so as unreadable). Synchronous: these files are a few hundred
 * bytes, and a thread-pool round trip per open, read and close costs several
 * times the reads themselves across thousands of files.
 */
function readFileFacts(dir: string, file: string): FileFacts {
  // join(dir, file) for a name from the listing, without normalising thousands of paths;
  // the bytes as read, not copied: nothing changes them.
  const bytes: Uint8Array = readStoreFileSync(`${dir}${sep}${file}`) ?? new Uint8Array();
  const facts: FileFacts = { file, bytes, sha256: sha256Hex(bytes) };
  try {
    facts.stanzas = readHeaderStanzas(bytes).map((stanza) =>
      stanza.type === "ssh-ed25519" || stanza.type === "ssh-rsa"
        ? { type: stanza.type, tag: stanza.args[0] ?? "" }
        : { type: stanza.type },
    );
  } catch (error) {
    if (!(error instanceof WgqtError)) throw error;
    facts.headerError = error.message;
  }
  return facts;
}

/**
 * Read the header and hash of the given encrypted files only (store-relative
 * paths of files present): what `rekey` needs to judge the files it may
 * rewrite, without reading the whole store.
 */
export async function inspectFiles(
  config: Config,
  store: KeyStore,
  files: Iterable<string>,
  onProgress?: (done: number) => void,
): Promise<FileInspection> {
  const read = new Map<string, FileFacts>();
  for (const file of [...files].sort()) {
    read.set(file, readFileFacts(store.dir, file));
    // A progress bar is drawn between files: let the event loop turn now and then.
    if (onProgress !== undefined && read.size % PROGRESS_STEP === 0) {
      onProgress(PROGRESS_STEP);
      await new Promise(setImmediate);
    }
  }
  return { config, store, files: read };
}

/** Files read between two reports to `onProgress`. */
const PROGRESS_STEP = 256;

/**
 * Read every encrypted file's header and hash, the generated files and any leftover temp files.
 *
 * @param onProgress - Called with the number of files read since the last call.
 * @throws {StoreError} when a store file cannot be read, or is a symlink or not a regular file.
 */
export async function inspectStore(
  config: Config,
  store: KeyStore,
  onProgress?: (done: number) => void,
): Promise<Inspection> {
  const { files } = await inspectFiles(config, store, store.encryptedFiles, onProgress);
  const generated = [
    { file: SECRETS_NIX, expected: renderSecretsNix(expectedFor(config).values()) },
    {
      file: MACHINES_NIX,
      expected: renderMachinesNix(machineEntries(config, store.publicKeys(), store.encryptedFiles)),
    },
  ].map((entry) => {
    const current = readStoreFileSync(join(store.dir, entry.file));
    return current === undefined ? entry : { ...entry, current: current.toString("utf8") };
  });
  const inspection: Inspection = {
    config,
    store,
    files,
    generated,
    tempFiles: await findTempFiles(store),
  };
  const journal = join(config.dir, JOURNAL_FILE);
  if (lstatSync(journal, { throwIfNoEntry: false }) !== undefined)
    inspection.pendingJournal = relative(store.dir, journal);
  return inspection;
}

/**
 * Store-relative paths of temp files an interrupted write left in the store, in byte order.
 *
 * @throws {StoreError} when the store cannot be listed.
 */
export async function findTempFiles(store: KeyStore): Promise<string[]> {
  const tempFiles: string[] = [];
  for (const [sub, prefix] of [
    [store.dir, ""],
    [join(store.dir, PRESHARED_DIR), `${PRESHARED_DIR}/`],
    [join(store.dir, VPN_DIR), `${VPN_DIR}/`],
  ] as const) {
    let names: string[];
    try {
      names = readdirSync(sub);
    } catch {
      names = [];
    }
    for (const name of names.sort())
      if (name.startsWith(TEMP_PREFIX)) tempFiles.push(`${prefix}${name}`);
  }
  return tempFiles;
}
