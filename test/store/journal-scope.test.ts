/**
 * What a journal may touch, and that nothing is written or read through a
 * symlink: the pure check (`journalProblem`) as a table, and the transaction
 * and its recovery against real symlinks and FIFOs on disk.
 */
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StoreError } from "../../src/errors.js";
import { readStoreFile, readStoreFileSync } from "../../src/store/files.js";
import { openKeyStore } from "../../src/store/keystore.js";
import { Transaction } from "../../src/store/transaction.js";
import { JOURNAL_FILE, type Journal, journalProblem } from "../../src/store/transaction-journal.js";
import { recoverJournal } from "../../src/store/transaction-recovery.js";

let root: string;
let outside: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "wgqt-scope-"));
  outside = mkdtempSync(join(tmpdir(), "wgqt-outside-"));
  mkdirSync(join(root, "keys", "preshared_keys"), { recursive: true });
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

const scope = () => ({ configFile: join(root, "wgqt.toml"), keysDir: join(root, "keys") });
const writes = (...paths: string[]): Journal => ({
  message: "wgqt: test",
  writes: paths.map((path) => ({ path, mode: 0o644, data: Buffer.from("x") })),
  removes: [],
});
const removes = (...paths: string[]): Journal => ({
  message: "wgqt: test",
  writes: [],
  removes: paths,
});

describe("journalProblem", () => {
  it("accepts exactly the files a wgqt transaction writes", () => {
    for (const path of [
      "wgqt.toml",
      ".gitignore",
      "keys/tavern.pub",
      "keys/tavern.age",
      "keys/preshared_keys/nyaa+tavern.age",
      "keys/vpns/us-west.age",
      "keys/vpns/us-west.psk.age",
      "keys/manifest.json",
      "keys/secrets.nix",
      "keys/machines.nix",
      "keys/plan.json",
    ])
      expect(journalProblem(root, scope(), writes(path)), path).toBeUndefined();
  });

  it.each([
    [".git/hooks/post-commit", /not a file wgqt writes/],
    [".git/config", /not a file wgqt writes/],
    ["keys/.git/hooks/x.age", /not a file wgqt writes/],
    ["../outside/x.age", /outside/],
    ["/etc/passwd", /outside/],
    ["keys/../wgqt.toml", /outside/],
    ["keys//tavern.age", /not a file wgqt writes/],
    ["keys/./tavern.age", /not a file wgqt writes/],
    ["keys/Tavern.age", /not a file wgqt writes/],
    ["keys/tavern.sh", /not a file wgqt writes/],
    ["keys/preshared_keys/tavern+nyaa.age", /not a file wgqt writes/],
    ["keys/preshared_keys/a+a.age", /not a file wgqt writes/],
    ["keys/preshared_keys/sub/a+b.age", /not a file wgqt writes/],
    ["keys/vpns/us west.age", /not a file wgqt writes/],
    ["README.md", /not a file wgqt writes/],
    ["other.toml", /not a file wgqt writes/],
  ])("refuses writing %s", (path, problem) => {
    expect(journalProblem(root, scope(), writes(path))).toMatch(problem);
  });

  it("refuses an executable or special mode, and a message that is not one line", () => {
    const journal = writes("keys/tavern.pub");
    for (const mode of [0o755, 0o744, 0o4644, 0o1644]) {
      journal.writes[0]!.mode = mode;
      expect(journalProblem(root, scope(), journal)).toMatch(/never writes executable/);
    }
    expect(journalProblem(root, scope(), { ...writes("wgqt.toml"), message: "a\nb" })).toMatch(
      /one line/,
    );
  });

  it("lets prune remove orphans and temp files in the store's directories, nothing else", () => {
    for (const path of [
      "keys/gone.age",
      "keys/gone.pub",
      "keys/preshared_keys/weird-name.age",
      "keys/vpns/x.age",
      "keys/.wgqt-tmp-tavern.age.123.abcd",
      "keys/preshared_keys/.wgqt-tmp-a+b.age.1.2",
    ])
      expect(journalProblem(root, scope(), removes(path)), path).toBeUndefined();
    for (const path of ["wgqt.toml", ".gitignore", "keys/notes.txt", "keys/preshared_keys/x.pub"])
      expect(journalProblem(root, scope(), removes(path)), path).toMatch(/not a file wgqt writes/);
  });

  it("without a store (wgqt.toml does not load) allows only wgqt.toml and .gitignore", () => {
    const noStore = { configFile: join(root, "wgqt.toml") };
    expect(journalProblem(root, noStore, writes("wgqt.toml"))).toBeUndefined();
    expect(journalProblem(root, noStore, writes("keys/tavern.age"))).toMatch(
      /wgqt\.toml does not load/,
    );
  });
});

describe("symlinks on the way", () => {
  it("a transaction refuses a path through a symlinked directory before writing anything", async () => {
    rmSync(join(root, "keys", "preshared_keys"), { recursive: true });
    symlinkSync(outside, join(root, "keys", "preshared_keys"));
    const tx = new Transaction(root);
    tx.write(join(root, "keys", "tavern.pub"), "x\n");
    tx.write(join(root, "keys", "preshared_keys", "a+b.age"), "x");
    await expect(tx.commit("wgqt: test")).rejects.toThrow(
      `${join(root, "keys", "preshared_keys")}: is a symlink`,
    );
    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync(join(root, "keys", "tavern.pub"))).toBe(false);
    expect(existsSync(join(root, JOURNAL_FILE))).toBe(false);
  });

  it("a transaction never writes into a .git directory", () => {
    const tx = new Transaction(root);
    expect(() => tx.write(join(root, ".git", "hooks", "post-commit"), "x")).toThrow(
      /inside a \.git directory/,
    );
    expect(() => tx.write(join(root, "keys", ".git", "x.age"), "x")).toThrow(StoreError);
  });

  it("a symlink where a file is replaced is refused, not followed", async () => {
    writeFileSync(join(outside, "target"), "outside\n");
    symlinkSync(join(outside, "target"), join(root, "keys", "secrets.nix"));
    const tx = new Transaction(root);
    tx.write(join(root, "keys", "secrets.nix"), "new\n");
    await expect(tx.commit("wgqt: test")).rejects.toThrow(/secrets\.nix: is a symlink/);
    expect(readFileSync(join(outside, "target"), "utf8")).toBe("outside\n");
  });

  it("recovery refuses a journal whose files lead through a symlink, applying nothing", async () => {
    const tx = new Transaction(root, async () => {
      throw new Error("killed");
    });
    tx.write(join(root, "keys", "tavern.pub"), "x\n");
    tx.write(join(root, "keys", "preshared_keys", "a+b.age"), "x");
    await expect(tx.commit("wgqt: test")).rejects.toThrow("killed");
    // The change was applied; undo it and swap the directory for a link out.
    rmSync(join(root, "keys", "tavern.pub"));
    rmSync(join(root, "keys", "preshared_keys"), { recursive: true });
    symlinkSync(outside, join(root, "keys", "preshared_keys"));
    await expect(recoverJournal(root, scope())).rejects.toThrow(/preshared_keys: is a symlink/);
    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync(join(root, "keys", "tavern.pub"))).toBe(false);
    expect(existsSync(join(root, JOURNAL_FILE))).toBe(true);
  });

  it("reads of store files never follow a symlink, nor block on a FIFO", async () => {
    // A device that never ends: read through the link, it would exhaust memory.
    symlinkSync("/dev/zero", join(root, "keys", "manifest.json"));
    expect(() => readStoreFileSync(join(root, "keys", "manifest.json"))).toThrow(
      /manifest\.json: is a symlink/,
    );
    await expect(openKeyStore(join(root, "keys")).then((store) => store.manifest)).rejects.toThrow(
      /manifest\.json: is a symlink/,
    );
    execFileSync("mkfifo", [join(root, "keys", "fifo.age")]);
    await expect(readStoreFile(join(root, "keys", "fifo.age"))).rejects.toThrow(
      /fifo\.age: is not a regular file/,
    );
    expect(await readStoreFile(join(root, "keys", "missing"))).toBeUndefined();
  });
});
