/**
 * Holding the fleet's lock for a command (store/lock.ts), so that Ctrl-C
 * does not leave it behind: the lock is removed on the way out however the
 * command ends, and on SIGINT before the process exits (interrupt.ts). A
 * lock left by a dead process would be cleared by the next command anyway,
 * but a user who sees `.wgqt.lock` after a Ctrl-C cannot know that.
 */
import { existsSync, lstatSync, readFileSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { acquireLock } from "../store/lock.js";
import { JOURNAL_FILE } from "../store/transaction-journal.js";
import type { CliIO } from "./io.js";

/** What Ctrl-C leaves when a journaled change has not been completed yet. */
export const JOURNALED =
  "interrupted: the change is journaled; the next wgqt command that writes completes and commits it";

/**
 * Take the lock at `path` (beside wgqt.toml) for this command. Returns the
 * function that releases it.
 */
export async function holdLock(io: CliIO, path: string): Promise<() => Promise<void>> {
  const release = await acquireLock(path);
  const interrupts = io.interrupts;
  if (interrupts === undefined) return release;
  // The lock as this process wrote it: removed on Ctrl-C only while it is still that.
  const ours = readFileSync(path);
  const forget = interrupts.onInterrupt(() => {
    const stats = lstatSync(path, { throwIfNoEntry: false });
    if (stats?.isFile() && readFileSync(path).equals(ours)) unlinkSync(path);
  });
  const journal = join(dirname(path), JOURNAL_FILE);
  const unsay = interrupts.describeOutcome(() => (existsSync(journal) ? JOURNALED : undefined));
  return async () => {
    forget();
    unsay();
    await release();
  };
}
