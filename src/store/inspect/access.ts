/**
 * Who can decrypt each file of the store.
 *
 * The truth about who can decrypt a file is in the file's age header, not in
 * our manifest: SSH stanzas carry a key tag (agessh: the first 4 bytes of
 * SHA-256 over the public key blob), so they name their recipient; X25519
 * stanzas carry only an ephemeral share and name nobody (age-encryption.org/v1,
 * "X25519 recipient stanza"), so for those we can only count. The manifest
 * fills in what the header cannot say, and is checked against it.
 */
import { sshKeyTag } from "../../age/ssh-public-key.js";
import type { ExpectedSecret } from "../expected.js";
import { ownersOf } from "./names.js";
import type { FileInspection, StanzaSummary } from "./read.js";

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
  return recipientKeyIn(recipientKeyMap(inspection), recipient);
}

function recipientKeyMap(inspection: FileInspection): Map<string, RecipientKey | undefined> {
  let keys = recipientKeys.get(inspection);
  if (keys === undefined) {
    keys = new Map();
    recipientKeys.set(inspection, keys);
  }
  return keys;
}

function recipientKeyIn(
  keys: Map<string, RecipientKey | undefined>,
  recipient: string,
): RecipientKey | undefined {
  const known = keys.get(recipient);
  if (known !== undefined || keys.has(recipient)) return known;
  const key = recipientKey(recipient);
  keys.set(recipient, key);
  return key;
}

/**
 * `accessOf` per file, worked out once per inspection: `status` asks for every
 * file twice (its problems, then its readers), `verify --identity` a third time.
 */
const accesses = new WeakMap<FileInspection, Map<string, FileAccess>>();

/**
 * Who can decrypt one file, from its header, backed by the manifest where the
 * header is silent. Worked out once per inspection and file: callers must not
 * change what it returns.
 */
export function fileAccess(inspection: FileInspection, file: string): FileAccess {
  let known = accesses.get(inspection);
  if (known === undefined) {
    known = new Map();
    accesses.set(inspection, known);
  }
  let access = known.get(file);
  if (access === undefined) {
    access = accessOf(inspection, file);
    known.set(file, access);
  }
  return access;
}

/**
 * `fileAccess`, worked out. Plain loops over the stanzas, marking the ones
 * taken, rather than a copy spliced by closures: it runs once per file of
 * the store.
 */
function accessOf(inspection: FileInspection, file: string): FileAccess {
  const { config, store } = inspection;
  const facts = inspection.files.get(file);
  const listed = store.manifest.files[file]?.recipients ?? [];
  // rage and others add "<random>-grease" stanzas nobody can open; they mean nothing.
  const stanzas = facts?.stanzas && withoutGrease(facts.stanzas);
  const all = stanzas ?? [];
  const taken = new Array<boolean>(all.length).fill(false);
  /** Take the first stanza not yet taken of this type (and, for SSH, key tag). */
  const take = (type: string, tag: string | undefined): boolean => {
    for (let i = 0; i < all.length; i++) {
      const stanza = all[i]!;
      if (!taken[i] && stanza.type === type && (tag === undefined || stanza.tag === tag)) {
        taken[i] = true;
        return true;
      }
    }
    return false;
  };
  const keys = recipientKeyMap(inspection);
  const readers: FileReader[] = [];
  let x25519Listed = 0;
  for (const recipient of listed) {
    const key = recipientKeyIn(keys, recipient);
    if (!key) continue;
    const { kind, tag } = key;
    if (kind === "x25519") x25519Listed++;
    const header: HeaderEvidence =
      kind === "x25519" ? "unattributable" : take(kind, tag ?? "") ? "present" : "absent";
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
  let x25519InHeader = 0;
  for (let i = 0; i < all.length; i++) if (!taken[i] && all[i]!.type === "X25519") x25519InHeader++;
  if (x25519Listed > 0) {
    for (const reader of readers) {
      if (reader.kind !== "x25519") continue;
      if (x25519InHeader === 0) Object.assign(reader, { header: "absent", canDecrypt: false });
      else if (x25519InHeader < x25519Listed) reader.canDecrypt = null;
    }
  }
  for (let i = 0; i < Math.min(x25519Listed, x25519InHeader); i++) take("X25519", undefined);
  const unattributed: StanzaSummary[] = [];
  for (let i = 0; i < all.length; i++) {
    if (taken[i]) continue;
    const stanza = all[i]!;
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

/** The stanzas but grease ones; the same array when there are none (the usual case). */
function withoutGrease(stanzas: StanzaSummary[]): StanzaSummary[] {
  for (const stanza of stanzas)
    if (stanza.type.endsWith("-grease"))
      return stanzas.filter((each) => !each.type.endsWith("-grease"));
  return stanzas;
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
