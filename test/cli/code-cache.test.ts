/**
 * V8's code cache for the command's bundle (src/cli/code-cache.ts): a second
 * run takes its compiled code from the cache, a cache V8 refuses is made
 * again, and a cache directory someone else could write to is never used.
 * The bin/wgqt tests run the real bundle in real processes; V8 decides
 * whether it takes a cache, and a cache it takes is never written again.
 */
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleLoader, codeCacheDir } from "../../src/cli/code-cache.js";
import { makeRepo, makeTempDir, removeDir, writeGatewayAndClient } from "../helpers/fleet.js";
import { run, TEST_ENV, WGQT } from "../helpers/run.js";

let repo: string;
let idDir: string;
const temporary: string[] = [];

function tempDir(prefix: string): string {
  const dir = makeTempDir(prefix);
  temporary.push(dir);
  return dir;
}

beforeAll(() => {
  repo = makeRepo();
  idDir = tempDir("wgqt-ids-");
  writeGatewayAndClient(repo, idDir);
  const made = run(process.execPath, [WGQT, "keygen", "--no-commit", "--yes"], { cwd: repo });
  expect(made.status, made.stderr).toBe(0);
});

afterAll(() => {
  removeDir(repo);
  for (const dir of temporary) removeDir(dir);
});

/** `wgqt ARGS` in the test fleet, with XDG_CACHE_HOME `cache`. */
function wgqtWith(cache: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  return run(process.execPath, [WGQT, ...args], {
    cwd: repo,
    env: { ...TEST_ENV, XDG_CACHE_HOME: cache, ...env },
  });
}

/** The build's cache directory under `cache`, and its files by name with their inode numbers. */
function cacheFiles(cache: string): { dir: string; files: Map<string, number> } {
  const builds = readdirSync(join(cache, "wgqt"));
  expect(builds).toHaveLength(1);
  const dir = join(cache, "wgqt", builds[0]!);
  const files = new Map<string, number>();
  for (const name of readdirSync(dir).sort()) files.set(name, statSync(join(dir, name)).ino);
  return { dir, files };
}

describe("bin/wgqt with the code cache", () => {
  it("a second run takes every file's code from the cache and prints the same", () => {
    const cache = tempDir("wgqt-cache-");
    const uncached = wgqtWith(cache, ["plan"], { WGQT_NO_CODE_CACHE: "1" });
    expect(uncached.status, uncached.stderr).toBe(0);
    expect(existsSync(join(cache, "wgqt"))).toBe(false);

    const first = wgqtWith(cache, ["plan"]);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toBe(uncached.stdout);
    const made = cacheFiles(cache);
    expect(made.dir).toMatch(
      new RegExp(`/code-[0-9a-f]{16}-${process.version.replace(/\./g, "\\.")}-${process.arch}$`),
    );
    expect([...made.files.keys()]).toContain("main.js.cache");
    expect(statSync(made.dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(made.dir, "main.js.cache")).mode & 0o777).toBe(0o600);

    // A cache V8 refused would be written again: a new file, a new inode.
    const second = wgqtWith(cache, ["plan"]);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toBe(uncached.stdout);
    expect(cacheFiles(cache).files).toEqual(made.files);
  });

  it("a cache V8 refuses is compiled from source and made again", () => {
    const cache = tempDir("wgqt-cache-");
    const first = wgqtWith(cache, ["machine", "list"]);
    expect(first.status, first.stderr).toBe(0);
    const { dir } = cacheFiles(cache);
    const garbage = Buffer.alloc(4096, 0x5a);
    writeFileSync(join(dir, "main.js.cache"), garbage);

    const second = wgqtWith(cache, ["machine", "list"]);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect(readFileSync(join(dir, "main.js.cache")).equals(garbage)).toBe(false);
    const remade = cacheFiles(cache).files;
    const third = wgqtWith(cache, ["machine", "list"]);
    expect(third.stdout).toBe(first.stdout);
    expect(cacheFiles(cache).files).toEqual(remade);
  });

  it("a cache directory others can write to is neither read nor written", () => {
    const cache = tempDir("wgqt-cache-");
    mkdirSync(join(cache, "wgqt"));
    chmodSync(join(cache, "wgqt"), 0o777);
    const result = wgqtWith(cache, ["plan"]);
    expect(result.status, result.stderr).toBe(0);
    expect(readdirSync(join(cache, "wgqt"))).toEqual([]);
  });

  it.skipIf(process.getuid?.() !== 0)(
    "a cache directory of another user is neither read nor written",
    () => {
      const cache = tempDir("wgqt-cache-");
      mkdirSync(join(cache, "wgqt"), { mode: 0o700 });
      chownSync(join(cache, "wgqt"), 65534, 65534);
      const result = wgqtWith(cache, ["plan"]);
      expect(result.status, result.stderr).toBe(0);
      expect(readdirSync(join(cache, "wgqt"))).toEqual([]);
    },
  );

  it.skipIf(process.getuid?.() !== 0)(
    "nothing is made in another user's home or cache directory",
    () => {
      // As under `sudo -E`: HOME is the user's, the process root's.
      const home = tempDir("wgqt-home-");
      chownSync(home, 65534, 65534);
      const result = run(process.execPath, [WGQT, "plan"], {
        cwd: repo,
        env: { ...TEST_ENV, HOME: home, XDG_CACHE_HOME: "" },
      });
      expect(result.status, result.stderr).toBe(0);
      expect(readdirSync(home)).toEqual([]);
      mkdirSync(join(home, ".cache"));
      chownSync(join(home, ".cache"), 65534, 65534);
      expect(wgqtWith(join(home, ".cache"), ["plan"]).status).toBe(0);
      expect(readdirSync(join(home, ".cache"))).toEqual([]);
    },
  );

  it("making this build's cache keeps the three other builds written last", () => {
    const cache = tempDir("wgqt-cache-");
    const others = [1, 2, 3, 4].map((age) => {
      const dir = join(cache, "wgqt", `code-000000000000000${age}-v20.0.0-x64`);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileSync(join(dir, "main.js.cache"), "old");
      const written = new Date(Date.now() - age * 86_400_000);
      utimesSync(dir, written, written);
      return dir;
    });
    const result = wgqtWith(cache, ["--version"]);
    expect(result.status, result.stderr).toBe(0);
    expect(others.map((dir) => existsSync(dir))).toEqual([true, true, true, false]);
    const builds = readdirSync(join(cache, "wgqt"));
    expect(builds).toHaveLength(4);
    const ours = builds.find((name) => !others.includes(join(cache, "wgqt", name)))!;
    expect(readdirSync(join(cache, "wgqt", ours))).toContain("main.js.cache");
  });
});

describe("bundleLoader", () => {
  /** A bundle of two CommonJS files: a.js requires b.js twice and a built-in. */
  function tinyBundle(): string {
    const dir = tempDir("wgqt-bundle-");
    writeFileSync(
      join(dir, "a.js"),
      `"use strict";
const b = require("./b.js");
const again = require("./b.js");
const { basename } = require("node:path");
module.exports = { sum: b.add(2, 3), once: b === again, file: basename(__filename) };
`,
    );
    writeFileSync(join(dir, "b.js"), `"use strict";\nexports.add = (x, y) => x + y;\n`);
    return dir;
  }

  it("loads each file once, and a second loader takes both from the cache", () => {
    const bundle = tinyBundle();
    const cache = tempDir("wgqt-cache-");
    const first = bundleLoader(bundle, cache);
    expect(first.load("a.js")).toEqual({ sum: 5, once: true, file: "a.js" });
    expect(first.counts).toEqual({ fromCache: [], compiled: ["a.js", "b.js"] });
    first.save();
    expect(readdirSync(cache).sort()).toEqual(["a.js.cache", "b.js.cache"]);

    const second = bundleLoader(bundle, cache);
    expect(second.load("a.js")).toEqual({ sum: 5, once: true, file: "a.js" });
    expect(second.counts).toEqual({ fromCache: ["a.js", "b.js"], compiled: [] });
  });

  it("without a cache directory compiles and writes nothing", () => {
    const bundle = tinyBundle();
    const loader = bundleLoader(bundle, undefined);
    expect(loader.load("a.js")).toEqual({ sum: 5, once: true, file: "a.js" });
    loader.save();
    expect(readdirSync(bundle).sort()).toEqual(["a.js", "b.js"]);
    expect(loader.counts.compiled).toEqual(["a.js", "b.js"]);
  });
});

describe("codeCacheDir", () => {
  it("is under XDG_CACHE_HOME, else ~/.cache; a relative XDG_CACHE_HOME is ignored", () => {
    const home = tempDir("wgqt-home-");
    const xdg = tempDir("wgqt-xdg-");
    const key = `code-b1-${process.version}-${process.arch}`;
    expect(codeCacheDir({ HOME: home, XDG_CACHE_HOME: xdg }, "b1")).toBe(join(xdg, "wgqt", key));
    expect(codeCacheDir({ HOME: home, XDG_CACHE_HOME: "relative" }, "b1")).toBe(
      join(home, ".cache", "wgqt", key),
    );
    expect(codeCacheDir({ HOME: home, WGQT_NO_CODE_CACHE: "1" }, "b1")).toBeUndefined();
  });
});
