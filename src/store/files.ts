/**
 * Crash-safe file writes, the way wg-quick and every careful key tool does it:
 * write a temp file in the same directory with the final mode, fsync it,
 * rename it over the target, fsync the directory. A reader (or a crash) sees
 * the old file or the new one, never half of one. Only ciphertext and public
 * data ever pass through here.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Prefix of our temp files, so `verify` can report leftovers from a crash. */
export const TEMP_PREFIX = ".wgqt-tmp-";

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Atomically replace `path` with `data`, created with `mode`. */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  mode = 0o644,
): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const temp = join(
    dir,
    `${TEMP_PREFIX}${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}`,
  );
  const handle = await open(temp, "wx", mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask must not loosen or tighten what we asked for
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await fsyncDirectory(dir);
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

/** How many files are written at once: enough to overlap fsyncs, few enough for small machines. */
const IO_CONCURRENCY = 16;

/**
 * Replace many files, each atomically, with fewer round trips than
 * `writeFileAtomic` one by one: every temp file is written and fsynced (in
 * parallel), then each is renamed into place, then each directory is fsynced
 * once. Used by the transaction, whose journal covers a crash between the
 * renames. Returns how many files were renamed when it throws part-way
 * (`renamed` on the error), so the caller knows whether anything changed.
 */
export async function writeFilesAtomic(
  files: { path: string; data: Uint8Array; mode: number }[],
): Promise<void> {
  const temps = files.map(({ path }) =>
    join(
      dirname(path),
      `${TEMP_PREFIX}${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}`,
    ),
  );
  const dirs = [...new Set(files.map(({ path }) => dirname(path)))];
  try {
    for (const dir of dirs) await mkdir(dir, { recursive: true });
    await mapLimit([...files.keys()], IO_CONCURRENCY, async (index) => {
      const file = files[index]!;
      const temp = temps[index]!;
      const handle = await open(temp, "wx", file.mode);
      try {
        await handle.writeFile(file.data);
        await handle.chmod(file.mode);
        await handle.sync();
      } finally {
        await handle.close();
      }
    });
  } catch (error) {
    await Promise.all(temps.map((temp) => rm(temp, { force: true })));
    throw Object.assign(error as Error, { renamed: 0 });
  }
  let renamed = 0;
  try {
    for (const [index, file] of files.entries()) {
      await rename(temps[index]!, file.path);
      renamed++;
    }
    await mapLimit(dirs, IO_CONCURRENCY, fsyncDirectory);
  } catch (error) {
    await Promise.all(temps.slice(renamed).map((temp) => rm(temp, { force: true })));
    throw Object.assign(error as Error, { renamed });
  }
}

/** Remove a file and make the removal durable; a missing file is fine. */
export async function removeFileDurably(path: string): Promise<void> {
  await rm(path, { force: true });
  await fsyncDirectory(dirname(path));
}

/** Read a file, or undefined when it does not exist. */
export async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
