/**
 * Secrets never touch the disk in plaintext, nor any output: after keygen,
 * rotate and rekey on a fleet, every private key and PSK (decrypted by the
 * test) is searched for in every file under the work directory, every file
 * under the temp directory, every git object, and everything wgqt printed.
 * Then the access matrix: every .age file against every identity of the
 * fleet (hosts, two admins, a stranger) with the age CLI.
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  type Dirent,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  makeIdentity,
  makeRepo,
  makeTempDir,
  removeDir,
  type TestIdentity,
} from "../helpers/fleet.js";
import { ageDecrypt, type Result, wgqt } from "../helpers/run.js";

let repo: string;
let idDir: string;
const ids: Record<string, TestIdentity> = {};
const outputs: string[] = [];
/** Every secret the fleet has held, as base64 text. */
const secrets = new Set<string>();
/** When the fleet's first secret was made: a file older than this cannot hold one. */
let started = 0;

function run(...args: string[]): Result {
  const result = wgqt(repo, ...args);
  outputs.push(result.stdout, result.stderr);
  expect(result.status, `wgqt ${args.join(" ")}: ${result.stderr}`).toBe(0);
  return result;
}

function encryptedFiles(): string[] {
  const keys = join(repo, "wireguard_keys");
  return [
    ...readdirSync(keys).filter((f) => f.endsWith(".age")),
    ...readdirSync(join(keys, "preshared_keys")).map((f) => `preshared_keys/${f}`),
  ].sort();
}

/** Decrypt every file with the admin (the test's own view) and remember each secret. */
function collectSecrets(): void {
  for (const file of encryptedFiles()) {
    const plaintext = ageDecrypt(ids.admin!.identityFile, join(repo, "wireguard_keys", file));
    expect(plaintext, file).toBeDefined();
    secrets.add(plaintext!.toString("utf8").trim());
  }
}

function config(): string {
  const machine = (name: string, extra = "") =>
    `[machines.${name}]\nrecipients = [${JSON.stringify(ids[name]!.recipient)}]\n${extra}\n`;
  return [
    `admins = [${JSON.stringify(ids.admin!.recipient)}, ${JSON.stringify(ids.admin2!.recipient)}]\n`,
    machine("tavern", 'endpoint = "tavern.example.org"'),
    machine("nyaa"),
    machine("spark"),
    machine("archive", 'endpoint = "archive.example.org"'),
    '[proxies.germany]\ngateway = "tavern"\nclients = ["nyaa", "spark", "archive"]\n',
    '[proxies.backup]\ngateway = "archive"\nclients = ["nyaa"]\n',
  ].join("\n");
}

beforeAll(() => {
  // A second earlier, for file systems whose timestamps are coarse.
  started = Date.now() - 1000;
  repo = makeRepo();
  idDir = makeTempDir("wgqt-ids-");
  ids.tavern = makeIdentity(idDir, "tavern", "ssh-ed25519");
  ids.nyaa = makeIdentity(idDir, "nyaa", "x25519");
  ids.spark = makeIdentity(idDir, "spark", "ssh-rsa");
  ids.archive = makeIdentity(idDir, "archive", "ssh-ed25519");
  ids.admin = makeIdentity(idDir, "admin", "x25519");
  ids.admin2 = makeIdentity(idDir, "admin2", "ssh-ed25519");
  ids.stranger = makeIdentity(idDir, "stranger", "ssh-ed25519");
  writeFileSync(join(repo, "wgqt.toml"), config());
  // An empty keys_dir is a new store (what `wgqt init` starts); keygen fills it.
  mkdirSync(join(repo, "wireguard_keys"));

  run("keygen");
  collectSecrets();
  run("rotate", "--machine", "nyaa", "--yes");
  collectSecrets();
  run("rotate", "--pair", "tavern", "spark", "--yes");
  collectSecrets();
  // spark's host key is replaced; rekey re-encrypts its files.
  ids.spark = makeIdentity(idDir, "spark-new", "ssh-ed25519");
  writeFileSync(join(repo, "wgqt.toml"), config());
  run("rekey", "--identity", ids.admin!.identityFile, "--yes");
  collectSecrets();
  run("render", "--format", "wg-quick", "--out", join(repo, "out"));
  run("render", "--format", "nixos", "--out", join(repo, "nixos"));
  run("verify", "--identity", ids.admin!.identityFile);
  run("status", "--json");
}, 120_000);

afterAll(() => {
  removeDir(repo);
  removeDir(idDir);
});

/**
 * Every regular file below `dir` (skipping what cannot be read), at most
 * 16 MiB each, and with `since`, only those changed since then.
 */
function filesBelow(dir: string, since?: number): string[] {
  const out: string[] = [];
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { recursive: true, withFileTypes: true });
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    try {
      const stats = statSync(path);
      if (stats.size <= 16 * 1024 * 1024 && (since === undefined || stats.mtimeMs >= since))
        out.push(path);
    } catch {
      // vanished meanwhile (another test's temp file)
    }
  }
  return out;
}

/** The secret in the forms it could leak in: base64 text and its raw 32 bytes. */
function needles(secret: string): Buffer[] {
  return [Buffer.from(secret, "utf8"), Buffer.from(secret, "base64")];
}

describe("secrets", () => {
  it("were collected from every step (keygen, rotate, rekey)", () => {
    // 4 keypairs + 4 PSKs at first; rotating nyaa renews its key and 2 PSKs; --pair one more.
    expect(secrets.size).toBe(4 + 4 + 3 + 1);
  });

  it("appear in no file of the work directory or the temp directory", () => {
    const hits: string[] = [];
    // In the temp directory, what was written since the first secret: other
    // runs' files cannot hold this run's secrets, and may be many.
    const files = [...filesBelow(repo), ...filesBelow(tmpdir(), started)];
    for (const path of files) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(path);
      } catch {
        continue;
      }
      for (const secret of secrets) {
        if (needles(secret).some((needle) => bytes.includes(needle))) hits.push(path);
      }
    }
    process.stderr.write(
      `secrets scan: ${secrets.size} secrets × ${files.length} files: ${hits.length} hits\n`,
    );
    expect(hits).toEqual([]);
  });

  it("appear in no git object", () => {
    const objects = spawnSync("git", ["-C", repo, "cat-file", "--batch-all-objects", "--batch"], {
      maxBuffer: 256 * 1024 * 1024,
    });
    expect(objects.status).toBe(0);
    expect(objects.stdout.length).toBeGreaterThan(0);
    for (const secret of secrets) {
      for (const needle of needles(secret)) expect(objects.stdout.includes(needle)).toBe(false);
    }
  });

  it("appear in nothing wgqt printed", () => {
    const printed = outputs.join("\n");
    for (const secret of secrets) expect(printed.includes(secret)).toBe(false);
  });

  it("sit in files with sensible modes", () => {
    const keys = join(repo, "wireguard_keys");
    for (const file of [
      ...encryptedFiles(),
      "tavern.pub",
      "manifest.json",
      "secrets.nix",
      "machines.nix",
    ]) {
      expect((statSync(join(keys, file)).mode & 0o777).toString(8), file).toBe("644");
    }
    for (const conf of filesBelow(join(repo, "out"))) {
      expect((statSync(conf).mode & 0o077).toString(8), conf).toBe("0");
    }
  });

  it("an identity file readable by others draws a warning", () => {
    chmodSync(ids.admin!.identityFile, 0o644);
    const result = wgqt(repo, "verify", "--identity", ids.admin!.identityFile);
    chmodSync(ids.admin!.identityFile, 0o600);
    expect(result.stderr).toMatch(/warning: .*admin\.key.*readable/);
  });

  it("verify passes over files an unlisted age identity cannot open, and checks a listed one's", () => {
    // X25519 stanzas name nobody: the admin's and nyaa's files all have one,
    // so each is tried, and "not ours" is told apart from "broken" by the
    // error's code alone.
    const strangerDir = makeTempDir("wgqt-stranger-");
    const strangerAge = makeIdentity(strangerDir, "stranger-age", "x25519");
    const unlisted = wgqt(repo, "verify", "--json", "--identity", strangerAge.identityFile);
    removeDir(strangerDir);
    expect(unlisted.status, unlisted.stderr).toBe(0);
    expect(JSON.parse(unlisted.stdout)).toMatchObject({ ok: true, problems: [], checked: [] });
    const listed = wgqt(repo, "verify", "--json", "--identity", ids.nyaa!.identityFile);
    expect(listed.status, listed.stderr).toBe(0);
    const report = JSON.parse(listed.stdout);
    expect(report).toMatchObject({ ok: true, problems: [] });
    expect(report.checked).toContain("nyaa.age");
  });
});

describe("access matrix", () => {
  it("the age CLI decrypts each file with exactly its intended identities", () => {
    const readers = (file: string): string[] => {
      const names = file
        .replace(/^preshared_keys\//, "")
        .replace(/\.age$/, "")
        .split("+");
      return [...names, "admin", "admin2"];
    };
    const identities = ["tavern", "nyaa", "spark", "archive", "admin", "admin2", "stranger"];
    // spark's old host key must no longer open anything.
    const oldSpark = join(idDir, "spark.key");
    const violations: string[] = [];
    let cells = 0;
    for (const file of encryptedFiles()) {
      for (const who of [...identities, "spark-old"]) {
        cells++;
        const identityFile = who === "spark-old" ? oldSpark : ids[who]!.identityFile;
        const can = ageDecrypt(identityFile, join(repo, "wireguard_keys", file)) !== undefined;
        const should = readers(file).includes(who);
        if (can !== should) violations.push(`${file} × ${who}: ${can ? "can" : "cannot"} decrypt`);
      }
    }
    process.stderr.write(
      `access matrix: ${encryptedFiles().length} files × ${identities.length + 1} identities = ${cells} cells, ${violations.length} violations\n`,
    );
    expect(cells).toBe(encryptedFiles().length * 8);
    expect(violations).toEqual([]);
  });
});
