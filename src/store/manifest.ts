/**
 * `manifest.json`: who each encrypted file is encrypted to, when it was made,
 * and a hash of its bytes, so commands know without decrypting (DESIGN.md:
 * "whatever manifest wgqt needs to know, without decrypting, who each file is
 * encrypted to"). Written with sorted keys so diffs stay minimal.
 *
 * A fleet's manifest has an entry per encrypted file (15,000 for 400
 * machines), and every command that writes reads and rewrites all of it, so
 * both directions have a fast path for the shape wgqt writes; the zod schema
 * stays the definition, and still words the error for a manifest that is not
 * of that shape.
 */
import { z } from "zod";
import { StoreError } from "../errors.js";

const entrySchema = z.strictObject({
  kind: z.enum(["private-key", "preshared-key", "vpn-private-key", "vpn-preshared-key"]),
  machines: z.array(z.string()),
  recipients: z.array(z.string()),
  /** ISO time the secret inside was made (kept across rekeys). */
  created: z.string(),
  /** Hex SHA-256 of the .age file's bytes as written. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** For private keys: the public key written next to it (a VPN key: the public key the provider knows). */
  public_key: z.string().optional(),
});

const manifestSchema = z.strictObject({
  version: z.literal(1),
  files: z.record(z.string(), entrySchema),
});

export type ManifestEntry = z.infer<typeof entrySchema>;
export type Manifest = z.infer<typeof manifestSchema>;

export function emptyManifest(): Manifest {
  return { version: 1, files: {} };
}

/**
 * A copy of `manifest` whose file table can be changed without touching the
 * original. Commands replace or delete whole entries and never edit one in
 * place, so the entries themselves are shared rather than deep-copied.
 */
export function copyManifest(manifest: Manifest): Manifest {
  return { ...manifest, files: { ...manifest.files } };
}

export function parseManifest(text: string, path: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new StoreError(`${path}: not valid JSON (${(error as Error).message})`);
  }
  if (isManifest(json)) return json;
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new StoreError(`${path}: ${issue.path.join(".") || "(top level)"}: ${issue.message}`);
  }
  return parsed.data;
}

const KINDS: ReadonlySet<unknown> = new Set(entrySchema.shape.kind.options);
const ENTRY_KEYS: ReadonlySet<string> = new Set(Object.keys(entrySchema.shape));
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
 * without copying it (zod builds a new object for every entry). Anything
 * unusual, a `__proto__` key included, answers false and goes to zod.
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
