/**
 * What `rekey` trusts: manifest.json says which files are stale, and a file
 * whose entry already lists what wgqt.toml asks is not read. A file changed
 * behind wgqt's back is left alone by a plain rekey, reported by `verify`, and
 * read by `rekey --check-all`, which refuses it (writing nothing) unless
 * `--accept` names it as changed on purpose; then it re-encrypts it when it
 * still decrypts.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changedFiles, Fleet, snapshot } from "../helpers/lifecycle.js";

let fleet: Fleet;
/** archive.age as keygen wrote it, and the key inside. */
let archiveBytes: Buffer;
let archiveKey: Buffer;

/** nyaa's files: its private key and the PSKs of its two pairs. */
const STALE = ["nyaa.age", "preshared_keys/lighthouse+nyaa.age", "preshared_keys/nyaa+tavern.age"];
/** Nothing to do with nyaa: its manifest entry stays current. */
const UNRELATED = "archive.age";

const archivePath = () => join(fleet.keys, UNRELATED);

beforeAll(async () => {
  fleet = await Fleet.create();
  archiveBytes = readFileSync(archivePath());
  archiveKey = fleet.decrypt("admin", UNRELATED)!;
  // Damaged behind wgqt's back: one payload byte flipped (the header still parses).
  const damaged = Buffer.from(archiveBytes);
  damaged[damaged.length - 5] = damaged[damaged.length - 5]! ^ 0xff;
  writeFileSync(archivePath(), damaged);
  // nyaa is reinstalled: a new host key in wgqt.toml.
  fleet.identity("nyaa-new", "ssh-ed25519");
  fleet.hostKeys.nyaa = "nyaa-new";
  fleet.writeConfig("nyaa: new host key");
});

afterAll(() => fleet.cleanup());

describe("rekey decides from manifest.json", () => {
  it("re-encrypts exactly the stale files and leaves the damaged unrelated file unread", async () => {
    const before = snapshot(fleet.keys);
    const result = await fleet.wgqt("rekey", "--identity", fleet.ids.admin!.identityFile, "--yes");
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain("re-encrypted 1 private key + 2 preshared keys");
    expect(result.stderr).not.toContain(UNRELATED);
    expect(changedFiles(before, snapshot(fleet.keys))).toEqual(
      ["manifest.json", ...STALE, "secrets.nix"].sort(),
    );
    // Still the damaged bytes: nobody looked at it.
    expect(readFileSync(archivePath()).equals(before[UNRELATED]!)).toBe(true);
    expect(fleet.decryptable("nyaa-new")).toEqual(STALE);
  });

  it("verify still reads every file and reports the damaged one", async () => {
    const result = await fleet.wgqt("verify");
    expect(result.status).toBe(1);
    expect(result.stdout).toBe(
      `wireguard_keys/${UNRELATED}: changed outside wgqt: sha256 differs from manifest.json (restore it from git; if you changed it on purpose, e.g. with agenix -e: wgqt rekey --accept wireguard_keys/${UNRELATED})\n`,
    );
  });

  it("rekey --check-all reads it, refuses to vouch for it, names it and writes nothing", async () => {
    const before = snapshot(fleet.keys);
    const head = fleet.head();
    const result = await fleet.wgqt(
      "rekey",
      "--check-all",
      "--identity",
      fleet.ids.admin!.identityFile,
      "--yes",
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      `wireguard_keys/${UNRELATED}: changed since wgqt wrote it (sha256 differs from manifest.json)`,
    );
    expect(result.stderr.trimEnd().split("\n").at(-1)).toMatch(
      new RegExp(`^wgqt: wireguard_keys/${UNRELATED.replace(".", "\\.")}: `),
    );
    expect(snapshot(fleet.keys)).toEqual(before);
    expect(fleet.head()).toBe(head);
  });

  it("accepted with --accept, it is read, cannot be decrypted, and nothing is written", async () => {
    const before = snapshot(fleet.keys);
    const head = fleet.head();
    const result = await fleet.wgqt(
      "rekey",
      "--accept",
      `wireguard_keys/${UNRELATED}`,
      "--identity",
      fleet.ids.admin!.identityFile,
      "--yes",
    );
    expect(result.status).toBe(1);
    expect(result.stderr.trimEnd().split("\n").at(-1)).toMatch(
      new RegExp(`^wgqt: wireguard_keys/${UNRELATED.replace(".", "\\.")}: `),
    );
    expect(snapshot(fleet.keys)).toEqual(before);
    expect(fleet.head()).toBe(head);
  });
});

describe("a file re-encrypted outside wgqt, to the same recipients", () => {
  beforeAll(() => {
    // As `agenix -e` would: same recipients, new bytes.
    execFileSync(
      "age",
      [
        "-e",
        "-R",
        fleet.ids.archive!.recipientFile,
        "-r",
        fleet.recipient("admin"),
        "-R",
        fleet.ids.ops!.recipientFile,
        "-o",
        archivePath(),
      ],
      { input: archiveKey },
    );
    expect(readFileSync(archivePath()).equals(archiveBytes)).toBe(false);
  });

  it("is left as it is by a plain rekey, which has nothing to do", async () => {
    const before = snapshot(fleet.keys);
    const result = await fleet.wgqt("rekey");
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^nothing to re-encrypt/);
    expect(snapshot(fleet.keys)).toEqual(before);
  });

  it("is refused by rekey --check-all, which names it and says how to accept it", async () => {
    const before = snapshot(fleet.keys);
    const result = await fleet.wgqt(
      "rekey",
      "--check-all",
      "--identity",
      fleet.ids.admin!.identityFile,
      "--yes",
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      `wgqt: wireguard_keys/${UNRELATED}: changed since wgqt wrote it (sha256 differs from manifest.json); wgqt does not re-encrypt a file it cannot vouch for (restore it from git; if you changed it on purpose, e.g. with agenix -e: wgqt rekey --accept wireguard_keys/${UNRELATED})\n`,
    );
    expect(snapshot(fleet.keys)).toEqual(before);
  });

  it("is re-encrypted and recorded by rekey --accept; then verify passes", async () => {
    const before = snapshot(fleet.keys);
    const manifestBefore = fleet.manifest();
    const result = await fleet.wgqt(
      "rekey",
      "--accept",
      `wireguard_keys/${UNRELATED}`,
      "--identity",
      fleet.ids.admin!.identityFile,
      "--yes",
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain(
      `wireguard_keys/${UNRELATED}: changed since wgqt wrote it (sha256 differs from manifest.json)`,
    );
    expect(result.stderr).toContain("re-encrypted 1 private key");
    expect(changedFiles(before, snapshot(fleet.keys))).toEqual([UNRELATED, "manifest.json"]);
    const entry = fleet.manifest().files[UNRELATED]!;
    expect(entry.created).toBe(manifestBefore.files[UNRELATED]!.created);
    expect(entry.sha256).not.toBe(manifestBefore.files[UNRELATED]!.sha256);
    expect(fleet.decrypt("admin", UNRELATED)!.equals(archiveKey)).toBe(true);
    const verify = await fleet.wgqt("verify");
    expect(verify.status, verify.stdout).toBe(0);
  });
});
