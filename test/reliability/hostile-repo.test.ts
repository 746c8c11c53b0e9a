/**
 * Hostile repository contents: what anyone who can open a pull request (or
 * shares the repository) can put in it. wgqt treats all of it as untrusted:
 * it never writes outside its store, never hands a secret to a recipient
 * wgqt.toml does not name for it, never echoes a secret, and a run killed
 * together with its git child does not block the next one. Each case runs
 * the built CLI on a copy of one keyed fleet (test/helpers/lifecycle.ts) and
 * checks what the reference tools see: the `age` CLI for who can decrypt
 * what, git for what was committed.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  watch,
  writeFileSync,
} from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, removeDir } from "../helpers/fleet.js";
import { Fleet, snapshot } from "../helpers/lifecycle.js";
import { ageDecrypt, cli, ok, type Result, TEST_ENV, WGQT } from "../helpers/run.js";

let fleet: Fleet;
let work: string;
let copies = 0;

beforeAll(async () => {
  fleet = await Fleet.create();
  work = makeTempDir("wgqt-hostile-repo-");
});

afterAll(() => {
  fleet.cleanup();
  removeDir(work);
});

/** A copy of the keyed fleet's repository, with the store at `keys`. */
function copy(): { repo: string; keys: string } {
  const repo = join(work, `repo-${copies++}`);
  cpSync(fleet.repo, repo, { recursive: true });
  return { repo, keys: join(repo, "wireguard_keys") };
}

function git(repo: string, ...args: string[]): string {
  return ok("git", ["-C", repo, ...args], { env: TEST_ENV });
}

/** Commit everything in the work tree, as a merged pull request would bring it. */
function merge(repo: string, message: string): void {
  git(repo, "add", "-A", "-f", ".");
  git(repo, "commit", "-q", "-m", message);
}

/** The one error line a failing command prints last, and the only `wgqt:` line. */
function errorLine(result: Result): string {
  const errors = result.stderr.split("\n").filter((line) => line.startsWith("wgqt: "));
  expect(errors, result.stderr).toHaveLength(1);
  expect(result.stderr.trimEnd().split("\n").at(-1)).toBe(errors[0]);
  return errors[0]!;
}

/** What `age -d -i <identity>` makes of a store file of `keys`. */
function decrypt(keys: string, identity: string, file: string): string | undefined {
  return ageDecrypt(fleet.ids[identity]!.identityFile, join(keys, file))?.toString("utf8").trim();
}

/** A journal in wgqt's layout: a JSON line, then the files' bytes. */
function journal(writes: { path: string; mode: number; data: Buffer }[], message = "wgqt: keygen") {
  const head = {
    version: 2,
    message,
    writes: writes.map(({ path, mode, data }) => ({ path, mode, size: data.length })),
    removes: [],
  };
  return Buffer.concat([Buffer.from(`${JSON.stringify(head)}\n`), ...writes.map((w) => w.data)]);
}

describe("a planted journal", () => {
  it("naming .git/hooks/post-commit is refused whole; no later command runs the hook", async () => {
    const { repo } = copy();
    const mark = join(work, `hook-ran-${copies}`);
    const hook = Buffer.from(`#!/bin/sh\ntouch ${mark}\n`);
    writeFileSync(
      join(repo, ".wgqt-journal.json"),
      journal([{ path: ".git/hooks/post-commit", mode: 0o755, data: hook }]),
    );
    merge(repo, "a pull request");
    const head = git(repo, "rev-parse", "HEAD");

    const keygen = await cli(repo, "keygen");
    expect(keygen.status).toBe(1);
    expect(errorLine(keygen)).toBe(
      `wgqt: ${repo}/.wgqt-journal.json: names ".git/hooks/post-commit", which is not a file wgqt writes; nothing was applied (a planted journal? move it away to continue)`,
    );
    expect(existsSync(join(repo, ".git", "hooks", "post-commit"))).toBe(false);
    const rotate = await cli(repo, "rotate", "--machine", "tavern", "--yes");
    expect(rotate.status).toBe(1);
    expect(existsSync(mark)).toBe(false);
    expect(git(repo, "rev-parse", "HEAD")).toBe(head);

    // Once the journal is gone, commands work and git runs no planted hook.
    git(repo, "rm", "-q", ".wgqt-journal.json");
    git(repo, "commit", "-q", "-m", "drop the journal");
    const again = await cli(repo, "rotate", "--machine", "tavern", "--yes");
    expect(again.status, again.stderr).toBe(0);
    expect(existsSync(mark)).toBe(false);
    expect(existsSync(join(repo, ".git", "hooks", "post-commit"))).toBe(false);
  });

  it("naming only store files is refused when git tracks it: it came from a commit", async () => {
    const { repo, keys } = copy();
    // Another machine's private key under tavern's name.
    writeFileSync(
      join(repo, ".wgqt-journal.json"),
      journal([
        {
          path: "wireguard_keys/tavern.age",
          mode: 0o644,
          data: readFileSync(join(keys, "spark.age")),
        },
      ]),
    );
    merge(repo, "a pull request");
    const before = snapshot(keys);
    const result = await cli(repo, "keygen");
    expect(result.status).toBe(1);
    expect(errorLine(result)).toBe(
      `wgqt: ${repo}/.wgqt-journal.json: tracked by git, so it came from a commit, not from an interrupted wgqt run; nothing was applied (check what it holds, then git rm it)`,
    );
    expect(snapshot(keys)).toEqual(before);
  });

  it("is refused for any path wgqt does not write, or an executable mode, tracked or not", async () => {
    const cases: [string, Buffer][] = [
      [
        'names "wireguard_keys/evil.sh", which is not a file wgqt writes',
        journal([{ path: "wireguard_keys/evil.sh", mode: 0o644, data: Buffer.from("x") }]),
      ],
      [
        'names "README.md", which is not a file wgqt writes',
        journal([{ path: "README.md", mode: 0o644, data: Buffer.from("x") }]),
      ],
      [
        'names "wireguard_keys/../.git/config", outside',
        journal([{ path: "wireguard_keys/../.git/config", mode: 0o644, data: Buffer.from("x") }]),
      ],
      [
        'would give "wireguard_keys/tavern.pub" mode 755; wgqt never writes executable or special files',
        journal([{ path: "wireguard_keys/tavern.pub", mode: 0o755, data: Buffer.from("x") }]),
      ],
      [
        "its message is not one line of text",
        journal([{ path: "wgqt.toml", mode: 0o644, data: Buffer.from("") }], "wgqt: x\u001b[2J"),
      ],
    ];
    for (const [message, bytes] of cases) {
      const { repo } = copy();
      writeFileSync(join(repo, ".wgqt-journal.json"), bytes);
      const before = snapshot(repo);
      const result = await cli(repo, "keygen");
      expect(result.status, message).toBe(1);
      expect(errorLine(result)).toContain(`.wgqt-journal.json: ${message}`);
      expect(snapshot(repo)).toEqual(before);
    }
  });

  it("wgqt init keeps the journal and the lock out of git", async () => {
    const repo = join(work, `init-${copies++}`);
    mkdirSync(repo);
    git(repo, "init", "-q");
    writeFileSync(join(repo, ".gitignore"), "node_modules/\n");
    const result = await cli(repo, "init", "--admin", fleet.ids.admin!.recipient);
    expect(result.status, result.stderr).toBe(0);
    expect(readFileSync(join(repo, ".gitignore"), "utf8")).toBe(
      "node_modules/\n\n# wgqt: a running command's lock, an interrupted change's journal\n/.wgqt.lock\n/.wgqt-journal.json\n/.wgqt-tmp-*\n",
    );
    const ignored = spawnSync(
      "git",
      ["-C", repo, "check-ignore", ".wgqt.lock", ".wgqt-journal.json", ".wgqt-tmp-x"],
      { encoding: "utf8" },
    );
    expect(ignored.stdout).toBe(".wgqt.lock\n.wgqt-journal.json\n.wgqt-tmp-x\n");
    expect(git(repo, "ls-files")).toContain(".gitignore");
  });
});

describe("swapped secrets", () => {
  it("two private keys (hosts with X25519 keys, whose stanzas name nobody) are refused, named, never re-encrypted", async () => {
    const { repo, keys } = copy();
    const lighthouseKey = decrypt(keys, "admin", "lighthouse.age");
    renameSync(join(keys, "spark.age"), join(keys, "swap"));
    renameSync(join(keys, "lighthouse.age"), join(keys, "spark.age"));
    renameSync(join(keys, "swap"), join(keys, "lighthouse.age"));
    merge(repo, "a pull request");
    const head = git(repo, "rev-parse", "HEAD");
    const before = snapshot(keys);
    const admin = fleet.ids.admin!.identityFile;

    const checkAll = await cli(repo, "rekey", "--check-all", "--identity", admin, "--yes");
    expect(checkAll.status).toBe(1);
    expect(errorLine(checkAll)).toBe(
      "wgqt: wireguard_keys/lighthouse.age: changed since wgqt wrote it (sha256 differs from manifest.json); wgqt does not re-encrypt a file it cannot vouch for (restore it from git; if you changed it on purpose, e.g. with agenix -e: wgqt rekey --accept wireguard_keys/lighthouse.age); and 1 more file (wgqt verify lists them)",
    );
    // Accepting them does not help: a private key must match its .pub.
    const accepted = await cli(
      repo,
      "rekey",
      "--accept",
      "wireguard_keys/lighthouse.age",
      "--accept",
      "wireguard_keys/spark.age",
      "--identity",
      admin,
      "--yes",
    );
    expect(accepted.status).toBe(1);
    expect(errorLine(accepted)).toBe(
      "wgqt: wireguard_keys/lighthouse.age: holds the private key of another public key than lighthouse.pub (swapped with another machine's file? restore it from git, or wgqt rotate --machine lighthouse); nothing was written",
    );
    expect(snapshot(keys)).toEqual(before);
    expect(git(repo, "rev-parse", "HEAD")).toBe(head);
    // spark's host still cannot read lighthouse's private key.
    expect(decrypt(keys, "spark", "spark.age")).toBeUndefined();
    expect(decrypt(keys, "lighthouse", "spark.age")).toBe(lighthouseKey);
    expect((await cli(repo, "verify")).status).toBe(1);
  });

  it("two preshared keys are refused, named, never re-encrypted to the other pair", async () => {
    const { repo, keys } = copy();
    const sparkPsk = decrypt(keys, "admin", "preshared_keys/spark+tavern.age");
    const [a, b] = ["preshared_keys/archive+tavern.age", "preshared_keys/spark+tavern.age"];
    const bytesA = readFileSync(join(keys, a));
    writeFileSync(join(keys, a), readFileSync(join(keys, b)));
    writeFileSync(join(keys, b), bytesA);
    const before = snapshot(keys);
    const result = await cli(
      repo,
      "rekey",
      "--check-all",
      "--identity",
      fleet.ids.admin!.identityFile,
      "--yes",
    );
    expect(result.status).toBe(1);
    expect(errorLine(result)).toMatch(
      /^wgqt: wireguard_keys\/preshared_keys\/archive\+tavern\.age: changed since wgqt wrote it .*; and 1 more file/,
    );
    expect(snapshot(keys)).toEqual(before);
    for (const file of [a, b]) expect(decrypt(keys, "archive", file)).not.toBe(sparkPsk);
  });

  it("with the .pub files and manifest.json swapped too, the headers give it away", async () => {
    // archive and tavern have ssh-ed25519 host keys, whose stanzas name them.
    const { repo, keys } = copy();
    const tavernKey = decrypt(keys, "admin", "tavern.age");
    for (const ext of ["age", "pub"]) {
      renameSync(join(keys, `archive.${ext}`), join(keys, "swap"));
      renameSync(join(keys, `tavern.${ext}`), join(keys, `archive.${ext}`));
      renameSync(join(keys, "swap"), join(keys, `tavern.${ext}`));
    }
    const manifest = JSON.parse(readFileSync(join(keys, "manifest.json"), "utf8"));
    [manifest.files["archive.age"], manifest.files["tavern.age"]] = [
      manifest.files["tavern.age"],
      manifest.files["archive.age"],
    ];
    writeFileSync(join(keys, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    merge(repo, "a pull request");
    const before = snapshot(keys);
    const result = await cli(
      repo,
      "rekey",
      "--check-all",
      "--identity",
      fleet.ids.admin!.identityFile,
      "--yes",
    );
    expect(result.status).toBe(1);
    expect(errorLine(result)).toBe(
      `wgqt: wireguard_keys/archive.age: can be read by tavern's ssh-ed25519 …${fleet.recipient("tavern").slice(-10)}, a key wgqt.toml gives to other machines; re-encrypting it would vouch for another machine's secret (a swapped or planted file? restore it from git, or replace the key: wgqt rotate --machine archive; if that key was this machine's too, a host key shared with them: wgqt rekey --accept wireguard_keys/archive.age); and 1 more file (wgqt verify lists them)`,
    );
    expect(snapshot(keys)).toEqual(before);
    expect(decrypt(keys, "archive", "archive.age")).toBeUndefined();
    expect(decrypt(keys, "tavern", "archive.age")).toBe(tavernKey);
  });
});

describe("symlinks in the store", () => {
  it("a preshared_keys/ leading out of the repository: nothing written there, nothing left behind", async () => {
    const { repo, keys } = copy();
    const outside = join(work, `outside-${copies}`);
    renameSync(join(keys, "preshared_keys"), outside);
    symlinkSync(outside, join(keys, "preshared_keys"));
    // A new client of germany: keygen will make its preshared key with tavern.
    const config = readFileSync(join(fleet.repo, "wgqt.toml"), "utf8");
    writeFileSync(
      join(repo, "wgqt.toml"),
      `${config.replace('"archive"]', '"archive", "cellar"]')}\n[machines.cellar]\nrecipients = [${JSON.stringify(fleet.ids.stranger!.recipient)}]\n`,
    );
    merge(repo, "a pull request");
    const head = git(repo, "rev-parse", "HEAD");
    const outsideBefore = snapshot(outside);
    const result = await cli(repo, "keygen");
    expect(result.status).toBe(1);
    expect(errorLine(result)).toBe(
      `wgqt: ${keys}/preshared_keys: is a symlink; wgqt reads and writes only inside ${repo}, never through a link (make it a directory)`,
    );
    expect(snapshot(outside)).toEqual(outsideBefore);
    expect(existsSync(join(repo, ".wgqt-journal.json"))).toBe(false);
    expect(existsSync(join(keys, "cellar.age"))).toBe(false);
    expect(git(repo, "status", "--porcelain")).toBe("");
    expect(git(repo, "rev-parse", "HEAD")).toBe(head);
    // Read-only commands refuse it as well.
    const status = await cli(repo, "status");
    expect(status.status).toBe(1);
    expect(errorLine(status)).toContain("preshared_keys: is a symlink");
  });

  it("a manifest.json or journal that is a symlink is not read through", async () => {
    for (const file of ["wireguard_keys/manifest.json", ".wgqt-journal.json"]) {
      const { repo } = copy();
      rmSync(join(repo, file), { force: true });
      // A device that never ends: reading it would never finish.
      symlinkSync("/dev/zero", join(repo, file));
      const result = await cli(repo, "keygen");
      expect(result.status).toBe(1);
      expect(errorLine(result)).toBe(
        `wgqt: ${join(repo, file)}: is a symlink; wgqt reads only regular files here, never through a link`,
      );
    }
  });
});

describe("secrets in config errors", () => {
  const key = () => ok("wg", ["genkey"]).trim();
  const cases: [string, (config: string, secret: string) => string, RegExp][] = [
    [
      "a private key under an unknown key",
      (config, secret) =>
        config.replace("[machines.archive]\n", `[machines.archive]\nprivate_key = "${secret}"\n`),
      /machines\.archive\.private_key: unknown key \(got \[value hidden: it looks like a key, and wgqt never prints keys\]\)$/,
    ],
    [
      "a preshared key where a boolean goes",
      (config, secret) =>
        `${config}\n[vpns.us-west]\nmachines = ["nyaa"]\nid = 1\nendpoint = "198.51.100.7:51820"\npublic_key = "${ok("wg", ["pubkey"], { input: `${key()}\n` }).trim()}"\naddress = "10.64.1.2/32"\npreshared_key = "${secret}"\n`,
      /vpns\.us-west\.preshared_key: expected boolean, got \[value hidden: it looks like a key, and wgqt never prints keys\]$/,
    ],
    [
      "a private key as an endpoint",
      (config, secret) =>
        config.replace('endpoint = "tavern.example.org"', `endpoint = "${secret}"`),
      /machines\.tavern\.endpoint: .*\[value hidden/,
    ],
    [
      "an OpenSSH private key pasted into a string",
      (config) => {
        const pem = readFileSync(fleet.ids.ops!.identityFile, "utf8");
        return config.replace(
          'endpoint = "tavern.example.org"',
          `endpoint = ${JSON.stringify(pem)}`,
        );
      },
      /machines\.tavern\.endpoint: .*\[value hidden/,
    ],
    [
      "a private key as a table name",
      (config, secret) => `${config}\n[machines."${secret}"]\nrecipients = []\n`,
      /machines\.\[hidden: looks like a key\]: machine name \[value hidden/,
    ],
  ];

  it.each(cases.map(([what], index) => [what, index] as const))("%s", async (_what, index) => {
    const [, edit, message] = cases[index]!;
    const { repo } = copy();
    const secret = key();
    const text = edit(readFileSync(join(repo, "wgqt.toml"), "utf8"), secret);
    writeFileSync(join(repo, "wgqt.toml"), text);
    const result = await cli(repo, "keygen");
    expect(result.status).toBe(1);
    const line = errorLine(result);
    expect(line).toMatch(message);
    expect(result.stderr).not.toContain(secret);
    // Nothing of an OpenSSH key's body either (any 16 characters of it).
    const body = readFileSync(fleet.ids.ops!.identityFile, "utf8")
      .split("\n")
      .slice(1, -2)
      .join("");
    for (let at = 0; at + 16 <= body.length; at += 16)
      expect(result.stderr).not.toContain(body.slice(at, at + 16));
  });
});

describe("public keys the manifest does not vouch for", () => {
  it("keygen refuses a replaced .pub rather than writing it into machines.nix", async () => {
    const { repo, keys } = copy();
    const forged = ok("wg", ["pubkey"], { input: ok("wg", ["genkey"]) });
    writeFileSync(join(keys, "archive.pub"), forged);
    merge(repo, "a pull request");
    const head = git(repo, "rev-parse", "HEAD");
    const before = snapshot(keys);
    for (const args of [["keygen"], ["rotate", "--machine", "tavern", "--yes"]]) {
      const result = await cli(repo, ...args);
      expect(result.status, args.join(" ")).toBe(1);
      expect(errorLine(result)).toBe(
        `wgqt: ${keys}/archive.pub: not the public key manifest.json records for archive.age (replaced? restore it from git, or run 'wgqt rotate --machine archive' for a new keypair)`,
      );
    }
    expect(snapshot(keys)).toEqual(before);
    expect(readFileSync(join(keys, "machines.nix"), "utf8")).not.toContain(forged.trim());
    expect(git(repo, "rev-parse", "HEAD")).toBe(head);
    // The way out it names works: a new keypair for archive.
    const rotate = await cli(repo, "rotate", "--machine", "archive", "--yes");
    expect(rotate.status, rotate.stderr).toBe(0);
    expect((await cli(repo, "verify")).status).toBe(0);
  });

  it("every writing command refuses an .age whose .pub was deleted, saying how to recover", async () => {
    const { repo, keys } = copy();
    rmSync(join(keys, "nyaa.pub"));
    merge(repo, "a pull request");
    const head = git(repo, "rev-parse", "HEAD");
    const before = snapshot(keys);
    const admin = fleet.ids.admin!.identityFile;
    for (const args of [
      ["rekey", "--check-all", "--identity", admin, "--yes"],
      ["rekey", "--identity", admin],
      ["keygen"],
      ["rotate", "--pair", "spark", "tavern", "--yes"],
      ["machine", "add", "cellar", "--recipient", fleet.ids.stranger!.recipient],
    ]) {
      const result = await cli(repo, ...args);
      expect(result.status, args.join(" ")).toBe(1);
      expect(errorLine(result)).toBe(
        `wgqt: ${keys}/nyaa.age exists but nyaa.pub is missing; restore it from git, or run 'wgqt rotate --machine nyaa' for a new keypair`,
      );
    }
    expect(snapshot(keys)).toEqual(before);
    expect(readFileSync(join(keys, "machines.nix"), "utf8")).toContain("nyaa = {");
    expect(git(repo, "rev-parse", "HEAD")).toBe(head);
  });
});

describe("RSA recipients", () => {
  it("under 2048 bits are refused, as the age CLI refuses them; 2048 bits are taken", async () => {
    const { repo } = copy();
    const dir = join(work, `rsa-${copies}`);
    mkdirSync(dir);
    for (const bits of ["1024", "2048"])
      ok("ssh-keygen", ["-q", "-t", "rsa", "-b", bits, "-N", "", "-f", join(dir, bits)]);
    // The real consumer first: age will not encrypt to the small key.
    const age1024 = spawnSync("age", ["-R", join(dir, "1024.pub")], { input: "x" });
    expect(age1024.status).not.toBe(0);
    expect(spawnSync("age", ["-R", join(dir, "2048.pub")], { input: "x" }).status).toBe(0);

    const before = snapshot(repo);
    const small = await cli(repo, "machine", "add", "cellar", "-R", join(dir, "1024.pub"));
    expect(small.status).toBe(1);
    expect(errorLine(small)).toBe(
      `wgqt: --recipient-file "${join(dir, "1024.pub")}": line 1: ssh-rsa key of 1024 bits: the age CLI refuses RSA recipients under 2048 bits; use a key of 2048 bits or more, or ssh-ed25519`,
    );
    expect(snapshot(repo)).toEqual(before);
    const big = await cli(repo, "machine", "add", "cellar", "-R", join(dir, "2048.pub"));
    expect(big.status, big.stderr).toBe(0);
  });
});

describe("a run killed together with its git child", () => {
  /**
   * Run `args` in a process group of its own and SIGKILL the whole group (as
   * a Ctrl-C reaches wgqt and git together, without giving git a chance to
   * clean up) the moment `.git/<lock>` appears (inotify). True when the kill
   * landed while the lock was there.
   */
  async function killAtLock(repo: string, args: string[], lock: RegExp): Promise<boolean> {
    const child = spawn(process.execPath, [WGQT, ...args], {
      cwd: repo,
      env: TEST_ENV,
      detached: true,
      stdio: "ignore",
    });
    let caught = false;
    const watcher = watch(join(repo, ".git"), (_event, name) => {
      if (caught || name === null || !lock.test(name)) return;
      if (!existsSync(join(repo, ".git", name))) return;
      caught = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    });
    await new Promise((resolve) => child.on("exit", resolve));
    watcher.close();
    return caught;
  }

  const leftovers = (repo: string) =>
    readdirSync(join(repo, ".git"))
      .filter((name) => name.startsWith("wgqt-index-") || name === "index.lock")
      .sort();

  for (const [what, lock] of [
    ["holding the work tree's index.lock", /^index\.lock$/],
    ["holding its temporary index's lock", /^wgqt-index-\d+-[0-9a-f]+\.lock$/],
  ] as const) {
    it(`${what}: the next command recovers, commits and clears what it left`, async () => {
      let repo = "";
      let left: string[] = [];
      // The kill must land while the lock exists (git may drop it between
      // the watcher seeing it and the signal): a few tries at most.
      const landed = (names: string[]) => names.some((name) => lock.test(name));
      for (let attempt = 0; attempt < 8 && !landed(left); attempt++) {
        ({ repo } = copy());
        if (await killAtLock(repo, ["rotate", "--all", "--yes"], lock)) left = leftovers(repo);
      }
      expect(left, "the kill never landed while git held the lock").toSatisfy(landed);

      const result = await cli(repo, "keygen");
      expect(result.status, result.stderr).toBe(0);
      expect(leftovers(repo)).toEqual([]);
      expect(existsSync(join(repo, ".wgqt-journal.json"))).toBe(false);
      expect(git(repo, "log", "-1", "--format=%s")).toMatch(/^wgqt: rotate all/);
      expect(git(repo, "status", "--porcelain")).toBe("");
      expect((await cli(repo, "verify")).status).toBe(0);
    });
  }

  it("a lock of a live git, or one older than the dead run, is left alone", async () => {
    const { repo } = copy();
    const gitDir = join(repo, ".git");
    // An old leftover nobody can attribute: not wgqt's to remove.
    writeFileSync(join(gitDir, "index.lock"), "");
    const past = new Date(Date.now() - 3_600_000);
    spawnSync("touch", ["-d", past.toISOString(), join(gitDir, "index.lock")]);
    // A dead run of this host that started after it.
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
      encoding: "utf8",
    }).stdout;
    writeFileSync(join(gitDir, `wgqt-index-${dead}-0badc0de.owner`), `${dead} ${hostname()}\n`);
    // A live one (this test process).
    writeFileSync(
      join(gitDir, `wgqt-index-${process.pid}-0badc0de.owner`),
      `${process.pid} ${hostname()}\n`,
    );
    const result = await cli(repo, "rotate", "--machine", "tavern", "--yes");
    expect(result.status).toBe(1);
    expect(errorLine(result)).toMatch(/index\.lock': File exists/);
    expect(leftovers(repo)).toEqual(["index.lock", `wgqt-index-${process.pid}-0badc0de.owner`]);
  });
});
