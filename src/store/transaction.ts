/**
 * All-or-nothing changes to the fleet's files, safe against SIGKILL at any
 * instant. A command stages every file it will write or remove (ciphertext
 * and public data only: plaintext keys never get here), then `commit()`:
 *
 * 1. writes one journal, `.wgqt-journal.json` next to `wgqt.toml`, holding
 *    every staged change, atomically: that rename is the commit point
 *    (`encodeJournal` in transaction-journal.ts says what it holds);
 * 2. applies each change atomically (see files.ts);
 * 3. runs `afterApply` (the CLI's git commit), if given, while the applied
 *    files are flushed to disk;
 * 4. removes the journal.
 *
 * Killed before 1, nothing changed. Killed after 1, the next mutating command
 * finds the journal and rolls it forward (`recoverJournal` in
 * transaction-recovery.ts), commit included,
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
import { lstatSync } from "node:fs";
import { dirname, isAbsolute, join, relative, sep } from "node:path";
import { StoreError } from "../errors.js";
import { byteOrder } from "../order.js";
import { assertNoLinkOnTheWay, removeFileDurably, writeFileAtomic } from "./files.js";
import {
  type AfterApply,
  type Applied,
  ApplyError,
  applyJournal,
  finish,
  notHeldYet,
} from "./transaction-apply.js";
import { encodeJournal, JOURNAL_FILE, type Journal } from "./transaction-journal.js";

interface StagedWrite {
  bytes: Buffer;
  mode: number;
  /** No file can hold these bytes yet: not compared with what is there. */
  fresh: boolean;
}

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
      .sort(([a], [b]) => byteOrder(a, b))
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

export type { AfterApply };
