// The bench's scratch directory: the environment children run in, and how
// finished runs' files are put out of the way without billing the next run.
import { execFileSync } from "node:child_process";
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";

/**
 * Before a timed run: flush what the untimed setup wrote (fleet copies), so
 * that its writeback is not billed to the next command measured.
 */
export function settle() {
  execFileSync("sync");
}

/**
 * A new scratch directory (`work`), with an empty home for the children and
 * the environment they run in (`env`), and `discard` and `keepReplaced`
 * (below) for the files runs leave there.
 */
export function createScratch() {
  const work = mkdtempSync(join(tmpdir(), "wgqt-bench-"));
  const home = join(work, "home");
  mkdirSync(home);
  // Children see no terminal (stdin /dev/null), no colour, and none of the user's
  // git or ssh configuration: HOME is an empty directory, system git config off.
  const env = {
    ...process.env,
    HOME: home,
    NO_COLOR: "1",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "wgqt bench",
    GIT_AUTHOR_EMAIL: "bench@example.org",
    GIT_COMMITTER_NAME: "wgqt bench",
    GIT_COMMITTER_EMAIL: "bench@example.org",
  };
  delete env.FORCE_COLOR;
  // wgqt's code cache (docs/commands.md) in the empty HOME: made by this run's
  // first command of each kind and used by the rest, as on a user's machine.
  delete env.XDG_CACHE_HOME;
  delete env.WGQT_NO_CODE_CACHE;
  delete env.GIT_DIR;
  delete env.GIT_WORK_TREE;

  /**
   * Put a finished run's files out of the way without deleting them: they are
   * moved under the scratch directory's trash/ and deleted with it at the end.
   * Deleting thousands of files right before a timed run would bill the run
   * for it: ext4 without a journal (as on this kind of virtual machine) does
   * not reuse an inode freed in the last minutes, and checks every such inode
   * each time it creates a file, so creating a file after deleting a fleet's
   * store cost over ten times as much kernel time, an effect of the benchmark
   * and not of anything a user does.
   */
  const trash = join(work, "trash");
  let trashed = 0;
  function discard(path) {
    if (!existsSync(path)) return;
    mkdirSync(trash, { recursive: true });
    renameSync(path, join(trash, String(trashed++)));
  }

  /**
   * The same for files a command replaces: before a run of a command that
   * replaces a whole store (rotate --all, a rekey of every file), each file of
   * the store is hard-linked under trash/, so the renames that put the new
   * files in place free no inode until the end. Otherwise each run would leave
   * 14,800 freshly freed inodes, and the next run, or the next command
   * measured, would be billed for the file system's reaction to them.
   */
  function keepReplaced(dir) {
    const into = join(trash, String(trashed++));
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      const from = join(entry.parentPath, entry.name);
      const to = join(into, relative(dir, from));
      if (entry.isDirectory()) mkdirSync(to, { recursive: true });
      else if (entry.isFile()) {
        mkdirSync(dirname(to), { recursive: true });
        linkSync(from, to);
      }
    }
  }

  return { work, env, discard, keepReplaced };
}
