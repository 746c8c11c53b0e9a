/**
 * commitFiles against real git in throwaway repositories: exactly the named
 * paths go into the commit, the user's other staged work stays staged and
 * out of it, and a rejected commit leaves the user's index as it was.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { StoreError } from "../../src/errors.js";
import { commitFiles } from "../../src/git/commit.js";
import { makeTempDir, removeDir } from "../helpers/fleet.js";

const IDENTITY = {
  GIT_AUTHOR_NAME: "Test",
  GIT_AUTHOR_EMAIL: "test@example.org",
  GIT_COMMITTER_NAME: "Test",
  GIT_COMMITTER_EMAIL: "test@example.org",
};
const saved = { ...process.env };
const dirs: string[] = [];
let home: string;

// commitFiles runs git with the process's environment: keep the machine's
// git configuration (identity, hooks path, signing) out of these tests.
beforeAll(() => {
  home = makeTempDir("wgqt-git-home-");
  writeFileSync(join(home, "gitconfig"), "");
  process.env.GIT_CONFIG_GLOBAL = join(home, "gitconfig");
  process.env.GIT_CONFIG_NOSYSTEM = "1";
  for (const name of Object.keys(IDENTITY)) delete process.env[name];
});

afterAll(() => {
  process.env = saved;
  removeDir(home);
});

afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});

function git(repo: string, ...args: string[]): string {
  return execFileSync("git", ["-C", repo, ...args], {
    encoding: "utf8",
    env: { ...process.env, ...IDENTITY },
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** A fresh repository without commits. */
function freshRepo(): string {
  const repo = makeTempDir("wgqt-commit-");
  dirs.push(repo);
  git(repo, "init", "-q", "-b", "main");
  git(repo, "config", "user.name", "Repo User");
  git(repo, "config", "user.email", "repo@example.org");
  return repo;
}

/** A repository whose first commit holds `files` (path → content). */
function repoWith(files: Record<string, string>): string {
  const repo = freshRepo();
  write(repo, files);
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "-m", "start");
  return repo;
}

function write(repo: string, files: Record<string, string>): string[] {
  return Object.entries(files).map(([path, content]) => {
    const file = join(repo, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    return file;
  });
}

function headFiles(repo: string): string[] {
  return git(repo, "show", "--name-status", "--format=", "HEAD").trim().split("\n");
}

function staged(repo: string): string {
  return git(repo, "diff", "--cached", "--name-status").trim();
}

function head(repo: string): string {
  return git(repo, "rev-parse", "HEAD").trim();
}

function countObjects(repo: string): Record<string, number> {
  const lines = git(repo, "count-objects", "-v").trim().split("\n");
  return Object.fromEntries(lines.map((line) => line.split(": ")).map(([k, v]) => [k, Number(v)]));
}

/** Temporary indexes commitFiles left in the git dir (none, ever). */
function leftovers(repo: string): string[] {
  return readdirSync(join(repo, ".git")).filter((name) => name.startsWith("wgqt-"));
}

describe("commitFiles", () => {
  it("makes the first commit of a fresh repository", async () => {
    const repo = freshRepo();
    const files = write(repo, {
      "wireguard_keys/a.age": "a",
      "wireguard_keys/with space é.pub": "b",
      "wgqt.toml": "c",
    });
    write(repo, { "untouched.txt": "not mine" });

    const result = await commitFiles(repo, files, "wgqt: init");

    expect(result).toEqual({
      committed: true,
      hash: git(repo, "rev-parse", "--short", "HEAD").trim(),
    });
    expect(git(repo, "log", "--format=%s%n%an <%ae>").trim()).toBe(
      "wgqt: init\nRepo User <repo@example.org>",
    );
    expect(
      git(repo, "ls-tree", "-r", "--name-only", "-z", "HEAD").split("\0").filter(Boolean),
    ).toEqual(["wgqt.toml", "wireguard_keys/a.age", "wireguard_keys/with space é.pub"]);
    // The user's index holds the committed files; nothing else was staged.
    expect(staged(repo)).toBe("");
    expect(git(repo, "status", "--porcelain", "-uall").trim()).toBe("?? untouched.txt");
    expect(leftovers(repo)).toEqual([]);
  });

  it("keeps what the user staged staged and out of the commit", async () => {
    const repo = repoWith({
      "wgqt.toml": "v1\n",
      "notes.txt": "old\n",
      "wireguard_keys/a.age": "a1",
    });
    write(repo, { "notes.txt": "staged edit\n", "mine.txt": "new\n" });
    git(repo, "add", "notes.txt", "mine.txt");
    // A named path the user had staged differently ends up as committed.
    const files = write(repo, { "wireguard_keys/a.age": "a2", "wireguard_keys/b.age": "b" });
    git(repo, "add", files[0] as string);
    write(repo, { "wireguard_keys/a.age": "a3" });

    const result = await commitFiles(repo, files, "wgqt: keygen");

    expect(result.committed).toBe(true);
    expect(headFiles(repo)).toEqual(["M\twireguard_keys/a.age", "A\twireguard_keys/b.age"]);
    expect(git(repo, "show", "HEAD:wireguard_keys/a.age")).toBe("a3");
    expect(staged(repo)).toBe("A\tmine.txt\nM\tnotes.txt");
    expect(git(repo, "show", ":notes.txt")).toBe("staged edit\n");
    expect(git(repo, "status", "--porcelain").trim()).toBe("A  mine.txt\nM  notes.txt");
    expect(leftovers(repo)).toEqual([]);
  });

  it("commits a deleted tracked file as a deletion", async () => {
    const repo = repoWith({ "wireguard_keys/old.age": "x", "wireguard_keys/kept.age": "y" });
    rmSync(join(repo, "wireguard_keys/old.age"));

    const result = await commitFiles(repo, [join(repo, "wireguard_keys/old.age")], "wgqt: prune");

    expect(result.committed).toBe(true);
    expect(headFiles(repo)).toEqual(["D\twireguard_keys/old.age"]);
    expect(git(repo, "ls-files").trim()).toBe("wireguard_keys/kept.age");
    expect(git(repo, "status", "--porcelain").trim()).toBe("");
  });

  it("ignores a path that neither exists nor is tracked", async () => {
    const repo = repoWith({ "wgqt.toml": "v1\n" });
    const [toml] = write(repo, { "wgqt.toml": "v2\n" });
    const ghost = join(repo, "wireguard_keys/never.age");

    expect((await commitFiles(repo, [ghost], "wgqt: nothing")).committed).toBe(false);
    const result = await commitFiles(repo, [ghost, toml as string], "wgqt: toml");

    expect(result.committed).toBe(true);
    expect(headFiles(repo)).toEqual(["M\twgqt.toml"]);
    expect(git(repo, "status", "--porcelain").trim()).toBe("");
  });

  it("commits nothing when nothing differs from HEAD", async () => {
    const repo = repoWith({ "wgqt.toml": "v1\n", "wireguard_keys/a.age": "a" });
    const before = head(repo);
    const files = [join(repo, "wgqt.toml"), join(repo, "wireguard_keys/a.age")];

    expect(await commitFiles(repo, files, "wgqt: again")).toEqual({
      committed: false,
      reason: "nothing changed",
    });
    expect(await commitFiles(repo, [], "wgqt: none")).toEqual({
      committed: false,
      reason: "nothing changed",
    });
    expect(head(repo)).toBe(before);
    expect(leftovers(repo)).toEqual([]);
  });

  it("says so outside a git repository", async () => {
    const dir = makeTempDir("wgqt-nogit-");
    dirs.push(dir);
    const files = write(dir, { "wgqt.toml": "v1\n" });

    expect(await commitFiles(dir, files, "wgqt: init")).toEqual({
      committed: false,
      reason: "not in a git repository",
    });
  });

  it("commits thousands of paths, named from a subdirectory of the work tree", async () => {
    const repo = repoWith({ "wgqt.toml": "v1\n" });
    const contents: Record<string, string> = { "wgqt.toml": "v2\n" };
    for (let i = 0; i < 6000; i++) contents[`wireguard_keys/preshared_keys/p${i}.age`] = `${i}`;
    const files = write(repo, contents);

    const result = await commitFiles(join(repo, "wireguard_keys"), files, "wgqt: fleet");

    expect(result.committed).toBe(true);
    const changed = headFiles(repo);
    expect(changed).toHaveLength(6001);
    expect(changed).toContain("M\twgqt.toml");
    expect(git(repo, "status", "--porcelain").trim()).toBe("");
    expect(leftovers(repo)).toEqual([]);
    // The contents went in as one pack, not as a loose object per file, and
    // the repository is sound.
    const objects = countObjects(repo);
    expect(objects["in-pack"]).toBeGreaterThanOrEqual(6001);
    expect(objects.count).toBeLessThan(10);
    git(repo, "fsck", "--strict", "--no-progress");
  });

  it("still lets git decide a large commit's contents and modes", async () => {
    const repo = repoWith({ "wgqt.toml": "v1\n", ".gitattributes": "*.txt filter=upper\n" });
    git(repo, "config", "filter.upper.clean", "tr a-z A-Z");
    const contents: Record<string, string> = {};
    for (let i = 0; i < 300; i++) contents[`out/f${i}.txt`] = `file ${i}\n`;
    const files = write(repo, contents);
    chmodSync(files[0] as string, 0o755);
    const gone = write(repo, { "old.txt": "x" });
    git(repo, "add", "old.txt");
    git(repo, "commit", "-q", "-m", "old");
    rmSync(gone[0] as string);

    expect((await commitFiles(repo, [...files, ...gone], "wgqt: render")).committed).toBe(true);

    expect(git(repo, "show", "HEAD:out/f7.txt")).toBe("FILE 7\n");
    expect(git(repo, "ls-tree", "HEAD", "out/f0.txt", "out/f1.txt")).toMatch(
      /^100755 blob \S+\tout\/f0.txt\n100644 blob \S+\tout\/f1.txt\n$/,
    );
    expect(headFiles(repo)).toContain("D\told.txt");
    expect(git(repo, "status", "--porcelain").trim()).toBe("");
  });

  it("fails with StoreError when a hook rejects the commit, leaving the user's index alone", async () => {
    const repo = repoWith({ "wgqt.toml": "v1\n" });
    write(repo, { "mine.txt": "staged\n" });
    git(repo, "add", "mine.txt");
    const hook = join(repo, ".git/hooks/pre-commit");
    const script = "#!/bin/sh\necho 'no commits today' >&2\necho 'second line' >&2\nexit 1\n";
    writeFileSync(hook, script, { mode: 0o755 });
    const files = write(repo, { "wgqt.toml": "v2\n", "wireguard_keys/a.age": "a" });
    const before = { head: head(repo), index: readFileSync(join(repo, ".git/index")) };

    const failure = await commitFiles(repo, files, "wgqt: keygen").catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(StoreError);
    expect((failure as Error).message).toBe("git commit failed: no commits today");
    expect(head(repo)).toBe(before.head);
    expect(readFileSync(join(repo, ".git/index")).equals(before.index)).toBe(true);
    expect(staged(repo)).toBe("A\tmine.txt");
    expect(leftovers(repo)).toEqual([]);
  });

  it("fails with StoreError when a hook refuses the commit silently", async () => {
    const repo = repoWith({ "wgqt.toml": "v1\n" });
    writeFileSync(join(repo, ".git/hooks/pre-commit"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
    const files = write(repo, { "wgqt.toml": "v2\n" });
    const before = head(repo);

    await expect(commitFiles(repo, files, "wgqt: keygen")).rejects.toThrow(
      /^git commit failed: git commit exited with 1$/,
    );
    expect(head(repo)).toBe(before);
    expect(leftovers(repo)).toEqual([]);
  });

  it("brings the user's index in line when a second run finds the commit already made", async () => {
    // A run killed after its commit, before it updated the user's index.
    const repo = repoWith({ "wgqt.toml": "v1\n", "wireguard_keys/a.age": "a1" });
    const files = write(repo, { "wgqt.toml": "v2\n", "wireguard_keys/a.age": "a2" });
    expect((await commitFiles(repo, files, "wgqt: rotate")).committed).toBe(true);
    git(repo, "reset", "-q", "HEAD~1", "--", "wgqt.toml", "wireguard_keys/a.age");
    expect(git(repo, "status", "--porcelain").trim()).not.toBe("");

    expect(await commitFiles(repo, files, "wgqt: rotate")).toEqual({
      committed: false,
      reason: "nothing changed",
    });
    expect(git(repo, "status", "--porcelain").trim()).toBe("");
    expect(leftovers(repo)).toEqual([]);
  });

  it("commits as wgqt when git has no identity configured", async () => {
    const repo = freshRepo();
    git(repo, "config", "--unset", "user.name");
    git(repo, "config", "--unset", "user.email");
    const files = write(repo, { "wgqt.toml": "v1\n" });

    expect((await commitFiles(repo, files, "wgqt: init", {})).committed).toBe(true);
    expect(git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>").trim()).toBe(
      "wgqt <wgqt@localhost>|wgqt <wgqt@localhost>",
    );
  });
});
