/**
 * One writer at a time: mutating commands hold `.wgqt.lock` next to
 * `wgqt.toml` for as long as they run. The file holds the owner's pid and
 * host; a lock whose process is gone (killed, crashed) is stale and is
 * broken safely: it is renamed away first, so of two processes breaking the
 * same stale lock only one succeeds.
 */
import { constants } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { StoreError } from "../errors.js";
import { nodeCrypto, nodeFsPromises, nodeOs } from "../lazy-node.js";
import { tempPathFor } from "./files.js";

export const LOCK_FILE = ".wgqt.lock";

interface LockOwner {
  pid: number;
  host: string;
}

function parseOwner(text: string): LockOwner | undefined {
  const match = /^(\d+) (\S+)\n?$/.exec(text);
  return match ? { pid: Number(match[1]), host: match[2]! } : undefined;
}

/** Whether `pid` is a live process on this host. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Create the lock holding `content`, or return false if it exists. The
 * content is written to a temp file first and linked into place: link(2)
 * fails when the lock exists, like an exclusive open, but no process ever
 * reads (and no kill ever leaves) a lock file without its owner in it. A
 * temp file a kill leaves behind is cleared by the next command (see
 * recoverJournal). Where hard links are not supported, the lock is created
 * and then written.
 */
async function tryCreate(path: string, content: string): Promise<boolean> {
  const temp = tempPathFor(path);
  try {
    await writeNew(temp, content);
    try {
      await nodeFsPromises().link(temp, path);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // The lock's holder clears temp files, ours too: try again.
      if (code === "ENOENT") return false;
      if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw error;
      await writeNew(path, content);
      return true;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw new StoreError(
      "store/io",
      `${path}: cannot create the lock (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  } finally {
    await nodeFsPromises()
      .unlink(temp)
      .catch(() => {});
  }
}

/** Create `path` (it must not exist) holding `content`, flushed to disk. */
async function writeNew(path: string, content: string): Promise<void> {
  const handle = await nodeFsPromises().open(path, "wx", 0o644);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A lock holds one short line; anything longer is not a wgqt lock. */
const MAX_LOCK_BYTES = 1024;

/**
 * The text of the lock file at `path`; undefined when there is none, and
 * "\0" (which no owner line matches) when it is not a small regular file:
 * a symlink committed in its place (to /dev/zero, say) is neither followed
 * nor read (see files.ts READ_NO_FOLLOW).
 */
async function readLock(path: string): Promise<string | undefined> {
  let handle: FileHandle;
  try {
    handle = await nodeFsPromises().open(
      path,
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
    );
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? undefined : "\0";
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile() || stats.size > MAX_LOCK_BYTES) return "\0";
    return await handle.readFile("utf8");
  } catch {
    return "\0";
  } finally {
    await handle.close();
  }
}

/** Move a stale lock out of the way if it still is the one we judged stale. */
async function breakStale(path: string, staleText: string): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${nodeCrypto().randomBytes(4).toString("hex")}`;
  try {
    await nodeFsPromises().rename(path, aside);
  } catch {
    return; // someone else moved it first
  }
  const moved = (await readLock(aside)) ?? "";
  if (moved !== staleText) {
    // We moved a fresh lock another process just took: put it back.
    await nodeFsPromises()
      .link(aside, path)
      .catch(() => {});
  }
  await nodeFsPromises()
    .unlink(aside)
    .catch(() => {});
}

/**
 * An empty lock file is one being written (for microseconds, where hard links
 * are not supported), or one a process was killed while writing (earlier
 * versions created the lock and then wrote it). Empty for longer than this,
 * it is the latter.
 */
const ABANDONED_EMPTY_MS = 10_000;

/** How long ago the empty lock at `path` was last modified, in ms (0 if it is gone). */
async function emptyFor(path: string): Promise<number> {
  const stats = await nodeFsPromises()
    .stat(path)
    .catch(() => undefined);
  return stats === undefined || stats.size !== 0 ? 0 : Date.now() - stats.mtimeMs;
}

/**
 * Take the lock at `path` or fail with "store is locked by pid N". Returns
 * the function that releases it.
 */
export async function acquireLock(path: string): Promise<() => Promise<void>> {
  const host = nodeOs().hostname();
  const content = `${process.pid} ${host}\n`;
  // Each failed attempt found the lock gone when it looked (released, or
  // stale and broken): under contention that can happen a few times running.
  for (let attempt = 0; attempt < 100; attempt++) {
    if (await tryCreate(path, content)) {
      return async () => {
        const current = (await readLock(path)) ?? "";
        if (current === content)
          await nodeFsPromises()
            .unlink(path)
            .catch(() => {});
      };
    }
    const text = await readLock(path);
    if (text === undefined) continue; // released meanwhile
    const owner = parseOwner(text);
    if (
      (owner && owner.host === host && !alive(owner.pid)) ||
      (text === "" && (await emptyFor(path)) > ABANDONED_EMPTY_MS)
    ) {
      await breakStale(path, text);
      continue;
    }
    if (!owner)
      throw new StoreError(
        "store/locked",
        `${path}: unreadable lock file; remove it if no wgqt is running`,
      );
    throw new StoreError(
      "store/locked",
      `store is locked by pid ${owner.pid}${owner.host === host ? "" : ` on ${owner.host}`} (${path}); wait for it to finish`,
    );
  }
  throw new StoreError("store/locked", `${path}: could not take the lock`);
}
