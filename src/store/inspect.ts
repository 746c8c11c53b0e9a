/**
 * Inspecting the key store against `wgqt.toml`: who can decrypt each file and
 * what is wrong (`wgqt status`, `wgqt verify`). `inspectStore` does the
 * reading; everything after it is pure.
 *
 * The truth about who can decrypt a file is in the file's age header, not in
 * our manifest: SSH stanzas carry a key tag (agessh: the first 4 bytes of
 * SHA-256 over the public key blob), so they name their recipient; X25519
 * stanzas carry only an ephemeral share and name nobody (age-encryption.org/v1,
 * "X25519 recipient stanza"), so for those we can only count. The manifest
 * fills in what the header cannot say, and is checked against it.
 */
import { lstatSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, posix, relative, sep } from "node:path";
import { decryptWith, type LoadedIdentity, readHeader, sshKeyTag } from "../age/index.js";
import { pairsOf } from "../config/peers.js";
import { type Config, vpnsOf } from "../config/types.js";
import { WgqtError } from "../errors.js";
import { parseKeyFileContent, publicKeyOf } from "../keys/wireguard.js";
import { type ExpectedSecret, expectedFor, managedMachines, type SecretKind } from "./expected.js";
import { readStoreFile, readStoreFileSync, TEMP_PREFIX } from "./files.js";
import type { KeyStore } from "./keystore.js";
import {
  MACHINES_NIX,
  MANIFEST_FILE,
  PRESHARED_DIR,
  parseVpnFile,
  privateKeyFile,
  publicKeyFile,
  SECRETS_NIX,
  VPN_DIR,
  vpnKeyFile,
  vpnPresharedKeyFile,
} from "./layout.js";
import { renderMachinesNix, renderSecretsNix } from "./nix.js";
import { JOURNAL_FILE } from "./transaction.js";
import { machineEntries, sha256Hex } from "./write.js";

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
  const read = readStoreFileSync(join(dir, file));
  const bytes = read === undefined ? new Uint8Array() : new Uint8Array(read);
  const facts: FileFacts = { file, bytes, sha256: sha256Hex(bytes) };
  try {
    facts.stanzas = readHeader(bytes).stanzas.map((stanza) =>
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
  ].map(async (entry) => {
    const current = await readStoreFile(join(store.dir, entry.file));
    return current === undefined ? entry : { ...entry, current: current.toString("utf8") };
  });
  const inspection: Inspection = {
    config,
    store,
    files,
    generated: await Promise.all(generated),
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
    const names = await readdir(sub).catch(() => [] as string[]);
    for (const name of names.sort())
      if (name.startsWith(TEMP_PREFIX)) tempFiles.push(`${prefix}${name}`);
  }
  return tempFiles;
}

/** A store-relative path as the user sees it: relative to `wgqt.toml`'s directory, '/'-separated. */
export function displayPath(config: Config, file: string): string {
  return relative(config.dir, join(config.keysDir, file)).split(sep).join(posix.sep);
}

/** A recipient shortened for one-line messages: `age1qy8…x7kq`, `ssh-ed25519 …Tq3w9Zk`. */
export function shortRecipient(recipient: string): string {
  const [type, blob] = recipient.split(" ");
  if (blob === undefined)
    return recipient.length > 16 ? `${recipient.slice(0, 8)}…${recipient.slice(-6)}` : recipient;
  return `${type} …${blob.slice(-10)}`;
}

/**
 * Each recipient of a config with its owners, built once per config (a
 * config is never changed after it is parsed): asked for every recipient of
 * every file, a scan of all machines each time grows with files × machines.
 */
const ownerIndexes = new WeakMap<Config, Map<string, readonly string[]>>();

function ownerIndex(config: Config): Map<string, readonly string[]> {
  let index = ownerIndexes.get(config);
  if (index !== undefined) return index;
  const owners = new Map<string, string[]>();
  for (const name of Object.keys(config.machines).sort()) {
    for (const recipient of config.machines[name]!.recipients) {
      const list = owners.get(recipient);
      if (list === undefined) owners.set(recipient, [name]);
      else if (list.at(-1) !== name) list.push(name); // a recipient listed twice by one machine
    }
  }
  for (const recipient of new Set(config.admins)) {
    const list = owners.get(recipient);
    if (list === undefined) owners.set(recipient, ["admin"]);
    else list.push("admin");
  }
  index = owners;
  ownerIndexes.set(config, index);
  return index;
}

/** Who a recipient is in `wgqt.toml`: machine names and/or `admin`; empty when no longer there. */
export function ownersOf(config: Config, recipient: string): string[] {
  return ownerIndex(config).get(recipient)?.slice() ?? [];
}

/** A recipient with who it is: `nyaa's ssh-ed25519 …abc`, `admin age1…`, or the bare key. */
export function labelled(config: Config, recipient: string): string {
  const owners = ownersOf(config, recipient);
  const who = owners.map((owner) => (owner === "admin" ? "admin" : `${owner}'s`)).join("/");
  return `${who ? `${who} ` : ""}${shortRecipient(recipient)}`;
}

/** Whether a file's header backs one recipient up. */
export type HeaderEvidence =
  /** An SSH stanza with this key's tag is in the header. */
  | "present"
  /** No stanza of this recipient's type (or, for SSH, with its tag) is in the header. */
  | "absent"
  /** X25519: the header has X25519 stanzas, but they do not say whose. */
  | "unattributable";

/** One recipient of a file, and what the header and the manifest say about it. */
export interface FileReader {
  recipient: string;
  kind: "x25519" | "ssh-ed25519" | "ssh-rsa";
  /** Machine names and/or `admin` this recipient belongs to in wgqt.toml. */
  owners: string[];
  /** Listed for this file in manifest.json. */
  inManifest: boolean;
  header: HeaderEvidence;
  /**
   * Best knowledge: the header says so (SSH), or the manifest does and the
   * header does not contradict it (X25519). null: cannot tell, because the
   * header has fewer X25519 stanzas than the manifest lists X25519 recipients.
   */
  canDecrypt: boolean | null;
}

/** Who can decrypt one file: what {@link fileAccess} works out. */
export interface FileAccess {
  /** Recipients listed in the manifest, and any other known recipient whose SSH tag is in the header. */
  readers: FileReader[];
  /** Stanzas that match no reader: unknown SSH tags, surplus X25519 stanzas, other types. */
  unattributed: StanzaSummary[];
  /** Number of stanzas in the header (grease stanzas left out); undefined when it does not parse. */
  stanzaCount?: number;
}

/**
 * Every recipient wgqt knows of (wgqt.toml and the manifest), by SSH key tag.
 * Built once per inspection (the same recipients recur in every file), and
 * only when a header has a stanza its manifest entry does not account for.
 */
const tagMaps = new WeakMap<FileInspection, Map<string, string>>();

function recipientsByTag(inspection: FileInspection): Map<string, string> {
  const cached = tagMaps.get(inspection);
  if (cached) return cached;
  const byTag = new Map<string, string>();
  const known = new Set<string>();
  for (const machine of Object.values(inspection.config.machines))
    for (const recipient of machine.recipients) known.add(recipient);
  for (const recipient of inspection.config.admins) known.add(recipient);
  const { files } = inspection.store.manifest;
  for (const file in files) for (const recipient of files[file]!.recipients) known.add(recipient);
  for (const recipient of known) {
    const tag = recipientKeyOf(inspection, recipient)?.tag;
    if (tag !== undefined) byTag.set(`${recipient.split(" ")[0]} ${tag}`, recipient);
  }
  tagMaps.set(inspection, byTag);
  return byTag;
}

/**
 * The kind and, for SSH keys, the agessh key tag of a recipient in the
 * normalised form wgqt.toml and the manifest hold (`age1…`, `<type> <base64>`);
 * undefined for anything else (a manifest edited by hand).
 */
function recipientKey(recipient: string): RecipientKey | undefined {
  if (recipient.startsWith("age1")) return { kind: "x25519" };
  const [type, blob] = recipient.split(" ");
  if ((type !== "ssh-ed25519" && type !== "ssh-rsa") || !blob) return undefined;
  return { kind: type, tag: sshKeyTag(Buffer.from(blob, "base64")) };
}

interface RecipientKey {
  kind: FileReader["kind"];
  tag?: string;
}

/**
 * `recipientKey`, worked out once per recipient and inspection: the same few
 * recipients are listed by thousands of files, and a key tag is a SHA-256.
 */
const recipientKeys = new WeakMap<FileInspection, Map<string, RecipientKey | undefined>>();

function recipientKeyOf(inspection: FileInspection, recipient: string): RecipientKey | undefined {
  let keys = recipientKeys.get(inspection);
  if (keys === undefined) {
    keys = new Map();
    recipientKeys.set(inspection, keys);
  }
  if (keys.has(recipient)) return keys.get(recipient);
  const key = recipientKey(recipient);
  keys.set(recipient, key);
  return key;
}

/** Who can decrypt one file, from its header, backed by the manifest where the header is silent. */
export function fileAccess(inspection: FileInspection, file: string): FileAccess {
  const { config, store } = inspection;
  const facts = inspection.files.get(file);
  const listed = store.manifest.files[file]?.recipients ?? [];
  // rage and others add "<random>-grease" stanzas nobody can open; they mean nothing.
  const stanzas = facts?.stanzas?.filter((stanza) => !stanza.type.endsWith("-grease"));
  const remaining = [...(stanzas ?? [])];
  const take = (match: (stanza: StanzaSummary) => boolean): boolean => {
    const index = remaining.findIndex(match);
    if (index >= 0) remaining.splice(index, 1);
    return index >= 0;
  };
  const readers: FileReader[] = [];
  for (const recipient of listed) {
    const key = recipientKeyOf(inspection, recipient);
    if (!key) continue;
    const { kind, tag } = key;
    const header: HeaderEvidence =
      kind === "x25519"
        ? "unattributable"
        : take((stanza) => stanza.type === kind && stanza.tag === tag)
          ? "present"
          : "absent";
    readers.push({
      recipient,
      kind,
      owners: ownersOf(config, recipient),
      inManifest: true,
      header,
      canDecrypt: header !== "absent",
    });
  }
  // Listed X25519 recipients and X25519 stanzas cannot be paired up, only counted:
  // with no X25519 stanza at all, none of them can decrypt; surplus stanzas are someone else's.
  const x25519Listed = readers.filter((reader) => reader.kind === "x25519");
  const x25519InHeader = remaining.filter((stanza) => stanza.type === "X25519").length;
  for (const reader of x25519Listed) {
    if (x25519InHeader === 0) Object.assign(reader, { header: "absent", canDecrypt: false });
    else if (x25519InHeader < x25519Listed.length) reader.canDecrypt = null;
  }
  for (let i = 0; i < Math.min(x25519Listed.length, x25519InHeader); i++)
    take((stanza) => stanza.type === "X25519");
  const unattributed: StanzaSummary[] = [];
  for (const stanza of remaining) {
    const recipient =
      stanza.tag === undefined
        ? undefined
        : recipientsByTag(inspection).get(`${stanza.type} ${stanza.tag}`);
    if (recipient !== undefined && !readers.some((reader) => reader.recipient === recipient)) {
      readers.push({
        recipient,
        kind: stanza.type as FileReader["kind"],
        owners: ownersOf(config, recipient),
        inManifest: false,
        header: "present",
        canDecrypt: true,
      });
    } else {
      unattributed.push(stanza);
    }
  }
  if (stanzas === undefined) for (const reader of readers) reader.canDecrypt = false;
  const access: FileAccess = { readers, unattributed };
  if (stanzas !== undefined) access.stanzaCount = stanzas.length;
  return access;
}

/**
 * Who can read a file although wgqt.toml gives their key to other machines
 * only: not to the file's own machine(s), not to an admin. The header (SSH
 * key tags) or the manifest says they can. A key wgqt.toml no longer lists
 * at all is a removed recipient, not a foreign one. Such a file is another
 * machine's secret under this name (swapped, or planted), or one that other
 * machine has been able to read: re-encrypting it would hand its secret on.
 */
export function foreignReaders(inspection: FileInspection, secret: ExpectedSecret): FileReader[] {
  return fileAccess(inspection, secret.file).readers.filter(
    (reader) =>
      reader.canDecrypt !== false &&
      reader.owners.length > 0 &&
      !reader.owners.some((owner) => owner === "admin" || secret.machines.includes(owner)),
  );
}

/** The kinds of {@link Problem} `status` and `verify` report. */
export type ProblemKind =
  | "missing-key"
  | "missing-public-key"
  | "missing-preshared-key"
  | "orphan"
  | "stale-recipients"
  | "manifest-mismatch"
  | "header-mismatch"
  | "checksum-mismatch"
  | "unreadable"
  | "public-key-mismatch"
  | "undecryptable"
  | "generated-outdated"
  | "temp-file"
  | "interrupted-change";

interface ProblemBase {
  /** Store-relative path of the file concerned. */
  file: string;
  /** One line for humans and CI logs, naming the file relative to wgqt.toml. */
  message: string;
}

/** Something `verify` fails on. */
export type Problem =
  | (ProblemBase & { kind: Exclude<ProblemKind, "stale-recipients"> })
  | (ProblemBase & {
      kind: "stale-recipients";
      /** Asked for by wgqt.toml, but cannot decrypt the file yet. */
      added: string[];
      /** No longer asked for, but can still decrypt the file. */
      removed: string[];
    });

/**
 * Why a present, expected file should be re-encrypted (`wgqt rekey`):
 * undefined when its recipients are exactly what wgqt.toml asks and the
 * manifest and header agree on it.
 */
export function staleness(
  inspection: FileInspection,
  secret: ExpectedSecret,
): { added: string[]; removed: string[]; untrusted?: string } | undefined {
  const entry = inspection.store.manifest.files[secret.file];
  const facts = inspection.files.get(secret.file);
  if (!facts) return undefined;
  if (!entry) return { added: [], removed: [], untrusted: "not recorded in manifest.json" };
  const { added, removed } = recipientChanges(entry.recipients, secret.recipients);
  let untrusted: string | undefined;
  if (facts.sha256 !== entry.sha256)
    untrusted = "changed since wgqt wrote it (sha256 differs from manifest.json)";
  else if (headerProblem(inspection, secret.file))
    untrusted = "header disagrees with manifest.json";
  if (added.length + removed.length === 0 && untrusted === undefined) return undefined;
  return untrusted === undefined ? { added, removed } : { added, removed, untrusted };
}

/** Recipients wgqt.toml asks for that the manifest does not list, and the other way round. */
function recipientChanges(
  listed: readonly string[],
  wanted: readonly string[],
): { added: string[]; removed: string[] } {
  const current = new Set(listed);
  const asked = new Set(wanted);
  return {
    added: wanted.filter((recipient) => !current.has(recipient)),
    removed: listed.filter((recipient) => !asked.has(recipient)),
  };
}

/** What the header says that the manifest does not, in words; undefined when they agree. */
function headerProblem(inspection: FileInspection, file: string): string | undefined {
  const facts = inspection.files.get(file);
  if (!facts?.stanzas || !inspection.store.manifest.files[file]) return undefined;
  const access = fileAccess(inspection, file);
  const details: string[] = [];
  for (const reader of access.readers) {
    if (reader.inManifest && reader.header === "absent")
      details.push(`${shortRecipient(reader.recipient)} listed but not in the header`);
    if (!reader.inManifest)
      details.push(`${shortRecipient(reader.recipient)} in the header but not listed`);
  }
  for (const stanza of access.unattributed) {
    details.push(
      stanza.tag === undefined
        ? `an unlisted ${stanza.type} stanza`
        : `an unknown ${stanza.type} stanza (key tag ${stanza.tag})`,
    );
  }
  const listed = inspection.store.manifest.files[file]!.recipients.length;
  if (details.length === 0 && access.stanzaCount !== listed) {
    details.push(`${access.stanzaCount} stanzas for ${listed} listed recipients`);
  }
  return details.length ? details.join("; ") : undefined;
}

/** Every problem, each once, sorted by file. Pure. */
export function findProblems(inspection: Inspection): Problem[] {
  const { config, store } = inspection;
  const problems: Problem[] = [];
  const at = (file: string) => displayPath(config, file);
  const add = (kind: Exclude<ProblemKind, "stale-recipients">, file: string, text: string) => {
    problems.push({ kind, file, message: `${at(file)}: ${text}` });
  };
  const expected = expectedFor(config);

  for (const name of managedMachines(config)) {
    const file = privateKeyFile(name);
    // A machine in no proxy has no peer to need its keypair yet (keygen makes it
    // when one does): a commit that only adds the machine is complete as it is.
    if (
      !store.encryptedFiles.has(file) &&
      !store.publicKeyFiles.has(publicKeyFile(name)) &&
      pairsOf(config, name).length === 0
    )
      continue;
    if (!store.encryptedFiles.has(file))
      add(
        "missing-key",
        file,
        `missing: no private key for ${name} (run wgqt keygen --machine ${name})`,
      );
    else if (!store.publicKeyFiles.has(publicKeyFile(name))) {
      add(
        "missing-public-key",
        publicKeyFile(name),
        `missing: ${name}'s public key (restore it from git, or wgqt rotate --machine ${name})`,
      );
    } else {
      const recorded = store.manifest.files[file]?.public_key;
      const actual = store.machines[name]?.publicKey;
      if (recorded !== undefined && recorded !== actual) {
        add(
          "public-key-mismatch",
          publicKeyFile(name),
          `differs from the public key recorded for ${at(file)} in manifest.json (an interrupted write? restore from git, or wgqt rotate --machine ${name})`,
        );
      }
    }
  }
  for (const name of Object.keys(config.machines).sort()) {
    const own = config.machines[name]!.publicKey;
    if (own === undefined) continue;
    const actual = store.machines[name]?.publicKey;
    if (actual === undefined)
      add(
        "missing-public-key",
        publicKeyFile(name),
        `missing: ${name}'s own public key from wgqt.toml (run wgqt keygen)`,
      );
    else if (actual !== own)
      add(
        "public-key-mismatch",
        publicKeyFile(name),
        `differs from machines.${name}.public_key in wgqt.toml (run wgqt keygen)`,
      );
  }
  for (const secret of expected.values()) {
    if (secret.kind === "preshared-key" && !store.encryptedFiles.has(secret.file)) {
      add(
        "missing-preshared-key",
        secret.file,
        `missing: no preshared key for ${secret.machines.join("+")} (run wgqt keygen)`,
      );
    }
  }
  for (const secret of expected.values()) {
    if (secret.vpn === undefined || store.encryptedFiles.has(secret.file)) continue;
    const how = `wgqt vpn import ${secret.vpn} --from FILE --machine ${secret.machines[0]}`;
    if (secret.kind === "vpn-private-key")
      add(
        "missing-key",
        secret.file,
        `missing: no provider key for VPN ${secret.vpn} (import the provider's file: ${how})`,
      );
    else
      add(
        "missing-preshared-key",
        secret.file,
        `missing: no preshared key for VPN ${secret.vpn}, though vpns.${secret.vpn}.preshared_key is true (re-import the provider's file: ${how})`,
      );
  }
  for (const file of orphanFiles(config, store))
    add("orphan", file, `orphaned: ${orphanReason(config, file)} (wgqt prune removes it)`);

  for (const [file, facts] of inspection.files) {
    const entry = store.manifest.files[file];
    if (facts.headerError !== undefined)
      add("unreadable", file, `not a readable age file: ${facts.headerError}`);
    if (!entry) {
      add(
        "manifest-mismatch",
        file,
        `not recorded in manifest.json (written outside wgqt? if it is yours: wgqt rekey --accept ${at(file)})`,
      );
      continue;
    }
    if (facts.sha256 !== entry.sha256)
      add(
        "checksum-mismatch",
        file,
        `changed outside wgqt: sha256 differs from manifest.json (restore it from git; if you changed it on purpose, e.g. with agenix -e: wgqt rekey --accept ${at(file)})`,
      );
    const disagreement = headerProblem(inspection, file);
    if (disagreement)
      add("header-mismatch", file, `header disagrees with manifest.json: ${disagreement}`);
    const secret = expected.get(file);
    // Recipients only: staleness() would judge the header a second time.
    const stale = secret && recipientChanges(entry.recipients, secret.recipients);
    if (stale && stale.added.length + stale.removed.length > 0) {
      const parts = [
        ...stale.removed.map(
          (recipient) =>
            `${labelled(config, recipient)}${ownersOf(config, recipient).length ? "" : " (no longer in wgqt.toml)"} removed but can still decrypt`,
        ),
        ...stale.added.map(
          (recipient) => `${labelled(config, recipient)} added but cannot decrypt yet`,
        ),
      ];
      problems.push({
        kind: "stale-recipients",
        file,
        message: `${at(file)}: recipients differ from wgqt.toml: ${parts.join("; ")} (run wgqt rekey)`,
        added: stale.added,
        removed: stale.removed,
      });
    }
  }
  for (const file of Object.keys(store.manifest.files).sort()) {
    if (!inspection.files.has(file))
      add("manifest-mismatch", file, `listed in manifest.json but the file is gone`);
  }
  if (!store.hasManifest && inspection.files.size > 0)
    add("manifest-mismatch", MANIFEST_FILE, "missing while encrypted files exist");
  for (const { file, current, expected: text } of inspection.generated) {
    if (current !== text)
      add(
        "generated-outdated",
        file,
        `${current === undefined ? "missing" : "out of date with wgqt.toml and the key store"} (run wgqt rekey, or wgqt keygen)`,
      );
  }
  for (const file of inspection.tempFiles)
    add(
      "temp-file",
      file,
      "leftover temp file from an interrupted write (wgqt prune, or any command that writes, removes it)",
    );
  if (inspection.pendingJournal !== undefined)
    add(
      "interrupted-change",
      inspection.pendingJournal,
      "an interrupted change is pending (run wgqt keygen, or any command that writes, to finish it)",
    );
  return problems.sort((a, b) =>
    a.file < b.file ? -1 : a.file > b.file ? 1 : a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0,
  );
}

/** Store-relative `.age` and `.pub` files that nothing in wgqt.toml asks for, in byte order. */
export function orphanFiles(config: Config, store: KeyStore): string[] {
  const expected = expectedFor(config);
  const orphans = [...store.encryptedFiles].filter((file) => !expected.has(file));
  for (const file of store.publicKeyFiles)
    if (!config.machines[file.slice(0, -4)]) orphans.push(file);
  return orphans.sort();
}

function orphanReason(config: Config, file: string): string {
  if (file.endsWith(".pub")) return `machine ${file.slice(0, -4)} is not in wgqt.toml`;
  const pair = /^preshared_keys\/([^+/]+)\+([^+/]+)\.age$/.exec(file);
  if (pair) {
    const gone = [pair[1]!, pair[2]!].filter((name) => !config.machines[name]);
    return gone.length
      ? `${gone.length === 1 ? "machine" : "machines"} ${gone.join(" and ")} ${gone.length === 1 ? "is" : "are"} not in wgqt.toml`
      : `${pair[1]} and ${pair[2]} are no longer peers in any network`;
  }
  if (file.startsWith(`${PRESHARED_DIR}/`)) return "not a preshared key name wgqt uses (a+b.age)";
  if (file.startsWith(`${VPN_DIR}/`)) {
    const parsed = parseVpnFile(file);
    if (parsed === undefined) return "not a VPN key name wgqt uses (NAME.age, NAME.psk.age)";
    if (!config.vpns?.[parsed.vpn]) return `VPN ${parsed.vpn} is not in wgqt.toml`;
    return `vpns.${parsed.vpn} has no preshared_key = true`;
  }
  const name = file.slice(0, -4);
  if (config.machines[name]?.publicKey !== undefined)
    return `${name} brings its own public_key, so wgqt keeps no private key for it`;
  return `machine ${name} is not in wgqt.toml`;
}

/**
 * With identities in hand: decrypt every file one of them opens, check the
 * plaintext is a key and that each private key matches its `.pub`. Returns the
 * problems and which files were checked (the others are for other people).
 *
 * Failures to decrypt or to parse are reported as problems, not thrown.
 */
export async function checkWithIdentities(
  inspection: Inspection,
  identities: readonly LoadedIdentity[],
): Promise<{ problems: Problem[]; checked: string[] }> {
  const { config, store } = inspection;
  const problems: Problem[] = [];
  const checked: string[] = [];
  for (const [file, facts] of inspection.files) {
    if (facts.headerError !== undefined) continue; // already reported as unreadable
    const access = fileAccess(inspection, file);
    const ours = identities.filter((identity) =>
      identity.kind === "x25519"
        ? facts.stanzas!.some((stanza) => stanza.type === "X25519")
        : access.readers.some(
            (reader) => reader.recipient === identity.recipient && reader.header === "present",
          ),
    );
    if (ours.length === 0) continue;
    const where = displayPath(config, file);
    let plaintext: Uint8Array;
    try {
      plaintext = await decryptWith(facts.bytes, ours, where);
    } catch (error) {
      if (!(error instanceof WgqtError)) throw error;
      // X25519 stanzas name nobody, so "not ours" is only a problem when the
      // manifest says one of these identities can decrypt the file.
      const listed = ours.filter((identity) =>
        access.readers.some((reader) => reader.recipient === identity.recipient),
      );
      if (
        ours.every((identity) => identity.kind === "x25519") &&
        error.code === "age/no-identity"
      ) {
        if (listed.length === 0) continue;
        problems.push({
          kind: "undecryptable",
          file,
          message: `${where}: manifest.json lists ${listed.map((identity) => shortRecipient(identity.recipient)).join(", ")}, but it cannot decrypt the file`,
        });
        continue;
      }
      problems.push({
        kind: "undecryptable",
        file,
        message: error.message.startsWith(where) ? error.message : `${where}: ${error.message}`,
      });
      continue;
    }
    let key: string;
    try {
      key = parseKeyFileContent(plaintext, where);
    } catch {
      // The decoder's error would quote the plaintext: say what is wrong without it.
      problems.push({
        kind: "undecryptable",
        file,
        message: `${where}: decrypts, but not to a WireGuard key (44 characters of base64 and a newline)`,
      });
      continue;
    }
    checked.push(file);
    const vpnFile = parseVpnFile(file);
    const providerKnows = store.manifest.files[file]?.public_key;
    if (
      vpnFile?.kind === "vpn-private-key" &&
      providerKnows !== undefined &&
      publicKeyOf(key, where) !== providerKnows
    ) {
      problems.push({
        kind: "public-key-mismatch",
        file,
        message: `${where}: its public key is not the one recorded in manifest.json (re-import the provider's file with wgqt vpn import ${vpnFile.vpn})`,
      });
    }
    const machine = /^([^/]+)\.age$/.exec(file)?.[1];
    const publicKey = machine === undefined ? undefined : store.machines[machine]?.publicKey;
    if (publicKey !== undefined && publicKeyOf(key, where) !== publicKey) {
      problems.push({
        kind: "public-key-mismatch",
        file: publicKeyFile(machine!),
        message: `${displayPath(config, publicKeyFile(machine!))}: not the public key of the private key in ${displayPath(config, file)} (wgqt rotate --machine ${machine} makes a new pair)`,
      });
    }
  }
  return { problems, checked };
}

/**
 * `wgqt status --json`, version 1. Fields are only ever added; paths are
 * relative to the key store, times are ISO 8601 UTC, lists are in byte order.
 *
 * ```jsonc
 * {
 *   "version": 1,
 *   "keysDir": "wireguard_keys",            // relative to wgqt.toml
 *   "machines": [{
 *     "name": "tavern",
 *     "publicKey": "base64…" | null,        // from tavern.pub; null before keygen
 *     "ownPublicKey": false,                // true: public_key from wgqt.toml, no private key kept
 *     "recipients": ["ssh-ed25519 AAAA…"],  // the host's recipients in wgqt.toml
 *     "privateKey": { "file": "tavern.age", "created": "2025-01-01T00:00:00Z" | null } | null,
 *     "presharedKeys": [{ "peer": "nyaa", "file": "preshared_keys/nyaa+tavern.age",
 *                         "present": true, "created": "…" | null }]
 *   }],
 *   "vpns": [{                              // [vpns.*] in wgqt.toml
 *     "name": "us-west", "id": 1, "machines": ["nyaa"],
 *     "privateKey": { "file": "vpns/us-west.age", "created": "…" | null } | null,
 *     "presharedKey": { "file": "vpns/us-west.psk.age", "created": "…" | null } | null,
 *     "publicKey": "base64…" | null         // this end's public key, as the provider knows it
 *   }],
 *   "files": [{                             // every .age file present
 *     "file": "tavern.age",
 *     "kind": "private-key" | "preshared-key" | "vpn-private-key" | "vpn-preshared-key",
 *     "machines": ["tavern"],
 *     "created": "…" | null,                // when the secret inside was made (kept by rekey)
 *     "stanzas": 2 | null,                  // recipient stanzas in the header; null: unreadable
 *     "readers": [{                         // who can decrypt it
 *       "recipient": "ssh-ed25519 AAAA…",
 *       "kind": "x25519" | "ssh-ed25519" | "ssh-rsa",
 *       "owners": ["tavern"],               // machines and/or "admin" in wgqt.toml; [] if gone
 *       "inManifest": true,
 *       "header": "present" | "absent" | "unattributable",   // X25519 stanzas name nobody
 *       "canDecrypt": true | false | null   // null: fewer X25519 stanzas than listed, cannot tell which
 *     }],
 *     "unattributed": [{ "type": "ssh-rsa", "tag": "AbCdEf" }],  // stanzas matching no known key
 *     "expectedRecipients": ["…"] | null,   // what wgqt.toml asks; null for an orphan
 *     "problems": ["stale-recipients"]      // kinds, see "problems"
 *   }],
 *   "problems": [{ "kind": "stale-recipients", "file": "nyaa.age", "message": "…",
 *                  "added": ["…"], "removed": ["…"] }]   // added/removed: stale-recipients only
 * }
 * ```
 */
export interface StoreStatus {
  version: 1;
  keysDir: string;
  machines: MachineStatus[];
  vpns: VpnStatus[];
  files: FileStatus[];
  problems: Problem[];
}

/** One machine's keys in {@link StoreStatus}. */
export interface MachineStatus {
  name: string;
  publicKey: string | null;
  ownPublicKey: boolean;
  recipients: string[];
  privateKey: { file: string; created: string | null } | null;
  presharedKeys: { peer: string; file: string; present: boolean; created: string | null }[];
}

/** One VPN's keys in {@link StoreStatus}. */
export interface VpnStatus {
  name: string;
  id: number;
  machines: string[];
  privateKey: { file: string; created: string | null } | null;
  presharedKey: { file: string; created: string | null } | null;
  publicKey: string | null;
}

/** One encrypted file in {@link StoreStatus}: who reads it and what is wrong. */
export interface FileStatus {
  file: string;
  kind: SecretKind;
  machines: string[];
  created: string | null;
  stanzas: number | null;
  readers: FileReader[];
  unattributed: StanzaSummary[];
  expectedRecipients: string[] | null;
  problems: ProblemKind[];
}

/**
 * The whole picture `wgqt status` prints. Pure.
 *
 * @param problems - Defaults to {@link findProblems} of `inspection`.
 * @returns The shape `wgqt status --json` prints.
 */
export function storeStatus(
  inspection: Inspection,
  problems: Problem[] = findProblems(inspection),
): StoreStatus {
  const { config, store } = inspection;
  const expected = expectedFor(config);
  // Indexed once: looked up per machine and per file, a scan of every secret
  // or every problem each time would grow with their product.
  const presharedByMachine = new Map<string, ExpectedSecret[]>();
  for (const secret of expected.values()) {
    if (secret.kind !== "preshared-key") continue;
    for (const machine of new Set(secret.machines)) {
      const list = presharedByMachine.get(machine);
      if (list === undefined) presharedByMachine.set(machine, [secret]);
      else list.push(secret);
    }
  }
  const problemKinds = new Map<string, Set<ProblemKind>>();
  for (const problem of problems) {
    const kinds = problemKinds.get(problem.file);
    if (kinds === undefined) problemKinds.set(problem.file, new Set([problem.kind]));
    else kinds.add(problem.kind);
  }
  const machines: MachineStatus[] = Object.keys(config.machines)
    .sort()
    .map((name) => {
      const machine = config.machines[name]!;
      const privateFile = privateKeyFile(name);
      return {
        name,
        publicKey: store.machines[name]?.publicKey ?? null,
        ownPublicKey: machine.publicKey !== undefined,
        recipients: [...machine.recipients],
        privateKey: store.encryptedFiles.has(privateFile)
          ? { file: privateFile, created: store.manifest.files[privateFile]?.created ?? null }
          : null,
        presharedKeys: (presharedByMachine.get(name) ?? []).map((secret) => ({
          peer: secret.machines[0] === name ? secret.machines[1]! : secret.machines[0]!,
          file: secret.file,
          present: store.encryptedFiles.has(secret.file),
          created: store.manifest.files[secret.file]?.created ?? null,
        })),
      };
    });
  const present = (file: string) =>
    store.encryptedFiles.has(file)
      ? { file, created: store.manifest.files[file]?.created ?? null }
      : null;
  const vpns: VpnStatus[] = vpnsOf(config).map((vpn) => ({
    name: vpn.name,
    id: vpn.id,
    machines: [...vpn.machines].sort(),
    privateKey: present(vpnKeyFile(vpn.name)),
    presharedKey: vpn.presharedKey ? present(vpnPresharedKeyFile(vpn.name)) : null,
    publicKey: store.manifest.files[vpnKeyFile(vpn.name)]?.public_key ?? null,
  }));
  const files: FileStatus[] = [...inspection.files.keys()].map((file) => {
    const entry = store.manifest.files[file];
    const secret = expected.get(file);
    const access = fileAccess(inspection, file);
    const inPresharedDir = file.startsWith(`${PRESHARED_DIR}/`);
    const vpnFile = parseVpnFile(file);
    return {
      file,
      kind:
        entry?.kind ??
        secret?.kind ??
        vpnFile?.kind ??
        (inPresharedDir ? "preshared-key" : "private-key"),
      machines:
        entry?.machines ??
        secret?.machines ??
        (vpnFile
          ? [...(config.vpns?.[vpnFile.vpn]?.machines ?? [])].sort()
          : inPresharedDir
            ? file.slice(PRESHARED_DIR.length + 1, -4).split("+")
            : [file.slice(0, -4)]),
      created: entry?.created ?? null,
      stanzas: access.stanzaCount ?? null,
      readers: access.readers,
      unattributed: access.unattributed,
      expectedRecipients: secret ? [...secret.recipients] : null,
      problems: [...(problemKinds.get(file) ?? [])],
    };
  });
  return { version: 1, keysDir: displayPath(config, "."), machines, vpns, files, problems };
}
