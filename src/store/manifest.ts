/**
 * `manifest.json`: who each encrypted file is encrypted to, when it was made,
 * and a hash of its bytes, so commands know without decrypting (docs/design.md
 * "Store format"). Written with sorted keys so diffs stay minimal.
 *
 * A fleet's manifest has an entry per encrypted file (15,000 for 400
 * machines), and every command that writes reads and rewrites all of it, so
 * both directions have a fast path for the shape wgqt writes; the schema
 * stays the definition, and still words the error for a manifest that is not
 * of that shape. A command that changes a few entries of a manifest it read
 * (rotate, rekey, keygen --machine) writes it by splicing those entries into
 * the bytes it read (`manifestBytes`) instead of serializing all of them.
 */
import * as v from "valibot";
import { StoreError } from "../errors.js";
import { describeStoreIssue, record, table } from "../schema.js";

/** One file's record in `manifest.json`: its kind, recipients, hash and when the key was made. */
export interface ManifestEntry {
  kind: "private-key" | "preshared-key" | "vpn-private-key" | "vpn-preshared-key";
  machines: string[];
  recipients: string[];
  /** ISO time the secret inside was made (kept across rekeys). */
  created: string;
  /** Hex SHA-256 of the .age file's bytes as written. */
  sha256: string;
  /** For private keys: the public key written next to it (a VPN key: the public key the provider knows). */
  public_key?: string;
}

// The schema of ManifestEntry (the type above documents its fields;
// `satisfies` below keeps the two the same shape).
const entrySchema = table({
  kind: v.picklist(["private-key", "preshared-key", "vpn-private-key", "vpn-preshared-key"]),
  machines: v.array(v.string()),
  recipients: v.array(v.string()),
  created: v.string(),
  sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
  public_key: v.optional(v.string()),
}) satisfies v.GenericSchema<unknown, ManifestEntry>;

const manifestSchema = table({
  version: v.literal(1),
  files: record(entrySchema),
});

/** `manifest.json`: what wgqt knows of each encrypted file that its header cannot say. */
export type Manifest = v.InferOutput<typeof manifestSchema>;

export function emptyManifest(): Manifest {
  return { version: 1, files: {} };
}

/**
 * A copy of `manifest` whose file table can be changed without touching the
 * original. Commands replace or delete whole entries and never edit one in
 * place, so the entries themselves are shared rather than deep-copied.
 */
export function copyManifest(manifest: Manifest): Manifest {
  const copy = { ...manifest, files: { ...manifest.files } };
  const source = sources.get(manifest);
  if (source) sources.set(copy, source);
  return copy;
}

/**
 * The bytes a manifest was read from, and its entries as they were then (in
 * the order of the text), so that a copy can be written by splicing only the
 * entries it replaced, removed or added into those bytes. An entry is never
 * edited in place (copyManifest), so one that is the same object as when it
 * was read still has exactly the text it was read from.
 */
interface ManifestSource {
  bytes: Buffer;
  names: string[];
  entries: ManifestEntry[];
}
const sources = new WeakMap<Manifest, ManifestSource>();

/** `parseManifest` of a file's bytes, remembering them for `manifestBytes`. */
export function readManifest(bytes: Buffer, path: string): Manifest {
  const manifest = parseManifest(bytes.toString("utf8"), path);
  const names = Object.keys(manifest.files);
  sources.set(manifest, {
    bytes,
    names,
    entries: names.map((name) => manifest.files[name]!),
  });
  return manifest;
}

export function parseManifest(text: string, path: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new StoreError("store/corrupt", `${path}: not valid JSON (${(error as Error).message})`);
  }
  if (isManifest(json)) return json;
  const parsed = v.safeParse(manifestSchema, json);
  if (!parsed.success) {
    const problem = describeStoreIssue(manifestSchema, parsed.issues[0]);
    throw new StoreError("store/corrupt", `${path}: ${problem}`);
  }
  return parsed.output;
}

const KINDS: ReadonlySet<unknown> = new Set(entrySchema.entries.kind.options);
const ENTRY_KEYS: ReadonlySet<string> = new Set(Object.keys(entrySchema.entries));
const HEX = /^[0-9a-f]*$/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  if (!Array.isArray(value)) return false;
  for (const item of value) if (typeof item !== "string") return false;
  return true;
}

/**
 * Whether parsed JSON is exactly what `manifestSchema` accepts, checked
 * without copying it (the schema builds a new object for every entry).
 * Anything unusual, a `__proto__` key included, answers false and goes to
 * the schema.
 */
function isManifest(json: unknown): json is Manifest {
  if (!isPlainObject(json) || json.version !== 1 || !isPlainObject(json.files)) return false;
  for (const key in json) if (key !== "version" && key !== "files") return false;
  const files = json.files;
  const hashes: string[] = [];
  for (const file in files) {
    if (file === "__proto__") return false;
    const entry = files[file];
    if (!isPlainObject(entry)) return false;
    for (const key in entry) if (!ENTRY_KEYS.has(key)) return false;
    if (
      !KINDS.has(entry.kind) ||
      !isStringArray(entry.machines) ||
      !isStringArray(entry.recipients) ||
      typeof entry.created !== "string" ||
      typeof entry.sha256 !== "string" ||
      entry.sha256.length !== 64 ||
      (entry.public_key !== undefined && typeof entry.public_key !== "string")
    )
      return false;
    hashes.push(entry.sha256);
  }
  // Each is 64 characters long, so all hex together means each is: one match
  // instead of thousands of short ones.
  return HEX.test(hashes.join(""));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort())
      out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** The definition of the format: keys sorted, two-space JSON, a trailing newline. */
export function serializeGeneric(manifest: Manifest): string {
  return `${JSON.stringify(sortKeys(manifest), null, 2)}\n`;
}

/**
 * Whether `sortKeys(value)` would stringify exactly as `value` does: plain
 * objects whose keys are already in sorted order, all the way down. Entries
 * read from manifest.json are, so only the ones a command replaced (or a new
 * file name) need a sorted copy.
 */
function alreadySorted(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (!alreadySorted(item)) return false;
    return true;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  // for…in visits own keys in the order JSON.stringify does, without an array
  // of keys per object (inherited ones, if any, come after and change nothing).
  let previous: string | undefined;
  for (const key in value) {
    if (previous !== undefined && !(previous < key)) return false;
    if (key === "toJSON" || key === "__proto__") return false;
    if (!alreadySorted((value as Record<string, unknown>)[key])) return false;
    previous = key;
  }
  return true;
}

/** `sortKeys`, sharing every part that is already sorted instead of copying it. */
function sortedShallowly(value: unknown): unknown {
  if (alreadySorted(value)) return value;
  if (Array.isArray(value)) return value.map(sortedShallowly);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value as object).sort())
    out[key] = sortedShallowly((value as Record<string, unknown>)[key]);
  return out;
}

/**
 * The manifest as wgqt writes it: the bytes of `serializeGeneric`, without
 * its deep copy of every entry.
 */
export function serializeManifest(manifest: Manifest): string {
  return `${JSON.stringify(sortedShallowly(manifest), null, 2)}\n`;
}

/** Whether a property name is an array index, which objects order before all other names. */
function isIndex(name: string): boolean {
  const first = name.charCodeAt(0);
  if (!(first >= 0x30 && first <= 0x39)) return false;
  return /^(?:0|[1-9]\d{0,9})$/.test(name) && Number(name) < 2 ** 32 - 1;
}

/** One entry as `serializeGeneric` writes it inside `files`, from the newline before its name. */
function entryText(name: string, entry: ManifestEntry): string {
  return `\n    ${JSON.stringify(name)}: ${JSON.stringify(sortKeys(entry), null, 2).replace(/\n/g, "\n    ")}`;
}

/** Manifests of at least this many entries are written whole when a quarter of them change. */
const WHOLE_FROM = 64;
const HEAD = Buffer.from('{\n  "files": {');
const TAIL = Buffer.from('\n  },\n  "version": 1\n}\n');
const ENTRY_START = Buffer.from('\n    "');
const COMMA = Buffer.from(",");

/**
 * The bytes of `manifest.json` for `manifest`: those of `serializeManifest`.
 * When the manifest is a copy of one read from disk (`readManifest`), the
 * entries it has not touched are copied from the bytes read and only the
 * others are serialized, so writing back a change of 41 entries of 15,000
 * costs a copy of the file rather than a serialization of every entry.
 */
export function manifestBytes(manifest: Manifest): Buffer {
  const source = sources.get(manifest);
  return (source && spliced(manifest, source)) ?? Buffer.from(serializeManifest(manifest), "utf8");
}

/**
 * `manifest` written by splicing into `source`, or undefined whenever the
 * bytes read are not laid out as wgqt writes them (then the caller writes
 * the whole manifest). Every entry the splice replaces or removes is first
 * checked to read exactly as wgqt would have written its old value there,
 * so a hand-edited file can never be cut in the wrong place.
 */
function spliced(
  manifest: Manifest,
  { bytes, names, entries }: ManifestSource,
): Buffer | undefined {
  const count = names.length;
  if (manifest.version !== 1 || count === 0) return undefined;
  for (const key in manifest) if (key !== "version" && key !== "files") return undefined;
  if (!bytes.subarray(0, HEAD.length).equals(HEAD)) return undefined;
  const tailStart = bytes.length - TAIL.length;
  if (!bytes.subarray(tailStart).equals(TAIL)) return undefined;
  // Where each entry starts: a newline and four spaces before a quote can only
  // begin a name in `files` (strings hold no raw newline; fields are indented
  // further), one per entry, in the order JSON.parse saw them.
  const starts: number[] = [];
  for (let at = bytes.indexOf(ENTRY_START, HEAD.length); at !== -1 && at < tailStart; ) {
    starts.push(at);
    at = bytes.indexOf(ENTRY_START, at + ENTRY_START.length);
  }
  if (starts.length !== count || starts[0] !== HEAD.length) return undefined;
  /** Where entry `i`'s text ends: before the comma that follows it, or the tail. */
  const end = (i: number): number | undefined => {
    if (i === count - 1) return tailStart;
    const comma = starts[i + 1]! - 1;
    return bytes[comma] === 0x2c ? comma : undefined;
  };

  const { files } = manifest;
  // In byte order, as serializeGeneric sorts them; anything else is not wgqt's layout.
  for (let i = 1; i < count; i++) if (!(names[i - 1]! < names[i]!)) return undefined;
  // Usually the copy has the same names in the same order (entries replaced,
  // none added or removed): then no set of names is needed.
  const current = Object.keys(files);
  let sameNames = current.length === count;
  for (let i = 0; sameNames && i < count; i++) sameNames = current[i] === names[i];
  const kept = sameNames ? undefined : new Set(names.filter((name) => Object.hasOwn(files, name)));
  const added = kept ? current.filter((name) => !kept.has(name)).sort() : [];
  // Names JSON.stringify would not put in sorted order (array indices come
  // first, in numeric order), or that are not plain properties: write in full.
  for (const list of [names, added]) {
    for (const name of list) if (name === "__proto__" || isIndex(name)) return undefined;
  }
  // Each entry replaced or removed is serialized twice here (its old text is
  // checked before it is cut out): when a large share of a large manifest
  // changes (a rotate --all, an admin added), writing it whole is cheaper.
  let changed = added.length;
  for (let i = 0; i < count; i++) if (files[names[i]!] !== entries[i]) changed++;
  if (count >= WHOLE_FROM && changed * 4 > count) return undefined;

  const parts: Buffer[] = [HEAD];
  let empty = true;
  const emit = (part: Buffer) => {
    if (!empty) parts.push(COMMA);
    parts.push(part);
    empty = false;
  };
  let run = -1; // first entry of a run of untouched ones, copied as one slice
  const flush = (upTo: number): boolean => {
    if (run < 0) return true;
    const stop = end(upTo - 1);
    if (stop === undefined) return false;
    emit(bytes.subarray(starts[run]!, stop));
    run = -1;
    return true;
  };
  let next = 0;
  for (let i = 0; i <= count; i++) {
    while (next < added.length && (i === count || added[next]! < names[i]!)) {
      if (!flush(i)) return undefined;
      const name = added[next++]!;
      emit(Buffer.from(entryText(name, files[name]!), "utf8"));
    }
    if (i === count) break;
    const name = names[i]!;
    const entry = !kept || kept.has(name) ? files[name] : undefined;
    if (entry === entries[i]) {
      if (run < 0) run = i;
      continue;
    }
    if (!flush(i)) return undefined;
    const stop = end(i);
    if (stop === undefined) return undefined;
    const old = Buffer.from(entryText(name, entries[i]!), "utf8");
    if (stop - starts[i]! !== old.length || !bytes.subarray(starts[i]!, stop).equals(old))
      return undefined;
    if (entry !== undefined) emit(Buffer.from(entryText(name, entry), "utf8"));
  }
  if (!flush(count) || empty) return undefined;
  parts.push(TAIL);
  return Buffer.concat(parts);
}
