/**
 * All-or-nothing changes to the fleet's files, safe against SIGKILL at any
 * instant. A command stages every file it will write or remove (ciphertext
 * and public data only: plaintext keys never get here), then `commit()`:
 *
 * 1. writes one journal, `.wgqt-journal.json` next to `wgqt.toml`, holding
 *    every staged change, atomically: that rename is the commit point
 *    (`encodeJournal` says what it holds);
 * 2. applies each change atomically (see files.ts);
 * 3. runs `afterApply` (the CLI's git commit), if given, while the applied
 *    files are flushed to disk;
 * 4. removes the journal.
 *
 * Killed before 1, nothing changed. Killed after 1, the next mutating command
 * finds the journal and rolls it forward (`recoverJournal`), commit included,
 * before doing anything else, so a store is never left half-written (a new
 * `.age` beside an old `.pub`, a key the manifest does not know) nor a
 * finished change left uncommitted.
 *
 * A journal is a file in the repository like any other, so recovery trusts
 * none on sight: it applies one only if git does not track it, it names
 * nothing but this fleet's files under the names wgqt gives them, with no
 * executable mode (`journalProblem`), and no path leads through a symlink;
 * otherwise nothing is applied. No transaction writes through a symlink or
 * into a `.git` directory either.
 */
import { lstatSync, readdirSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, sep } from "node:path";
import * as z from "zod";
import { quote, StoreError } from "../errors.js";
import {
  assertNoLinkOnTheWay,
  makeDurable,
  readStoreFile,
  readStoreFileSync,
  removeFileDurably,
  replaceFiles,
  TEMP_PREFIX,
  writeFileAtomic,
} from "./files.js";
import {
  isRemovableStoreName,
  isStoreFileName,
  PRESHARED_DIR,
  storeDirEntry,
  VPN_DIR,
} from "./layout.js";

export const JOURNAL_FILE = ".wgqt-journal.json";
/** `wgqt init` lists the journal and the lock here so that neither is ever committed. */
export const GITIGNORE_FILE = ".gitignore";

/** What a journal holds: paths relative to the root, the bytes of each file written. */
export interface Journal {
  /** What the change was, for the git commit made after recovery. */
  message: string;
  writes: { path: string; mode: number; data: Buffer }[];
  removes: string[];
}

/**
 * The journal's first line. Version 2 lists each write's size; the files'
 * bytes follow the line back to back, in that order, as they are: the
 * journal of a keygen of thousands of files is about as big as the files,
 * and is written without first encoding them into one long string.
 * Version 1 (a single JSON document, contents in base64) is still read.
 */
const written = { path: z.string(), mode: z.number().int() };
const headSchema = z.discriminatedUnion("version", [
  z.strictObject({
    version: z.literal(2),
    message: z.string(),
    writes: z.array(z.strictObject({ ...written, size: z.number().int().nonnegative() })),
    removes: z.array(z.string()),
  }),
  z.strictObject({
    version: z.literal(1),
    message: z.string(),
    writes: z.array(z.strictObject({ ...written, content: z.string() })),
    removes: z.array(z.string()),
  }),
]);

/** The journal's bytes, in pieces: its first line, then each file's bytes. */
function encodeJournal({ message, writes, removes }: Journal): Buffer[] {
  const head = {
    version: 2,
    message,
    writes: writes.map(({ path, mode, data }) => ({ path, mode, size: data.length })),
    removes,
  };
  return [Buffer.from(`${JSON.stringify(head)}\n`), ...writes.map(({ data }) => data)];
}

/** The journal in `bytes`, or undefined when they are not a whole wgqt journal. */
function decodeJournal(bytes: Buffer): Journal | undefined {
  const newline = bytes.indexOf(0x0a);
  const headEnd = newline < 0 ? bytes.length : newline;
  let head: z.infer<typeof headSchema>;
  try {
    head = headSchema.parse(JSON.parse(bytes.subarray(0, headEnd).toString("utf8")));
  } catch {
    return undefined;
  }
  const { message, removes } = head;
  if (head.version === 1) {
    if (bytes.subarray(headEnd).toString("utf8").trim() !== "") return undefined;
    const writes = head.writes.map(({ path, mode, content }) => ({
      path,
      mode,
      data: Buffer.from(content, "base64"),
    }));
    return { message, writes, removes };
  }
  let offset = headEnd + 1;
  const writes = head.writes.map(({ path, mode, size }) => {
    const data = bytes.subarray(offset, offset + size);
    offset += size;
    return { path, mode, data };
  });
  // Exactly the bytes the head announces, no fewer and no more.
  return offset === bytes.length ? { message, writes, removes } : undefined;
}

interface StagedWrite {
  bytes: Buffer;
  mode: number;
  /** No file can hold these bytes yet: not compared with what is there. */
  fresh: boolean;
}

/** What runs once a transaction's files are in place, before its journal goes (a git commit). */
export type AfterApply = (changed: string[], message: string) => Promise<void>;

export class Transaction {
  readonly #root: string;
  readonly #afterApply: AfterApply | undefined;
  readonly #writes = new Map<string, StagedWrite>();
  readonly #removes = new Set<string>();

  /**
   * `root`: the directory of `wgqt.toml`; every staged path must be inside it.
   * `afterApply` runs after the files are written and before the journal is
   * removed, so recovery retries it if it does not finish.
   */
  constructor(root: string, afterApply?: AfterApply) {
    this.#root = root;
    this.#afterApply = afterApply;
  }

  #checkInside(path: string): void {
    const inside = relative(this.#root, path);
    if (
      !isAbsolute(path) ||
      inside === "" ||
      inside.startsWith(`..${sep}`) ||
      inside === ".." ||
      isAbsolute(inside)
    ) {
      throw new StoreError(
        "store/unsafe-path",
        `${path}: outside ${this.#root}; refusing to write it`,
      );
    }
    // Git's own files (hooks, config) run code: a keys_dir there is never written.
    if (inside.split(sep).includes(".git"))
      throw new StoreError(
        "store/unsafe-path",
        `${path}: inside a .git directory; refusing to write it`,
      );
  }

  /**
   * Stage `data` for `path` (absolute). Later stages of one path replace
   * earlier ones. Bytes are kept as given, not copied (a manifest is
   * megabytes): the caller must not change them afterwards. `fresh`: bytes
   * no file can hold already (a new encryption, with its own random file key
   * and shares), so the commit does not read the file there to compare.
   */
  write(path: string, data: Uint8Array | string, mode = 0o644, { fresh = false } = {}): void {
    this.#checkInside(path);
    this.#removes.delete(path);
    this.#writes.set(path, {
      bytes:
        typeof data === "string"
          ? Buffer.from(data, "utf8")
          : Buffer.from(data.buffer, data.byteOffset, data.byteLength),
      mode,
      fresh,
    });
  }

  /** Stage the removal of `path` (absolute). */
  remove(path: string): void {
    this.#checkInside(path);
    this.#writes.delete(path);
    this.#removes.add(path);
  }

  /** The staged content of `path`, if any (so later steps see earlier ones). */
  staged(path: string): Buffer | undefined {
    return this.#writes.get(path)?.bytes;
  }

  /**
   * Make every staged change durable, all or nothing. Returns the absolute
   * paths whose content actually changed (for the git commit), sorted.
   */
  async commit(message: string): Promise<string[]> {
    const journal: Journal = { message, writes: [], removes: [] };
    const writes = [...this.#writes]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([path, { bytes, mode, fresh }]) => ({ path, data: bytes, mode, fresh }));
    // Before anything is written: no staged path may lead through a symlink
    // (checked once per directory: a keygen stages thousands of files in three).
    const checked = new Set<string>();
    const dirs = new Set([...this.#writes.keys(), ...this.#removes].map((path) => dirname(path)));
    for (const dir of dirs) assertNoLinkOnTheWay(this.#root, dir, checked);
    // Files that already hold their new bytes are left alone (and out of the commit).
    const differing = new Set(notHeldYet(writes.filter(({ fresh }) => !fresh)));
    for (const write of writes) {
      if (!write.fresh && !differing.has(write)) continue;
      journal.writes.push({
        path: relative(this.#root, write.path),
        mode: write.mode,
        data: write.data,
      });
    }
    for (const path of [...this.#removes].sort()) {
      if (lstatSync(path, { throwIfNoEntry: false }) !== undefined)
        journal.removes.push(relative(this.#root, path));
    }
    if (journal.writes.length === 0 && journal.removes.length === 0) return [];
    const journalPath = join(this.#root, JOURNAL_FILE);
    try {
      await writeFileAtomic(journalPath, encodeJournal(journal), 0o644);
    } catch (error) {
      throw new StoreError(
        "store/io",
        `${journalPath}: cannot write (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      );
    }
    let applied: Applied;
    try {
      applied = await applyJournal(this.#root, journal, false);
    } catch (error) {
      if (error instanceof ApplyError && error.applied === 0) {
        // Nothing reached the store (read-only, say): withdraw the journal.
        await removeFileDurably(journalPath);
        throw new StoreError("store/io", error.message);
      }
      throw new StoreError(
        "store/interrupted",
        `${error instanceof Error ? error.message : String(error)}; the change is journaled and the next wgqt command that writes finishes it`,
      );
    }
    await finish(journalPath, applied, message, this.#afterApply);
    return applied.changed;
  }
}

/** What applying a journal changed, and how to make it durable. */
interface Applied {
  /** Absolute paths written or removed, sorted. */
  changed: string[];
  /** Flush every file the journal writes (the removals are flushed already). */
  flush(): Promise<void>;
}

/**
 * Flush the applied files while `afterApply` (the git commit, which reads
 * them from the page cache) runs, then remove the journal: only once both
 * have succeeded, so a failure or a power cut before then leaves the journal
 * for the next command to replay.
 */
async function finish(
  journalPath: string,
  applied: Applied,
  message: string,
  afterApply: AfterApply | undefined,
): Promise<void> {
  const flushed = applied.flush().then(
    () => undefined,
    (error: unknown) => error,
  );
  try {
    await afterApply?.(applied.changed, message);
  } finally {
    const error = await flushed;
    if (error !== undefined) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      // biome-ignore lint/correctness/noUnsafeFinally: a failed flush outranks the commit's result
      throw new StoreError(
        "store/interrupted",
        `cannot flush the written files to disk (${code}); the change is journaled and the next wgqt command that writes finishes it`,
      );
    }
  }
  await removeFileDurably(journalPath);
}

/** A write or removal failed after `applied` changes reached the disk. */
class ApplyError extends Error {
  constructor(
    message: string,
    readonly applied: number,
  ) {
    super(message);
  }
}

/** From this many staged files in one directory on, one listing beats a stat each. */
const LISTING_THRESHOLD = 64;

/**
 * Those of `writes` whose file does not already hold exactly their bytes, in
 * order. A keygen stages thousands of new files, and a failed lookup in a
 * large directory costs about as much as listing it whole: a directory
 * holding many of them is listed once, and only the files found there are
 * compared.
 */
function notHeldYet<T extends { path: string; data: Buffer }>(writes: readonly T[]): T[] {
  const perDir = new Map<string, number>();
  for (const { path } of writes) perDir.set(dirname(path), (perDir.get(dirname(path)) ?? 0) + 1);
  const listings = new Map<string, Set<string>>();
  for (const [dir, count] of perDir)
    if (count >= LISTING_THRESHOLD) listings.set(dir, listing(dir));
  return writes.filter(({ path, data }) => {
    const names = listings.get(dirname(path));
    return (names !== undefined && !names.has(basename(path))) || !holds(path, data);
  });
}

/** The names in `dir`; none when it does not exist. */
function listing(dir: string): Set<string> {
  try {
    return new Set(readdirSync(dir));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return new Set();
    throw error;
  }
}

/**
 * Whether `path` already holds exactly `bytes` (a missing file does not). A
 * symlink or other non-regular file there is refused (readStoreFileSync):
 * nothing is compared through a link.
 */
function holds(path: string, bytes: Buffer): boolean {
  // An lstat that answers "missing" without an exception, and a size check
  // before reading.
  const stats = lstatSync(path, { throwIfNoEntry: false });
  if (stats === undefined) return false;
  if (stats.isFile() && stats.size !== bytes.length) return false;
  return readStoreFileSync(path)?.equals(bytes) ?? false;
}

/**
 * Write and remove what `journal` says. `recovering`: some files may already
 * hold their new bytes (the interrupted run got that far), so they are
 * compared first; a fresh commit has just compared them and skips that.
 */
async function applyJournal(root: string, journal: Journal, recovering: boolean): Promise<Applied> {
  const writes = journal.writes.map(({ path, data, mode }) => ({
    path: join(root, path),
    data,
    mode,
  }));
  const pending = recovering ? notHeldYet(writes) : writes;
  try {
    replaceFiles(pending);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    const renamed = (error as { renamed?: number }).renamed ?? 0;
    const where = pending[renamed]?.path ?? root;
    throw new ApplyError(
      `${where}: cannot write (${code})`,
      renamed + (writes.length - pending.length),
    );
  }
  const changed = writes.map(({ path }) => path);
  for (const [index, removed] of journal.removes.entries()) {
    const path = join(root, removed);
    try {
      await removeFileDurably(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new ApplyError(`${path}: cannot remove (${code})`, changed.length + index);
    }
    changed.push(path);
  }
  // All of them: files an interrupted run renamed into place may not be on disk yet.
  return { changed: changed.sort(), flush: () => makeDurable(writes.map(({ path }) => path)) };
}

export interface Recovery {
  message: string;
  /** Absolute paths the interrupted command changed. */
  files: string[];
}

/** What a journal may touch: the files of one fleet. */
export interface JournalScope {
  /** Absolute path of the fleet's wgqt.toml, in the journal's directory. */
  configFile: string;
  /**
   * Absolute key store directory. Undefined when wgqt.toml does not load:
   * then no store file may be named, since where the store is is unknown.
   */
  keysDir?: string;
  /**
   * Whether git tracks this file (absolute path). wgqt never commits its
   * journal, so one that git tracks came from a commit and is refused.
   */
  isTracked?: (path: string) => Promise<boolean>;
}

/** The longest commit message a journal may carry. */
const MAX_MESSAGE = 1000;

/**
 * Why `journal` names something no wgqt transaction of this fleet writes,
 * or undefined when it does not. A journal may write only wgqt.toml, the
 * `.gitignore` beside it, and store files under the names wgqt gives them
 * (layout.ts), never with an executable or special mode; it may remove only
 * store files (prune removes orphans whatever their name, and temp files).
 * Anything else, `.git/hooks/…` above all, is a planted journal.
 */
export function journalProblem(
  root: string,
  scope: JournalScope,
  journal: Journal,
): string | undefined {
  // The message becomes a commit subject and a line on the terminal: one
  // line, no control characters (no escape sequences).
  if (/\p{Cc}/u.test(journal.message) || journal.message.length > MAX_MESSAGE)
    return "its message is not one line of text";
  const rootFiles = new Set([GITIGNORE_FILE]);
  if (dirname(scope.configFile) === root) rootFiles.add(basename(scope.configFile));
  const keys =
    scope.keysDir === undefined ? undefined : relative(root, scope.keysDir).split(sep).join("/");
  const storeFile = (path: string): string | undefined =>
    keys !== undefined && keys !== "" && path.startsWith(`${keys}/`)
      ? path.slice(keys.length + 1)
      : undefined;
  const check = (path: string, removal: boolean): string | undefined => {
    const parts = path.split("/");
    if (isAbsolute(path) || parts.includes("..")) return `names ${quote(path)}, outside ${root}`;
    const notOurs = `names ${quote(path)}, which is not a file wgqt writes${scope.keysDir === undefined ? " (wgqt.toml does not load, so where the key store is is unknown)" : ""}`;
    if (parts.some((part) => part === "" || part === ".")) return notOurs;
    if (!removal && rootFiles.has(path)) return undefined;
    const file = storeFile(path);
    if (file === undefined) return notOurs;
    if (removal) {
      const temp = storeDirEntry(file)?.name.startsWith(TEMP_PREFIX) ?? false;
      return temp || isRemovableStoreName(file) ? undefined : notOurs;
    }
    return isStoreFileName(file) ? undefined : notOurs;
  };
  for (const { path, mode } of journal.writes) {
    const problem = check(path, false);
    if (problem !== undefined) return problem;
    // Key files, public files and wgqt.toml are 0644: never executable, setuid or sticky.
    if ((mode & ~0o666) !== 0)
      return `would give ${quote(path)} mode ${mode.toString(8)}; wgqt never writes executable or special files`;
  }
  for (const path of journal.removes) {
    const problem = check(path, true);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * Finish what an interrupted command committed to (roll its journal
 * forward) and remove temp files killed writers left beside wgqt.toml and in
 * the store's directories. Call with the fleet lock held, so no writer is
 * running. A journal is checked whole before anything is applied: it must
 * be a complete wgqt journal that git does not track and that touches only
 * this fleet's files (`journalProblem`), none of them through a symlink.
 * Returns what was recovered, if anything.
 */
export async function recoverJournal(
  root: string,
  scope: JournalScope,
  afterApply?: AfterApply,
): Promise<Recovery | undefined> {
  const checked = new Set<string>();
  const dirs = [root];
  if (scope.keysDir !== undefined) {
    for (const dir of [
      scope.keysDir,
      join(scope.keysDir, PRESHARED_DIR),
      join(scope.keysDir, VPN_DIR),
    ]) {
      // Temp files are removed from inside `dir`: it must be a real directory.
      assertNoLinkOnTheWay(root, dir, checked);
      dirs.push(dir);
    }
  }
  for (const dir of dirs) await removeTempFiles(dir);
  const journalPath = join(root, JOURNAL_FILE);
  const bytes = await readStoreFile(journalPath);
  if (bytes === undefined) return undefined;
  const journal = decodeJournal(bytes);
  if (journal === undefined) {
    // Only a complete journal is ever renamed into place; this is not ours.
    throw new StoreError(
      "store/bad-journal",
      `${journalPath}: not a wgqt journal; move it away to continue`,
    );
  }
  const problem = journalProblem(root, scope, journal);
  if (problem !== undefined)
    throw new StoreError(
      "store/bad-journal",
      `${journalPath}: ${problem}; nothing was applied (a planted journal? move it away to continue)`,
    );
  if (await scope.isTracked?.(journalPath))
    throw new StoreError(
      "store/bad-journal",
      `${journalPath}: tracked by git, so it came from a commit, not from an interrupted wgqt run; nothing was applied (check what it holds, then git rm it)`,
    );
  const paths = [...journal.writes.map((write) => write.path), ...journal.removes];
  for (const dir of new Set(paths.map((path) => dirname(join(root, path)))))
    assertNoLinkOnTheWay(root, dir, checked);
  let applied: Applied;
  try {
    applied = await applyJournal(root, journal, true);
  } catch (error) {
    throw new StoreError(
      "store/interrupted",
      `finishing an interrupted change: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  await finish(journalPath, applied, journal.message, afterApply);
  return { message: journal.message, files: applied.changed };
}

async function removeTempFiles(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (name.startsWith(TEMP_PREFIX)) await removeFileDurably(join(dir, name));
  }
}
