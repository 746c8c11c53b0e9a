/**
 * `wgqt rotate`, proven by the reference tools: new keys where asked and
 * nowhere else (byte compare), readable by `age` with the hosts' identities,
 * a matching `wg pubkey`, one commit; nothing at all without a yes.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitLog, lastCommitFiles } from "../helpers/fleet.js";
import { changedFiles, Fleet, snapshot } from "../helpers/lifecycle.js";
import { ok } from "../helpers/run.js";

let fleet: Fleet;

beforeAll(async () => {
  fleet = await Fleet.create();
});

afterAll(() => fleet.cleanup());

const TAVERN_FILES = [
  "preshared_keys/archive+tavern.age",
  "preshared_keys/nyaa+tavern.age",
  "preshared_keys/spark+tavern.age",
  "tavern.age",
  "tavern.pub",
];

const wgPubkey = (privateKey: Buffer) => ok("wg", ["pubkey"], { input: privateKey });

describe("wgqt rotate --machine tavern", () => {
  let before: Record<string, Buffer>;
  let oldPlaintexts: Record<string, Buffer>;
  let headBefore: string;
  let result: Awaited<ReturnType<Fleet["wgqt"]>>;
  let started: string;

  beforeAll(async () => {
    before = snapshot(fleet.keys);
    headBefore = fleet.head();
    // The secrets as they were, read with tavern's own identity before rotating.
    oldPlaintexts = Object.fromEntries(
      TAVERN_FILES.filter((file) => file.endsWith(".age")).map((file) => [
        file,
        fleet.decrypt("tavern", file)!,
      ]),
    );
    started = new Date(Date.now() - 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
    result = await fleet.wgqt("rotate", "--machine", "tavern", "--yes");
  });

  it("renews tavern's keypair and its three PSKs and no other file (byte compare)", () => {
    expect(result.status, result.stderr).toBe(0);
    const after = snapshot(fleet.keys);
    // machines.nix carries tavern's public key; the manifest its new entries.
    expect(changedFiles(before, after)).toEqual(
      ["machines.nix", "manifest.json", ...TAVERN_FILES].sort(),
    );
    for (const file of Object.keys(before)) {
      if (!changedFiles(before, after).includes(file))
        expect(after[file]!.equals(before[file]!), file).toBe(true);
    }
  });

  it("age decrypts the new files with tavern's identity, and they hold new keys", () => {
    for (const [file, old] of Object.entries(oldPlaintexts)) {
      const plaintext = fleet.decrypt("tavern", file);
      expect(plaintext, `${file} × tavern`).toBeDefined();
      expect(plaintext!.toString()).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
      expect(plaintext!.equals(old), `${file} still holds the old key`).toBe(false);
    }
    // Each PSK is still readable by the other end of its pair and the admins, and nobody else.
    for (const [file, readers] of Object.entries({
      "preshared_keys/archive+tavern.age": ["tavern", "archive", "admin", "ops"],
      "preshared_keys/nyaa+tavern.age": ["tavern", "nyaa", "admin", "ops"],
      "preshared_keys/spark+tavern.age": ["tavern", "spark", "admin", "ops"],
      "tavern.age": ["tavern", "admin", "ops"],
    })) {
      for (const identity of Object.keys(fleet.ids)) {
        expect(fleet.decrypt(identity, file) !== undefined, `${file} × ${identity}`).toBe(
          readers.includes(identity),
        );
      }
    }
  });

  it("the new .pub is the new private key's and no longer the old one's", () => {
    const publicKey = readFileSync(join(fleet.keys, "tavern.pub"), "utf8");
    expect(wgPubkey(fleet.decrypt("tavern", "tavern.age")!)).toBe(publicKey);
    expect(wgPubkey(oldPlaintexts["tavern.age"]!)).toBe(before["tavern.pub"]!.toString());
    expect(publicKey).not.toBe(before["tavern.pub"]!.toString());
  });

  it("records the new files in the manifest as created now; other entries are untouched", () => {
    const manifest = fleet.manifest();
    const old = JSON.parse(before["manifest.json"]!.toString());
    for (const file of Object.keys(manifest.files)) {
      if (TAVERN_FILES.includes(file)) {
        expect(manifest.files[file]!.created >= started, file).toBe(true);
        expect(manifest.files[file]!.recipients).toEqual(old.files[file].recipients);
      } else {
        expect(manifest.files[file]).toEqual(old.files[file]);
      }
    }
    expect(manifest.files["tavern.age"]!.public_key).toBe(
      readFileSync(join(fleet.keys, "tavern.pub"), "utf8").trim(),
    );
  });

  it("says which machines must be redeployed: tavern and its peers, not lighthouse", () => {
    expect(result.stderr).toContain("rotated keypair + 3 preshared keys");
    const redeploy = result.stderr.split("redeploy these machines")[1]!;
    const machines = [...redeploy.matchAll(/^ {2}(\S+) /gm)].map((match) => match[1]);
    expect(machines).toEqual(["archive", "nyaa", "spark", "tavern"]);
    expect(redeploy).toMatch(
      /^ {2}nyaa +new public key of tavern, new preshared key nyaa\+tavern$/m,
    );
  });

  it("makes exactly one commit, with the files it changed and the exact message", () => {
    expect(ok("git", ["-C", fleet.repo, "rev-parse", "HEAD~1"]).trim()).toBe(headBefore);
    expect(gitLog(fleet.repo)[0]).toBe("wgqt: rotate tavern (keypair + 3 preshared keys)");
    expect(lastCommitFiles(fleet.repo)).toEqual(
      ["machines.nix", "manifest.json", ...TAVERN_FILES]
        .map((file) => `wireguard_keys/${file}`)
        .sort(),
    );
    expect(ok("git", ["-C", fleet.repo, "status", "--porcelain"])).toBe("");
  });

  it("leaves a store that verifies, with tavern's identity checking its key", async () => {
    const verify = await fleet.wgqt("verify", "--identity", fleet.ids.tavern!.identityFile);
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stderr).toContain("4 decrypted and checked");
  });
});

describe("wgqt rotate --pair", () => {
  it("renews one PSK: only that file and the manifest change, one commit", async () => {
    const before = snapshot(fleet.keys);
    const old = fleet.decrypt("spark", "preshared_keys/spark+tavern.age")!;
    const result = await fleet.wgqt("rotate", "--pair", "tavern", "spark", "--yes");
    expect(result.status, result.stderr).toBe(0);
    expect(changedFiles(before, snapshot(fleet.keys))).toEqual([
      "manifest.json",
      "preshared_keys/spark+tavern.age",
    ]);
    const renewed = fleet.decrypt("spark", "preshared_keys/spark+tavern.age")!;
    expect(fleet.decrypt("tavern", "preshared_keys/spark+tavern.age")!.equals(renewed)).toBe(true);
    expect(renewed.equals(old)).toBe(false);
    expect(gitLog(fleet.repo)[0]).toBe("wgqt: rotate spark+tavern (1 preshared key)");
    expect(result.stderr).toMatch(
      /^ {2}spark +new preshared key spark\+tavern\n {2}tavern +new preshared key spark\+tavern\n/m,
    );
  });

  it("refuses anything but two known machines that are peers, writing nothing", async () => {
    const before = snapshot(fleet.keys);
    const head = fleet.head();
    const cases: [string[], RegExp][] = [
      [["--pair", "tavern"], /^wgqt: --pair: give exactly two machines \(--pair A B\), got 1\n$/],
      [["--pair", "nyaa", "tavern", "spark"], /got 3/],
      [["--pair", "tavern", "ghost"], /^wgqt: --pair: unknown machine "ghost"/],
      [["--pair", "tavern", "tavern"], /two different machines/],
      [["--pair", "nyaa", "spark"], /^wgqt: --pair: nyaa and spark are not peers in any network/],
      [["--machine", "ghost"], /^wgqt: --machine: unknown machine "ghost"/],
      [[], /give --machine NAME, --pair A B or --all/],
      [["--all", "--machine", "tavern"], /--all renews everything/],
    ];
    for (const [args, message] of cases) {
      const result = await fleet.wgqt("rotate", ...args, "--yes");
      expect(result.status, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toMatch(message);
    }
    expect(snapshot(fleet.keys)).toEqual(before);
    expect(fleet.head()).toBe(head);
  });

  it("--keep-psks renews the keypair only", async () => {
    const before = snapshot(fleet.keys);
    const result = await fleet.wgqt("rotate", "--machine", "archive", "--keep-psks", "--yes");
    expect(result.status, result.stderr).toBe(0);
    expect(changedFiles(before, snapshot(fleet.keys))).toEqual([
      "archive.age",
      "archive.pub",
      "machines.nix",
      "manifest.json",
    ]);
    expect(gitLog(fleet.repo)[0]).toBe("wgqt: rotate archive (keypair)");
  });
});

describe("wgqt rotate on a pipe without --yes", () => {
  it("exits 2 asking for --yes and writes nothing", async () => {
    const before = snapshot(fleet.keys);
    const head = fleet.head();
    const result = await fleet.wgqt("rotate", "--machine", "tavern");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^wgqt: .*pass --yes to confirm \(no terminal to ask on\)$/m);
    expect(result.stdout).toBe("");
    // Not a byte changed, no temp file left, nothing committed or staged.
    expect(snapshot(fleet.keys)).toEqual(before);
    expect(fleet.head()).toBe(head);
    expect(ok("git", ["-C", fleet.repo, "status", "--porcelain", "--ignored"])).toBe("");
  });
});
