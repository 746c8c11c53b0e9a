/**
 * Committing what a command changed (docs/design.md "Git commits"): every
 * mutating command commits exactly the files it changed. Only the named
 * paths go into the commit, whatever else the user has staged; a store
 * outside a git work tree is fine and simply not committed.
 *
 * The commit is built in a temporary index (HEAD plus the named paths) and
 * committed from there with plain `git commit`, so the user's hooks run and
 * their staged changes stay out. Paths reach git on stdin, never as
 * pathspecs: git matches every pathspec against every index entry, which
 * takes seconds for a fleet's thousands of files, and long argument lists
 * hit the system's limit.
 *
 * A large commit first writes its files' contents as one pack with
 * `git fast-import` (PACK_FROM files and up): `update-index` then finds
 * every blob already stored and only hashes, where it would otherwise
 * create one loose object file per path, which for a fleet's ten thousand
 * files costs more than making them did. The pack only speeds things up;
 * what goes into the commit (modes, deletions, clean filters) is still
 * decided by update-index.
 *
 * A run killed together with its git children (a Ctrl-C reaches the whole
 * process group) leaves git's locks and its temporary index behind; the next
 * commit clears what runs of dead wgqt processes left (`clearDeadRuns`)
 * before it starts, so the interrupted change can be committed.
 */

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { simpleGit } from "simple-git";
import { StoreError } from "../errors.js";
import { byteOrder } from "../order.js";
import { alive } from "../store/lock.js";

/** The outcome of {@link commitFiles}. */
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
 * Paths that neither exist nor are tracked are ignored. Afterwards the
 * user's index holds the named paths as committed (like `git commit --only`).
 *
 * @returns Whether a commit was made, its short hash or why not (not a git work tree, nothing changed).
 * @throws {StoreError} when git fails; the message has git's first line.
 */
export async function commitFiles(
  dir: string,
  files: string[],
  message: string,
  env: Record<string, string | undefined> = process.env,
  /** Paths among `files` committed with these bytes rather than the work tree's (stageContents). */
  contents: ReadonlyMap<string, Uint8Array> = new Map(),
): Promise<CommitResult> {
  if (files.length === 0) return { committed: false, reason: "nothing changed" };
  // Inside the git dir: same file system as the repository, ignored by git,
  // and per worktree. Unique, so concurrent commits cannot share it.
  const tempName = `${RUN_PREFIX}${process.pid}-${randomBytes(4).toString("hex")}`;
  const repo = simpleGit({ baseDir: dir });
  let tempIndex: string;
  try {
    const where = await repo.raw(["rev-parse", "--is-inside-work-tree", "--git-path", tempName]);
    const [inside, gitPath] = where.split("\n");
    if (inside !== "true" || !gitPath) throw new Error("not in a work tree");
    tempIndex = resolve(dir, gitPath);
  } catch {
    return { committed: false, reason: "not in a git repository" };
  }
  // What a killed run left is cleared first, or git would refuse to start.
  await clearDeadRuns(dir, dirname(tempIndex));
  const owner = `${tempIndex}${OWNER_SUFFIX}`;
  try {
    await writeFile(owner, `${process.pid} ${hostname()}\n`, { flag: "wx" });
  } catch (error) {
    throw new StoreError(
      "store/git",
      `git commit failed: cannot write ${owner} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  // update-index takes paths relative to its working directory, `..` included.
  const paths = files.map((file) => `${relative(dir, file)}\0`).join("");
  const temp = (args: string[], input?: string) => gitIn(dir, args, { index: tempIndex, input });
  const updateIndex = ["update-index", "--add", "--remove", "-z", "--stdin"];
  try {
    const quiet = (args: string[]) =>
      repo.raw(args).then(
        (out) => out.trim(),
        () => "",
      );
    const [name, email, head, headTree] = await Promise.all([
      quiet(["config", "--get", "user.name"]),
      quiet(["config", "--get", "user.email"]),
      quiet(["rev-parse", "-q", "--verify", "HEAD^{commit}"]),
      quiet(["rev-parse", "-q", "--verify", "HEAD^{tree}"]),
    ]);
    // Git's own identity when configured; otherwise commit as "wgqt" rather than fail.
    const identity: string[] = [];
    if (!name && !env.GIT_AUTHOR_NAME) identity.push("-c", "user.name=wgqt");
    if (!email && !env.GIT_AUTHOR_EMAIL) identity.push("-c", "user.email=wgqt@localhost");

    if (head) await temp(["read-tree", "HEAD"]);
    if (files.length >= PACK_FROM) await packContents(dir, files);
    // --remove drops tracked paths that are gone; a path neither present
    // nor tracked is skipped silently.
    await temp(updateIndex, paths);
    await stageContents(dir, tempIndex, contents);
    if ((await temp(["write-tree"])).trim() === (headTree || EMPTY_TREE)) {
      // Still bring the user's index in line: a run interrupted after its
      // commit but before this step is finished by one that finds nothing new.
      await gitIn(dir, updateIndex, { input: paths });
      await stageContents(dir, undefined, contents);
      return { committed: false, reason: "nothing changed" };
    }
    await temp([...identity, "commit", "--quiet", "-m", message]);
    // Only now touch the user's index, so a failed commit leaves it as it was.
    await gitIn(dir, updateIndex, { input: paths });
    await stageContents(dir, undefined, contents);
    const hash = (await repo.revparse(["--short", "HEAD"])).trim();
    return { committed: true, hash };
  } catch (error) {
    if (error instanceof StoreError) throw error;
    throw new StoreError("store/git", `git commit failed: ${firstLine((error as Error).message)}`);
  } finally {
    await rm(tempIndex, { force: true });
    await rm(owner, { force: true });
  }
}

/**
 * Files of one commit run in the git directory: the temporary index
 * `wgqt-index-<pid>-<hex>`, the `.lock` git takes on it, and the `.owner`
 * file holding `<pid> <host>`, written when the run starts (its mtime is when).
 */
const RUN_PREFIX = "wgqt-index-";
const OWNER_SUFFIX = ".owner";
const RUN_FILE = /^(wgqt-index-(\d+)-[0-9a-f]+)(\.lock|\.owner)?$/;

/**
 * Clear what commit runs of wgqt processes that no longer exist left in
 * `gitDir`: their temporary index and its lock, and the locks their git
 * children held on shared files when they were killed with them (a Ctrl-C
 * reaches the whole process group; SIGKILL gives git no chance to remove its
 * lock). Without this every later git command fails with "Unable to create
 * '…/index.lock': File exists".
 *
 * A lock on the work tree's index, HEAD or the branch HEAD names is removed
 * only when a run that is dead was ours (its `.owner` names this host and a
 * pid no process has) and the lock was created no earlier than that run
 * started: git's own process made it for that run, and any git started since
 * would have been refused by it. Runs of live processes, and of other hosts
 * sharing the repository, are left alone.
 */
async function clearDeadRuns(dir: string, gitDir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(gitDir);
  } catch {
    return;
  }
  const runs = new Map<string, { pid: number; files: string[] }>();
  for (const name of names) {
    const match = RUN_FILE.exec(name);
    if (match === null) continue;
    const run = runs.get(match[1]!) ?? { pid: Number(match[2]), files: [] };
    run.files.push(name);
    runs.set(match[1]!, run);
  }
  let earliestDeadStart: number | undefined;
  for (const [name, run] of runs) {
    const ownerFile = join(gitDir, `${name}${OWNER_SUFFIX}`);
    const owner = run.files.includes(`${name}${OWNER_SUFFIX}`)
      ? await readFile(ownerFile, "utf8").catch(() => undefined)
      : undefined;
    const [pid, host] = owner?.trim().split(" ") ?? [String(run.pid), undefined];
    if (host !== undefined && host !== hostname()) continue;
    if (Number(pid) !== run.pid || alive(run.pid)) continue;
    if (owner !== undefined) {
      const started = (await stat(ownerFile).catch(() => undefined))?.mtimeMs;
      if (started !== undefined)
        earliestDeadStart = Math.min(earliestDeadStart ?? started, started);
    }
    for (const file of run.files) await rm(join(gitDir, file), { force: true });
  }
  if (earliestDeadStart === undefined) return;
  for (const lock of await sharedLocks(dir)) {
    const created = (await stat(lock).catch(() => undefined))?.mtimeMs;
    if (created !== undefined && created >= earliestDeadStart) await rm(lock, { force: true });
  }
}

/** The locks a commit's git children take on files shared with the user: the index, HEAD, its branch. */
async function sharedLocks(dir: string): Promise<string[]> {
  const paths = ["index", "HEAD"];
  const branch = await gitIn(dir, ["symbolic-ref", "-q", "HEAD"], {}).catch(() => "");
  if (branch.trim().startsWith("refs/")) paths.push(branch.trim());
  const args = paths.flatMap((path) => ["--git-path", path]);
  const resolved = await gitIn(dir, ["rev-parse", ...args], {}).catch(() => "");
  return resolved
    .split("\n")
    .filter(Boolean)
    .map((path) => `${resolve(dir, path)}.lock`);
}

/**
 * Whether git tracks `path` (absolute): it is in the index of the work tree
 * holding it. False outside a work tree, or when git cannot tell.
 */
export async function isTracked(path: string): Promise<boolean> {
  try {
    const listed = await gitIn(
      dirname(path),
      ["ls-files", "-z", "--", `:(literal)${basename(path)}`],
      {},
    );
    return listed !== "";
  } catch {
    return false;
  }
}

/**
 * From how many files a commit writes their contents as a pack first. Below
 * fast-import's own unpack limit (100 objects) it would write loose objects
 * anyway.
 */
const PACK_FROM = 256;

/**
 * Store the contents of `files` in the repository as one pack, without
 * deltas (age files do not share enough to pay for the search). Best effort:
 * a file that cannot be read is skipped and a failing fast-import ignored,
 * since update-index stores whatever is missing and reports real problems.
 */
async function packContents(cwd: string, files: string[]): Promise<void> {
  const child = spawn("git", ["fast-import", "--quiet", "--done", "--depth=0"], {
    cwd,
    stdio: ["pipe", "ignore", "ignore"],
  });
  const exited = new Promise<void>((resolvePromise) => {
    child.on("close", () => resolvePromise());
    child.on("error", () => resolvePromise());
  });
  const input = child.stdin;
  let failed = false;
  input.on("error", () => {
    failed = true;
  });
  for (const file of files) {
    if (failed) break;
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch {
      continue;
    }
    input.write(`blob\ndata ${data.length}\n`);
    input.write(data);
    if (!input.write("\n")) await drained(input, exited);
  }
  if (!failed) input.end("done\n");
  await exited;
}

function drained(stream: NodeJS.WritableStream, exited: Promise<void>): Promise<void> {
  return Promise.race([new Promise<void>((ok) => stream.once("drain", () => ok())), exited]);
}

/** The tree of an empty index, what `write-tree` gives before the first commit. */
const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

function firstLine(text: string): string {
  return text.trim().split("\n")[0] ?? "";
}

/**
 * Committing a file with bytes other than the work tree's: when a command
 * edits `wgqt.toml` while the user has edits of their own in it that the
 * change does not need, the commit holds HEAD's text with only the command's
 * edit, and the user's edits stay uncommitted in the file (see
 * cli/config-commit.ts). Puts `contents` (absolute path → bytes) into the
 * index `index` (a temporary one; undefined: the repository's own) with `git
 * hash-object -w --stdin` and `update-index --index-info`, whose paths are
 * relative to the directory it runs in.
 */
async function stageContents(
  dir: string,
  index: string | undefined,
  contents: ReadonlyMap<string, Uint8Array>,
): Promise<void> {
  let info = "";
  for (const [path, bytes] of [...contents].sort(([a], [b]) => byteOrder(a, b))) {
    const blob = (
      await gitIn(dir, ["hash-object", "-w", "--stdin"], { index, input: bytes })
    ).trim();
    info += `100644 ${blob}\t${relative(dir, path)}\0`;
  }
  if (info !== "") await gitIn(dir, ["update-index", "-z", "--index-info"], { index, input: info });
}

/**
 * Run git in `cwd` with `index` as its index (GIT_INDEX_FILE) and `input` on
 * stdin, neither of which simple-git offers without lifting its guards on the
 * environment; resolves with stdout when git exits 0.
 */
function gitIn(
  cwd: string,
  args: string[],
  options: { index?: string | undefined; input?: Uint8Array | string | undefined },
): Promise<string> {
  const env =
    options.index === undefined ? process.env : { ...process.env, GIT_INDEX_FILE: options.index };
  return new Promise((resolvePromise, reject) => {
    const child = spawn("git", args, { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", (error) =>
      reject(new StoreError("store/git", `git commit failed: ${error.message}`)),
    );
    child.on("close", (code, signal) => {
      if (code === 0) return resolvePromise(Buffer.concat(stdout).toString("utf8"));
      const text = firstLine(Buffer.concat(stderr).toString("utf8"));
      reject(
        new StoreError(
          "store/git",
          `git commit failed: ${text || `git ${args[0]} ${signal ? `killed by ${signal}` : `exited with ${code}`}`}`,
        ),
      );
    });
    // git may exit before reading all its input; its exit status says why.
    child.stdin.on("error", () => {});
    child.stdin.end(options.input);
  });
}
