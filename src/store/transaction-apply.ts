/**
 * Applying a journal (transaction-journal.ts) to the files it names, and
 * finishing the change: the shared second half of a transaction's commit
 * and of the recovery of an interrupted one.
 */
import { lstatSync, readdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { StoreError } from "../errors.js";
import { makeDurable, readStoreFileSync, removeFileDurably, replaceFiles } from "./files.js";
import type { Journal } from "./transaction-journal.js";

/** What runs once a transaction's files are in place, before its journal goes (a git commit). */
export type AfterApply = (changed: string[], message: string) => Promise<void>;

/** What applying a journal changed, and how to make it durable. */
export interface Applied {
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
export async function finish(
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
export class ApplyError extends Error {
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
export function notHeldYet<T extends { path: string; data: Buffer }>(writes: readonly T[]): T[] {
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
export async function applyJournal(
  root: string,
  journal: Journal,
  recovering: boolean,
): Promise<Applied> {
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
