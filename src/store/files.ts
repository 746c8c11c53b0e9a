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
