/**
 * Committing what a command changed (DESIGN.md: "Every mutating command
 * commits exactly the files it changed"). Only the named paths go into the
 * commit, whatever else the user has staged; a store outside a git work tree
 * is fine and simply not committed.
 */

import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import { type SimpleGit, simpleGit } from "simple-git";
import { StoreError } from "../errors.js";

export interface CommitResult {
  committed: boolean;
  /** Short hash of the new commit. */
  hash?: string;
  /** Why nothing was committed, when it was not. */
  reason?: string;
}

/**
 * Commit `files` (absolute paths; added, changed or deleted) in the git work
 * tree containing `dir`, with `message`. `env` is only consulted for an
 * author identity (GIT_AUTHOR_NAME/EMAIL); git runs with the process's own.
 */
export async function commitFiles(
  dir: string,
  files: string[],
  message: string,
  env: Record<string, string | undefined> = process.env,
): Promise<CommitResult> {
  if (files.length === 0) return { committed: false, reason: "nothing changed" };
  const git = simpleGit({ baseDir: dir });
  let top: string;
  try {
    if (!(await git.checkIsRepo())) return { committed: false, reason: "not in a git repository" };
    top = (await git.revparse(["--show-toplevel"])).trim();
  } catch {
    return { committed: false, reason: "not in a git repository" };
  }
  const paths = files.map((file) => relative(top, file));
  // Git's own identity when configured; otherwise commit as "wgqt" rather than fail.
  const identity: string[] = [];
  const name = (await git.raw(["config", "--get", "user.name"]).catch(() => "")).trim();
  const email = (await git.raw(["config", "--get", "user.email"]).catch(() => "")).trim();
  if (!name && !env.GIT_AUTHOR_NAME) identity.push("-c", "user.name=wgqt");
  if (!email && !env.GIT_AUTHOR_EMAIL) identity.push("-c", "user.email=wgqt@localhost");
  const repo = simpleGit({ baseDir: top });
  try {
    // `add -A` records deletions too; tracked-or-present paths only.
    const known = await existingOrTracked(repo, top, paths);
    if (known.length === 0) return { committed: false, reason: "nothing changed" };
    await repo.raw(["add", "-A", "--", ...known]);
    const staged = (await repo.raw(["diff", "--cached", "--name-only", "--", ...known])).trim();
    if (!staged) return { committed: false, reason: "nothing changed" };
    // `commit -- paths` commits only those paths (git-commit(1) --only).
    await repo.raw([...identity, "commit", "--quiet", "-m", message, "--", ...known]);
    const hash = (await repo.revparse(["--short", "HEAD"])).trim();
    return { committed: true, hash };
  } catch (error) {
    throw new StoreError(`git commit failed: ${(error as Error).message.split("\n")[0]}`);
  }
}

async function existingOrTracked(repo: SimpleGit, top: string, paths: string[]): Promise<string[]> {
  const tracked = new Set(
    (await repo.raw(["ls-files", "--", ...paths])).split("\n").filter(Boolean),
  );
  return paths.filter((path) => tracked.has(path) || existsSync(join(top, path)));
}
