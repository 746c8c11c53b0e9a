/**
 * A host key replaced in wgqt.toml: `verify` names exactly the stale files,
 * `rekey` re-encrypts exactly those (secrets unchanged, by `age -d` before and
 * after), `verify` passes, and the commit holds only those files.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitLog } from "../helpers/fleet.js";
import { changedFiles, Fleet, lastCommitDiffStat, snapshot } from "../helpers/lifecycle.js";

let fleet: Fleet;
/** Every secret, read by the admin's identity with `age` before anything changed. */
let secretsBefore: Record<string, Buffer>;

/** nyaa's files: its private key and the PSKs of its two pairs. */
const STALE = ["nyaa.age", "preshared_keys/lighthouse+nyaa.age", "preshared_keys/nyaa+tavern.age"];

beforeAll(async () => {
  fleet = await Fleet.create();
  secretsBefore = Object.fromEntries(
    fleet.encryptedFiles().map((file) => [file, fleet.decrypt("admin", file)!]),
  );
  // nyaa is reinstalled: a new ssh-ed25519 host key replaces its ssh-rsa one.
  fleet.identity("nyaa-new", "ssh-ed25519");
  fleet.hostKeys.nyaa = "nyaa-new";
  fleet.writeConfig("nyaa: new host key");
});

afterAll(() => fleet.cleanup());

describe("after a host key change", () => {
  it("verify fails naming exactly the stale files, each on its own line", async () => {
    const result = await fleet.wgqt("verify");
    expect(result.status).toBe(1);
    const lines = result.stdout.trimEnd().split("\n");
    const stale = lines.filter((line) => line.includes("recipients differ from wgqt.toml"));
    expect(stale.map((line) => line.split(": ")[0])).toEqual(
      STALE.map((file) => `wireguard_keys/${file}`),
    );
    for (const line of stale) {
      expect(line).toContain(`${fleet.recipient("nyaa").split(" ")[0]} …`);
      expect(line).toMatch(
        /\(no longer in wgqt\.toml\) removed but can still decrypt; nyaa's ssh-ed25519 …\S+ added but cannot decrypt yet/,
      );
    }
    // The only other problem: agenix's rules no longer match wgqt.toml.
    expect(lines.filter((line) => !stale.includes(line))).toEqual([
      "wireguard_keys/secrets.nix: out of date with wgqt.toml and the key store (run wgqt rekey, or wgqt keygen)",
    ]);
    expect(result.stderr).toMatch(
      /^verify failed: 4 problems \(3 stale-recipients, 1 generated-outdated\) in wireguard_keys\n$/,
    );

    const json = JSON.parse((await fleet.wgqt("verify", "--json")).stdout);
    expect(json.ok).toBe(false);
    const staleJson = json.problems.filter(
      (problem: { kind: string }) => problem.kind === "stale-recipients",
    );
    expect(staleJson.map((problem: { file: string }) => problem.file)).toEqual(STALE);
    for (const problem of staleJson) {
      expect(problem.added).toEqual([fleet.recipient("nyaa-new")]);
      expect(problem.removed).toEqual([fleet.recipient("nyaa")]);
    }
  });

  it("rekey with an identity that opens nothing names the file and the identity tried, and writes nothing", async () => {
    const before = snapshot(fleet.keys);
    const head = fleet.head();
    const result = await fleet.wgqt("rekey", "--identity", fleet.ids.stranger!.identityFile);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /^wgqt: wireguard_keys\/nyaa\.age: no identity matches .*tried ssh-ed25519 \S+\); identities from .*stranger\.key /m,
    );
    expect(snapshot(fleet.keys)).toEqual(before);
    expect(fleet.head()).toBe(head);
  });

  it("rekey with the admin's identity re-encrypts exactly the stale files", async () => {
    const before = snapshot(fleet.keys);
    const manifestBefore = fleet.manifest();
    const result = await fleet.wgqt("rekey", "--identity", fleet.ids.admin!.identityFile);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain("re-encrypted 1 private key + 2 preshared keys");
    // Every other file keeps its bytes; secrets.nix gets nyaa's new key.
    expect(changedFiles(before, snapshot(fleet.keys))).toEqual(
      ["manifest.json", ...STALE, "secrets.nix"].sort(),
    );
    const manifest = fleet.manifest();
    for (const file of STALE) {
      expect(manifest.files[file]!.created).toBe(manifestBefore.files[file]!.created);
      expect(manifest.files[file]!.recipients).toContain(fleet.recipient("nyaa-new"));
      expect(manifest.files[file]!.recipients).not.toContain(fleet.recipient("nyaa"));
    }
  });

  it("the secrets inside are unchanged, and only nyaa's new key (not its old one) opens its files", () => {
    for (const file of fleet.encryptedFiles()) {
      expect(fleet.decrypt("admin", file)!.equals(secretsBefore[file]!), file).toBe(true);
    }
    expect(fleet.decryptable("nyaa-new")).toEqual(STALE);
    expect(fleet.decryptable("nyaa")).toEqual([]);
  });

  it("verify passes with a one-line summary", async () => {
    const result = await fleet.wgqt("verify");
    expect(result.status, result.stdout).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(
      /^verify ok: 9 encrypted files in wireguard_keys, each to exactly the recipients wgqt\.toml asks; [^\n]*\n$/,
    );
  });

  it("git diff --stat of the one rekey commit shows only those files", () => {
    expect(gitLog(fleet.repo).slice(0, 2)).toEqual([
      "wgqt: rekey (1 private key + 2 preshared keys)",
      "nyaa: new host key",
    ]);
    expect(lastCommitDiffStat(fleet.repo)).toEqual(
      ["manifest.json", ...STALE, "secrets.nix"].map((file) => `wireguard_keys/${file}`).sort(),
    );
  });

  it("a second rekey has nothing to do and needs no identity", async () => {
    const head = fleet.head();
    const result = await fleet.wgqt("rekey");
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^nothing to re-encrypt/);
    expect(fleet.head()).toBe(head);
  });

  it("but an identity named with --identity must load, even with nothing to do", async () => {
    const head = fleet.head();
    const missing = join(fleet.idDir, "does-not-exist");
    const result = await fleet.wgqt("rekey", "--identity", missing);
    expect(result.status, result.stderr).toBe(2);
    expect(result.stderr).toBe(`wgqt: --identity: cannot read ${missing} (ENOENT)\n`);
    expect(fleet.head()).toBe(head);
  });

  it("warns when the identity file is readable by others", async () => {
    const copy = join(fleet.idDir, "loose-admin.key");
    writeFileSync(copy, snapshot(fleet.idDir)["admin.key"]!, { mode: 0o644 });
    const result = await fleet.wgqt("verify", "--identity", copy);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(
      `warning: ${copy} is readable by everyone (mode 644); it can decrypt the key store: chmod 600 it`,
    );
  });
});
