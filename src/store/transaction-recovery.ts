/**
 * Recovery: rolling forward the journal of a change a killed command had
 * committed to (transaction.ts), once it is checked whole
 * (transaction-journal.ts), and removing the temp files killed writers left.
 */
import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { StoreError } from "../errors.js";
import { assertNoLinkOnTheWay, readStoreFile, removeFileDurably, TEMP_PREFIX } from "./files.js";
import { PRESHARED_DIR, VPN_DIR } from "./layout.js";
import type { AfterApply } from "./transaction.js";
import { type Applied, applyJournal, finish } from "./transaction-apply.js";
import {
  decodeJournal,
  JOURNAL_FILE,
  type JournalScope,
  journalProblem,
} from "./transaction-journal.js";

export interface Recovery {
  message: string;
  /** Absolute paths the interrupted command changed. */
  files: string[];
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
