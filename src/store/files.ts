/**
 * Crash-safe file writes, the way wg-quick and every careful key tool does it:
 * write a temp file in the same directory with the final mode, fsync it,
 * rename it over the target, fsync the directory. A reader (or a crash) sees
 * the old file or the new one, never half of one. Only ciphertext and public
 * data ever pass through here.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { basename, dirname, join, relative, sep } from "node:path";
import { promisify } from "node:util";
import { StoreError } from "../errors.js";
import { nodeCrypto, nodeFsPromises } from "../lazy-node.js";

/** Prefix of our temp files, so `verify` can report leftovers from a crash. */
export const TEMP_PREFIX = ".wgqt-tmp-";

/** fsync(2) a file or a directory (a directory's fsync makes its entries durable). */
async function fsyncPath(path: string): Promise<void> {
  const handle = await nodeFsPromises().open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A new temp file name beside `path` (the process's pid in it, and randomness). */
export function tempPathFor(path: string): string {
  return join(
    dirname(path),
    `${TEMP_PREFIX}${basename(path)}.${process.pid}.${nodeCrypto().randomBytes(4).toString("hex")}`,
  );
}

/** Atomically replace `path` with `data` (or its pieces, in order), created with `mode`. */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string | readonly Uint8Array[],
  mode = 0o644,
): Promise<void> {
  const dir = dirname(path);
  await nodeFsPromises().mkdir(dir, { recursive: true });
  const temp = tempPathFor(path);
  const handle = await nodeFsPromises().open(temp, "wx", mode);
  try {
    if (typeof data === "string" || data instanceof Uint8Array) await handle.writeFile(data);
    else {
      // Pieces (a journal: its first line, then every file) go out in one
      // writev rather than being joined into one buffer first.
      const size = data.reduce((sum, piece) => sum + piece.length, 0);
      const { bytesWritten } = await handle.writev(data);
      if (bytesWritten !== size) throw new Error(`short write (${bytesWritten} of ${size} bytes)`);
    }
    await handle.chmod(mode); // the umask must not loosen or tighten what we asked for
    await handle.sync();
  } catch (error) {
    await handle.close();
    await nodeFsPromises().rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await nodeFsPromises().rename(temp, path);
  } catch (error) {
    await nodeFsPromises().rm(temp, { force: true });
    throw error;
  }
  await fsyncPath(dir);
}

/** Run `task` over `items` with at most `limit` at once (I/O fan-out), in order of results. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** How many fsyncs run at once when files are flushed one by one. */
const IO_CONCURRENCY = 16;
/** From this many files on, one syncfs(2) flushes them instead of one fsync each. */
const SYNCFS_THRESHOLD = 64;

/**
 * Replace many files, each atomically, for the transaction (whose journal,
 * already durable, covers a crash part-way): every temp file is written, then
 * each is renamed into place. `makeDurable` then flushes them all at once.
 *
 * Key files are a few hundred bytes, so the work is system calls, not data:
 * they are made with synchronous calls (a promise and a thread-pool hop per
 * open, write, close and rename cost more than the calls themselves), and not
 * fsynced one by one before their rename. A reader, or a killed process,
 * still sees the old file or the new one: the rename is atomic and the page
 * cache holds the bytes. Only a power loss could leave a renamed file short,
 * and until `makeDurable` has returned the journal is kept to rewrite it.
 * Says how many files were renamed when it throws part-way (`renamed` on the
 * error), so the caller knows whether anything changed.
 */
export function replaceFiles(files: { path: string; data: Uint8Array; mode: number }[]): void {
  const temps = files.map(({ path }) => tempPathFor(path));
  const dirs = [...new Set(files.map(({ path }) => dirname(path)))];
  // Modes the umask was seen to leave alone: it is the same for every file.
  const unmasked = new Set<number>();
  try {
    for (const dir of dirs) mkdirSync(dir, { recursive: true });
    for (const [index, file] of files.entries()) {
      const fd = openSync(temps[index]!, "wx", file.mode);
      try {
        writeFileSync(fd, file.data);
        // The umask may have taken bits off the mode asked for. fchmod only
        // then: it costs far more than the fstat (it dirties the inode again).
        if (!unmasked.has(file.mode)) {
          if ((fstatSync(fd).mode & 0o7777) === file.mode) unmasked.add(file.mode);
          else fchmodSync(fd, file.mode);
        }
      } finally {
        closeSync(fd);
      }
    }
  } catch (error) {
    for (const temp of temps) rmSync(temp, { force: true });
    throw Object.assign(error as Error, { renamed: 0 });
  }
  let renamed = 0;
  try {
    for (const [index, file] of files.entries()) {
      renameSync(temps[index]!, file.path);
      renamed++;
    }
  } catch (error) {
    for (const temp of temps.slice(renamed)) rmSync(temp, { force: true });
    throw Object.assign(error as Error, { renamed });
  }
}

/**
 * Replace many files, each atomically (`replaceFiles`), and flush them to
 * disk together (`makeDurable`): for callers without a journal of their own.
 */
export async function writeFilesAtomic(
  files: { path: string; data: Uint8Array; mode: number }[],
): Promise<void> {
  replaceFiles(files);
  await makeDurable(files.map(({ path }) => path));
}

/**
 * Flush `files` and the directories holding them to disk. Many files: one
 * syncfs(2) per file system, through coreutils' `sync --file-system` (Node has
 * no syncfs), which costs one journal commit instead of one per file; where
 * that is unavailable, or for a few files, an fsync of each file and directory.
 */
export async function makeDurable(files: string[]): Promise<void> {
  const dirs = [...new Set(files.map((path) => dirname(path)))];
  if (files.length >= SYNCFS_THRESHOLD && (await syncFileSystems(dirs))) return;
  await mapLimit(files, IO_CONCURRENCY, fsyncPath);
  await mapLimit(dirs, IO_CONCURRENCY, fsyncPath);
}

/** syncfs(2) for the file system of each of `dirs`; false when `sync -f` is not available. */
async function syncFileSystems(dirs: string[]): Promise<boolean> {
  const byDevice = new Map<number, string>();
  for (const dir of dirs) byDevice.set(statSync(dir).dev, dir);
  try {
    // Taken here, by the commands that write: the others never load child_process.
    const execFileAsync = promisify(process.getBuiltinModule("node:child_process").execFile);
    for (const dir of byDevice.values()) await execFileAsync("sync", ["--file-system", dir]);
    return true;
  } catch {
    return false;
  }
}

/** Remove a file and make the removal durable; a missing file is fine. */
export async function removeFileDurably(path: string): Promise<void> {
  await nodeFsPromises().rm(path, { force: true });
  await fsyncPath(dirname(path));
}

/** Read a file, or undefined when it does not exist. */
export function readIfExistsSync(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Read a file, or undefined when it does not exist. */
export async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await nodeFsPromises().readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * How wgqt opens the files of the repository for reading: never through a symlink in the
 * last component (open(2) O_NOFOLLOW fails with ELOOP), and without blocking
 * on a FIFO (O_NONBLOCK; a FIFO is then refused as not a regular file). A
 * repository can hold a symlink to any file of the machine, or to a device
 * that never ends; the store holds only regular files.
 */
const READ_NO_FOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

function refusedRead(path: string, error: unknown): StoreError | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ELOOP")
    return new StoreError(
      "store/unsafe-path",
      `${path}: is a symlink; wgqt reads only regular files here, never through a link`,
    );
  return undefined;
}

function notRegular(path: string): StoreError {
  return new StoreError(
    "store/unsafe-path",
    `${path}: is not a regular file; wgqt reads only regular files here`,
  );
}

/**
 * Read a file of the store: its bytes, or undefined when it does not exist.
 * A symlink or anything but a regular file is a StoreError (see READ_NO_FOLLOW).
 */
export function readStoreFileSync(path: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, READ_NO_FOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw refusedRead(path, error) ?? error;
  }
  try {
    return readOpenFile(fd, path);
  } finally {
    closeSync(fd);
  }
}

/**
 * What readFileSync(fd) reads, with one fstat instead of two (it makes its
 * own): the size the fstat that refuses a non-regular file gives, read in
 * one go. `status` reads every file of the store, thousands of a few hundred
 * bytes each, where each system call costs more than the reading.
 */
function readOpenFile(fd: number, path: string): Buffer {
  const stats = fstatSync(fd);
  if (!stats.isFile()) throw notRegular(path);
  const size = stats.size;
  // A file that says it is empty may not be (readFileSync reads it to the end too).
  if (size === 0) return readFileSync(fd);
  const bytes = Buffer.allocUnsafe(size);
  let length = 0;
  while (length < size) {
    const read = readSync(fd, bytes, length, size - length, null);
    if (read === 0) break;
    length += read;
  }
  return length === size ? bytes : bytes.subarray(0, length);
}

/** `readStoreFileSync`, asynchronously. */
export async function readStoreFile(path: string): Promise<Buffer | undefined> {
  let handle: FileHandle;
  try {
    handle = await nodeFsPromises().open(path, READ_NO_FOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw refusedRead(path, error) ?? error;
  }
  try {
    if (!(await handle.stat()).isFile()) throw notRegular(path);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/**
 * Refuse, before anything is written, a directory below `root` that is, or
 * is reached through, a symlink or a file where a directory should be. Each
 * existing directory from `root` (exclusive) down to `dir` (inclusive) is
 * checked with lstat(2); the first missing one ends the walk (what is missing
 * is created as real directories). A symlink committed to the repository can
 * point anywhere on the machine, and git itself refuses to add a path
 * "beyond a symbolic link", so wgqt follows none. `checked` remembers
 * directories already found good. Files themselves are not checked here: a
 * file is replaced by rename(2), which replaces a symlink there rather than
 * writing through it, and read with readStoreFile, which refuses one.
 */
export function assertNoLinkOnTheWay(root: string, dir: string, checked?: Set<string>): void {
  const inside = relative(root, dir);
  if (inside === "") return;
  if (inside === ".." || inside.startsWith(`..${sep}`))
    throw new StoreError("store/unsafe-path", `${dir}: outside ${root}; refusing to write there`);
  let current = root;
  for (const part of inside.split(sep)) {
    current = join(current, part);
    if (checked?.has(current)) continue;
    const stats = lstatSync(current, { throwIfNoEntry: false });
    if (stats === undefined) return;
    if (stats.isSymbolicLink())
      throw new StoreError(
        "store/unsafe-path",
        `${current}: is a symlink; wgqt reads and writes only inside ${root}, never through a link (make it a directory)`,
      );
    if (!stats.isDirectory())
      throw new StoreError("store/unsafe-path", `${current}: is not a directory`);
    checked?.add(current);
  }
}

/** The SHA-256 of a file's bytes, hex: what the manifest records. */
export function sha256Hex(bytes: Uint8Array): string {
  // One call, not a Hash object per file: status hashes every file of the store.
  return nodeCrypto().hash("sha256", bytes, "hex");
}
