/**
 * A host key of the right form whose curve point no host could use: reading
 * wgqt.toml leaves the point to the first encryption to the key, so commands
 * that encrypt nothing run, and the first that would encrypt to it refuses,
 * naming the field and the value, before it writes anything.
 */

import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeIdentity, makeRepo, removeDir, type TestIdentity } from "../helpers/fleet.js";
import { cli } from "../helpers/run.js";
import { smallOrderEd25519Key } from "../helpers/ssh-keys.js";

let repo: string;
let admin: TestIdentity;
let bravo: TestIdentity;

const smallOrderKey = () => smallOrderEd25519Key();

beforeAll(() => {
  repo = makeRepo();
  const idDir = join(repo, "ids");
  mkdirSync(idDir);
  admin = makeIdentity(idDir, "admin", "x25519");
  bravo = makeIdentity(idDir, "bravo", "ssh-ed25519");
  writeFileSync(
    join(repo, "wgqt.toml"),
    [
      `admins = ["${admin.recipient}"]`,
      "",
      "[machines.alpha]",
      `recipients = ["${smallOrderKey()}"]`,
      'endpoint = "alpha.example.org"',
      "",
      "[machines.bravo]",
      `recipients = ["${bravo.recipient}"]`,
      "",
      "[proxies.hub]",
      'gateway = "alpha"',
      'clients = ["bravo"]',
      "",
    ].join("\n"),
  );
  mkdirSync(join(repo, "wireguard_keys"));
});

afterAll(() => removeDir(repo));

describe("an ssh-ed25519 recipient whose point is unusable", () => {
  it("does not stop commands that encrypt nothing", async () => {
    for (const args of [["plan"], ["machine", "list"]]) {
      const result = await cli(repo, ...args);
      expect(result.status, result.stderr).toBe(0);
    }
  });

  it("stops keygen before anything is written, naming the field and the value", async () => {
    const result = await cli(repo, "keygen", "--no-commit", "--yes");
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /wgqt\.toml: machines\.alpha\.recipients\[0\]: ssh public key "ssh-ed25519 AAAA\S*: ed25519 key is not a usable curve point\n$/,
    );
    expect(
      result.stderr
        .trim()
        .split("\n")
        .filter((line) => line.startsWith("wgqt:")),
    ).toHaveLength(1);
    const keys = join(repo, "wireguard_keys");
    expect(existsSync(keys) ? readdirSync(keys) : []).toEqual([]);
  });
});
