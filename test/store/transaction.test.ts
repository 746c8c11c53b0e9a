/**
 * The journal behind every write: what a commit leaves when it is cut short
 * is read back byte for byte by the next command (recoverJournal), in the
 * current layout (a JSON line, then the files' bytes) and in the earlier one
 * (one JSON document, contents in base64); anything else is refused and
 * nothing is written.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Transaction } from "../../src/store/transaction.js";
import { JOURNAL_FILE } from "../../src/store/transaction-journal.js";
import { recoverJournal } from "../../src/store/transaction-recovery.js";
import { ok, ROOT } from "../helpers/run.js";

let root: string;
/** The fleet the journals below belong to: wgqt.toml in `root`, the store in `keys/`. */
const scope = () => ({ configFile: join(root, "wgqt.toml"), keysDir: join(root, "keys") });
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "wgqt-tx-"));
  mkdirSync(join(root, "keys"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Bytes a text format could not carry: NUL, newlines, invalid UTF-8. */
const binary = Buffer.from([0x00, 0x0a, 0xff, 0xfe, 0x22, 0x5c, 0x0a, 0x0d, 0x80]);

describe("Transaction", () => {
  it("writes what changed, leaves what already holds its bytes alone, and leaves no journal", async () => {
    writeFileSync(join(root, "keys", "same.pub"), "same\n");
    writeFileSync(join(root, "keys", "old.pub"), "old\n");
    const tx = new Transaction(root);
    tx.write(join(root, "keys", "same.pub"), "same\n");
    tx.write(join(root, "keys", "old.pub"), "new\n");
    tx.write(join(root, "keys", "a.age"), binary);
    const changed = await tx.commit("test");
    expect(changed).toEqual([join(root, "keys", "a.age"), join(root, "keys", "old.pub")]);
    expect(readFileSync(join(root, "keys", "a.age"))).toEqual(binary);
    expect(readFileSync(join(root, "keys", "old.pub"), "utf8")).toBe("new\n");
    expect(existsSync(join(root, JOURNAL_FILE))).toBe(false);
  });

  it("writes a fresh file without comparing it, among many others that are compared", async () => {
    // 100 files in one directory: the commit lists it instead of a stat each.
    const dir = join(root, "keys");
    for (let i = 0; i < 100; i++) writeFileSync(join(dir, `f${i}.age`), `${i}\n`);
    const tx = new Transaction(root);
    for (let i = 0; i < 100; i++) {
      // Even files: same bytes as on disk; odd ones: new bytes. Every 10th is fresh.
      tx.write(join(dir, `f${i}.age`), i % 2 ? `new ${i}\n` : `${i}\n`, 0o644, {
        fresh: i % 10 === 0,
      });
    }
    const changed = await tx.commit("test");
    const expected = Array.from({ length: 100 }, (_, i) => i)
      .filter((i) => i % 2 === 1 || i % 10 === 0)
      .map((i) => join(dir, `f${i}.age`))
      .sort();
    expect(changed).toEqual(expected);
    expect(readFileSync(join(dir, "f10.age"), "utf8")).toBe("10\n");
    expect(readFileSync(join(dir, "f11.age"), "utf8")).toBe("new 11\n");
  });

  it("writes exactly the bytes of a view into a larger buffer, in the journal and in place", async () => {
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9, 9]);
    const view = new Uint8Array(backing.buffer, 2, 3);
    const tx = new Transaction(root, async () => {
      expect(readFileSync(join(root, JOURNAL_FILE)).subarray(-3)).toEqual(Buffer.from([1, 2, 3]));
    });
    tx.write(join(root, "keys", "view.age"), view);
    await tx.commit("test");
    expect(readFileSync(join(root, "keys", "view.age"))).toEqual(Buffer.from([1, 2, 3]));
  });

  it("gives every file the mode asked for, whatever the umask takes off", () => {
    // process.umask cannot be set from a test worker: a child process runs the
    // built transaction under umask 077 and stages 100 files, most of them new.
    writeFileSync(join(root, "keys", "f000.age"), "old");
    const script = `
      import { Transaction } from ${JSON.stringify(join(ROOT, "dist/store/transaction.js"))};
      const tx = new Transaction(process.argv[1]);
      for (let i = 0; i < 100; i++)
        tx.write(process.argv[1] + "/keys/f" + String(i).padStart(3, "0") + ".age", "x" + i, 0o644);
      await tx.commit("modes");`;
    ok("sh", [
      "-c",
      'umask 077 && exec "$0" --input-type=module -e "$1" "$2"',
      process.execPath,
      script,
      root,
    ]);
    const modes = new Set(
      readdirSync(join(root, "keys")).map(
        (name) => statSync(join(root, "keys", name)).mode & 0o7777,
      ),
    );
    expect([...modes].map((mode) => mode.toString(8))).toEqual(["644"]);
    expect(readdirSync(join(root, "keys"))).toHaveLength(100);
  });

  it("leaves a journal the next command finishes byte for byte when it is cut short", async () => {
    writeFileSync(join(root, "keys", "gone.age"), "x");
    const big = Buffer.alloc(3 * 1024 * 1024, 0x41);
    const tx = new Transaction(root, async () => {
      throw new Error("killed");
    });
    tx.write(join(root, "keys", "a.age"), binary);
    tx.write(join(root, "keys", "manifest.json"), big);
    tx.write(join(root, "keys", "empty.pub"), "");
    tx.remove(join(root, "keys", "gone.age"));
    await expect(tx.commit("wgqt: test change")).rejects.toThrow("killed");
    expect(existsSync(join(root, JOURNAL_FILE))).toBe(true);
    // As if the interrupted run had applied nothing.
    for (const name of ["a.age", "manifest.json", "empty.pub"]) rmSync(join(root, "keys", name));
    writeFileSync(join(root, "keys", "gone.age"), "x");

    const recovered = await recoverJournal(root, scope());
    expect(recovered?.message).toBe("wgqt: test change");
    expect(recovered?.files).toEqual(
      ["a.age", "empty.pub", "gone.age", "manifest.json"].map((name) => join(root, "keys", name)),
    );
    expect(readFileSync(join(root, "keys", "a.age"))).toEqual(binary);
    expect(readFileSync(join(root, "keys", "manifest.json"))).toEqual(big);
    expect(readFileSync(join(root, "keys", "empty.pub"))).toHaveLength(0);
    expect(existsSync(join(root, "keys", "gone.age"))).toBe(false);
    expect(existsSync(join(root, JOURNAL_FILE))).toBe(false);
  });

  it("refuses a journal whose bytes are not exactly what its first line announces", async () => {
    const head = (size: number) =>
      `${JSON.stringify({
        version: 2,
        message: "wgqt: m",
        writes: [{ path: "keys/a.age", mode: 0o644, size }],
        removes: [],
      })}\n`;
    for (const bytes of [
      Buffer.concat([Buffer.from(head(10)), binary]), // short: cut off
      Buffer.concat([Buffer.from(head(4)), binary]), // trailing bytes
      Buffer.from(head(0).trimEnd()), // head only, no newline
      Buffer.from("not json\n"),
      // The earlier layout, one JSON document with base64 contents, which wgqt no longer writes.
      Buffer.from(
        `${JSON.stringify({
          version: 1,
          message: "wgqt: m",
          writes: [{ path: "keys/a.age", mode: 0o644, content: binary.toString("base64") }],
          removes: [],
        })}\n`,
      ),
    ]) {
      writeFileSync(join(root, JOURNAL_FILE), bytes);
      await expect(recoverJournal(root, scope())).rejects.toThrow(/not a wgqt journal/);
      expect(existsSync(join(root, "keys", "a.age"))).toBe(false);
    }
    // The same journal, whole, is applied.
    writeFileSync(join(root, JOURNAL_FILE), Buffer.concat([Buffer.from(head(9)), binary]));
    await recoverJournal(root, scope());
    expect(readFileSync(join(root, "keys", "a.age"))).toEqual(binary);
  });
});
