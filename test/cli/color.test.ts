/**
 * Colour: chalk styles what a command prints when colour is allowed (stderr
 * a terminal, NO_COLOR unset: io.color), and nothing is styled otherwise.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeIdentity, makeRepo, makeTempDir, removeDir } from "../helpers/fleet.js";
import { runInProcess } from "../helpers/run.js";

const ESCAPE = "\u001b[";
let repo: string;
let idDir: string;

beforeAll(() => {
  repo = makeRepo();
  idDir = makeTempDir("wgqt-ids-");
  const tavern = makeIdentity(idDir, "tavern", "x25519");
  writeFileSync(
    join(repo, "wgqt.toml"),
    `[machines.tavern]\nrecipients = ["${tavern.recipient}"]\nendpoint = "tavern.example.org"\n`,
  );
  mkdirSync(join(repo, "wireguard_keys"));
});

afterAll(() => {
  removeDir(repo);
  removeDir(idDir);
});

describe("colour", () => {
  it("is chalk's when allowed: a bold table header, a dim note", async () => {
    const made = await runInProcess(["keygen", "--no-commit", "--yes"], { cwd: repo, color: true });
    expect(made.status, made.stderr).toBe(0);
    expect(made.stderr).toContain(`${ESCAPE}2mnot committed (--no-commit)${ESCAPE}22m`);
    const list = await runInProcess(["machine", "list"], { cwd: repo, color: true });
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout.startsWith(`${ESCAPE}1mMACHINE `)).toBe(true);
  });

  it("is absent otherwise: the same text, unstyled", async () => {
    const list = await runInProcess(["machine", "list"], { cwd: repo, color: false });
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^MACHINE +PUBLIC KEY/);
    expect(list.stdout).not.toContain(ESCAPE);
    const styled = await runInProcess(["machine", "list"], { cwd: repo, color: true });
    expect(styled.stdout).not.toBe(list.stdout);
    expect(stripVTControlCharacters(styled.stdout)).toBe(list.stdout);
  });
});
