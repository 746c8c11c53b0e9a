/**
 * Committing a file with bytes other than the work tree's. When a command
 * edits `wgqt.toml` (appends a machine, say) while the user has edits of
 * their own in it that the change does not need, the commit holds HEAD's
 * text with only the command's edit, and the user's edits stay uncommitted
 * in the file, where they were (see cli/config-commit.ts).
 *
 * The blob is stored with `git hash-object -w --stdin` and put into an index
 * with `update-index --index-info`, whose paths, like every other path
 * update-index reads, are relative to the directory it runs in.
 */
import { spawn } from "node:child_process";
import { relative } from "node:path";
import { StoreError } from "../errors.js";

/**
 * Put `contents` (absolute path → bytes) into the index `index` (a
 * temporary one; undefined: the repository's own) of the repository at `dir`.
 */
export async function stageContents(
  dir: string,
  index: string | undefined,
  contents: ReadonlyMap<string, Uint8Array>,
): Promise<void> {
  let info = "";
  for (const [path, bytes] of [...contents].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const blob = (await git(dir, ["hash-object", "-w", "--stdin"], index, bytes)).trim();
    info += `100644 ${blob}\t${relative(dir, path)}\0`;
  }
  if (info !== "") await git(dir, ["update-index", "-z", "--index-info"], index, info);
}

function git(
  cwd: string,
  args: string[],
  index: string | undefined,
  input: Uint8Array | string,
): Promise<string> {
  const env = index === undefined ? process.env : { ...process.env, GIT_INDEX_FILE: index };
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", (error) => reject(new StoreError(`git commit failed: ${error.message}`)));
    child.on("close", (code) => {
      if (code === 0) return resolve(Buffer.concat(stdout).toString("utf8"));
      const text = Buffer.concat(stderr).toString("utf8").trim().split("\n")[0];
      reject(new StoreError(`git commit failed: ${text || `git ${args[0]} exited with ${code}`}`));
    });
    child.stdin.on("error", () => {});
    child.stdin.end(input);
  });
}
