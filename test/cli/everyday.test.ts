/**
 * Everyday use on a pipe, run in-process (bin/wgqt where a command could
 * hang: a deadline needs a process to kill): a store that must exist,
 * renumbering reviewed from the first keygen on, `render --out` that fails in
 * one line and cleans up after itself, and messages that say where a bad
 * value came from and what was meant.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  gitLog,
  makeIdentity,
  makeRepo,
  makeTempDir,
  removeDir,
  type TestIdentity,
} from "../helpers/fleet.js";
import { cli, ok, ROOT, TEST_ENV, WGQT } from "../helpers/run.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

/** A git repository holding a copy of the bundled example fleet, committed. */
function exampleFleet(): string {
  const repo = makeRepo();
  dirs.push(repo);
  for (const entry of ["wgqt.toml", "wireguard_keys", "examples"])
    cpSync(join(ROOT, entry), join(repo, entry), { recursive: true });
  ok("git", ["-C", repo, "add", "."]);
  ok("git", ["-C", repo, "commit", "-qm", "example fleet"], { env: TEST_ENV });
  return repo;
}

const head = (repo: string) => ok("git", ["-C", repo, "rev-parse", "HEAD"]).trim();
const edit = (repo: string, change: (text: string) => string) => {
  const path = join(repo, "wgqt.toml");
  writeFileSync(path, change(readFileSync(path, "utf8")));
};

/** wgqt with a deadline: a command that never ends fails the test instead of hanging it. */
function wgqtWithin(cwd: string, seconds: number, ...args: string[]) {
  const result = spawnSync(process.execPath, [WGQT, ...args], {
    cwd,
    env: TEST_ENV,
    encoding: "utf8",
    timeout: seconds * 1000,
  });
  return { status: result.status, signal: result.signal, stderr: result.stderr };
}

describe("keys_dir must name an existing store", () => {
  it("a typo is refused by every command, naming the store nearby; nothing is written", async () => {
    const repo = exampleFleet();
    edit(repo, (text) =>
      text.replace('keys_dir   = "wireguard_keys"', 'keys_dir = "wireguard_key"'),
    );
    const before = head(repo);
    for (const args of [
      ["status"],
      ["verify"],
      ["keygen"],
      ["plan"],
      ["render", "--format", "wg-quick"],
      ["machine", "list"],
      [
        "machine",
        "add",
        "zed",
        "-r",
        "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq",
      ],
    ]) {
      const result = await cli(repo, ...args);
      expect(result.status, args.join(" ")).toBe(1);
      expect(result.stderr).toBe(
        `wgqt: ${repo}/wgqt.toml: keys_dir: "wireguard_key" does not exist (did you mean "wireguard_keys"? a key store is there); only 'wgqt init' starts a key store: fix keys_dir, or create the directory to start an empty one\n`,
      );
    }
    expect(existsSync(join(repo, "wireguard_key"))).toBe(false);
    expect(head(repo)).toBe(before);
  });

  it("with no store anywhere near, it says only that", async () => {
    const dir = makeTempDir("wgqt-nostore-");
    dirs.push(dir);
    writeFileSync(join(dir, "wgqt.toml"), 'keys_dir = "keys"\n');
    const result = await cli(dir, "keygen");
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/keys_dir: "keys" does not exist; only 'wgqt init' starts/);
    expect(existsSync(join(dir, "keys"))).toBe(false);
  });
});

describe("renumbering is reviewed from the first keygen on", () => {
  let repo: string;
  let ids: Record<string, TestIdentity>;

  beforeAll(async () => {
    repo = makeRepo();
    dirs.push(repo);
    const idDir = makeTempDir("wgqt-ids-");
    dirs.push(idDir);
    ids = Object.fromEntries(
      ["admin", "tavern", "archive", "nyaa", "spark"].map((name) => [
        name,
        makeIdentity(idDir, name, name === "admin" ? "x25519" : "ssh-ed25519"),
      ]),
    );
    expect((await cli(repo, "init", "--admin-file", ids.admin!.recipientFile)).status).toBe(0);
    for (const name of ["tavern", "archive", "nyaa", "spark"]) {
      const endpoint = name === "tavern" ? ["--endpoint", "tavern.example.org"] : [];
      expect(
        (await cli(repo, "machine", "add", name, "-R", ids[name]!.recipientFile, ...endpoint))
          .status,
      ).toBe(0);
    }
    edit(
      repo,
      (text) =>
        `${text}\n[proxies.germany]\ngateway = "tavern"\nclients = ["archive", "nyaa", "spark"]\n`,
    );
    const keygen = await cli(repo, "keygen");
    expect(keygen.status, keygen.stderr).toBe(0);
  });

  it("keygen keeps plan.json although nobody ran wgqt plan --write", async () => {
    const accepted = JSON.parse(readFileSync(join(repo, "wireguard_keys", "plan.json"), "utf8"));
    expect(accepted).toEqual(JSON.parse((await cli(repo, "plan", "--json")).stdout));
  });

  it("removing archive says it moves nyaa and spark; plan lists the moves; render refuses them", async () => {
    edit(repo, (text) =>
      text.replace('clients = ["archive", "nyaa", "spark"]', 'clients = ["nyaa", "spark"]'),
    );
    const removed = await cli(repo, "machine", "remove", "archive", "--yes");
    expect(removed.status, removed.stderr).toBe(0);
    expect(removed.stderr).toContain(
      "renumbering: wgqt.toml now moves 2 existing members against plan.json; review with 'wgqt plan', accept with 'wgqt plan --write'",
    );
    const plan = await cli(repo, "plan");
    expect(plan.stderr).toContain("germany nyaa: 10.128.0.3 -> 10.128.0.2");
    expect(plan.stderr).toContain("germany spark: 10.128.0.4 -> 10.128.0.3");
    const render = await cli(repo, "render", "--format", "wg-quick");
    expect(render.status).toBe(1);
    expect(render.stdout).toBe("");
    expect(render.stderr).toMatch(
      /so nyaa, spark, tavern are not rendered; review with 'wgqt plan'/,
    );
    expect((await cli(repo, "plan", "--write", "--yes")).status).toBe(0);
    expect((await cli(repo, "render", "--format", "wg-quick")).status).toBe(0);
  });

  it("render refuses only the hosts whose networks moved", async () => {
    const fleet = exampleFleet();
    // archive leaves germany: germany's clients move, finland's do not.
    edit(fleet, (text) =>
      text.replace(
        /(\[proxies\.germany\][^[]*clients = )\["nyaa", "spark", "archive"\]/,
        '$1["nyaa", "spark"]',
      ),
    );
    const out = join(fleet, "out");
    const render = await cli(fleet, "render", "--format", "wg-quick", "--out", out);
    expect(render.status).toBe(1);
    expect(render.stderr).toMatch(/so nyaa, spark, tavern are not rendered/);
    expect(
      readdirSync(out)
        .filter((name) => !name.startsWith("."))
        .sort(),
    ).toEqual(["archive", "lighthouse"]);
    const lighthouse = await cli(
      fleet,
      "render",
      "--machine",
      "lighthouse",
      "--format",
      "wg-quick",
    );
    expect(lighthouse.status, lighthouse.stderr).toBe(0);
    expect(lighthouse.stdout).toContain("ListenPort = 16842");
    expect((await cli(fleet, "render", "--machine", "tavern", "--format", "wg-quick")).status).toBe(
      1,
    );
  });
});

describe("render --out", () => {
  it("an unwritable --out is a one-line error, exit 1, at once", () => {
    const repo = exampleFleet();
    for (const [out, message] of [
      // What the kernel answers for /proc and /sys (ENOENT, EPERM here) may vary: the form may not.
      ["/proc/nope", /^wgqt: --out: cannot create \/proc\/nope \(E[A-Z]+\)\n$/],
      ["/etc/hostname/x", /^wgqt: --out: \/etc\/hostname is not a directory\n$/],
      ["/sys/nope", /^wgqt: --out: cannot create \/sys\/nope \(E[A-Z]+\)\n$/],
    ] as const) {
      const result = wgqtWithin(repo, 20, "render", "--format", "wg-quick", "--out", out);
      expect(result.signal, `${out} did not finish`).toBeNull();
      expect(result.status, out).toBe(1);
      expect(result.stderr).toMatch(message);
    }
  });

  it("removes the files of a machine it no longer renders, and nothing else", async () => {
    const repo = exampleFleet();
    const out = join(repo, "out");
    for (const format of ["wg-quick", "nixos"]) {
      const first = await cli(repo, "render", "--format", format, "--out", out);
      expect(first.status, first.stderr).toBe(0);
    }
    expect(existsSync(join(out, "archive", "germany.conf"))).toBe(true);
    expect(existsSync(join(out, "hosts", "archive.nix"))).toBe(true);
    writeFileSync(join(out, "notes.txt"), "mine\n");
    mkdirSync(join(out, "mine"));
    writeFileSync(join(out, "mine", "germany.conf"), "mine\n");
    // A file render wrote, then changed by hand: left, with a warning.
    writeFileSync(join(out, "archive", "finland.conf"), "# changed by hand\n");

    edit(repo, (text) => text.replaceAll('"nyaa", "spark", "archive"', '"nyaa", "spark"'));
    expect((await cli(repo, "machine", "remove", "archive", "--yes")).status).toBe(0);
    expect((await cli(repo, "plan", "--write", "--yes")).status).toBe(0);

    const wgQuick = await cli(repo, "render", "--format", "wg-quick", "--out", out);
    expect(wgQuick.status, wgQuick.stderr).toBe(0);
    // archive/germany.conf and archive/hosts (its names).
    expect(wgQuick.stderr).toContain("removed 2 no longer rendered");
    expect(wgQuick.stderr).toContain(
      `warning: left ${join(out, "archive", "finland.conf")}: wgqt rendered it before and no longer does, but it changed since`,
    );
    expect(existsSync(join(out, "archive", "germany.conf"))).toBe(false);
    expect(readFileSync(join(out, "archive", "finland.conf"), "utf8")).toBe("# changed by hand\n");
    // The nixos files are another format's: a wg-quick render leaves them alone.
    expect(existsSync(join(out, "hosts", "archive.nix"))).toBe(true);

    const nixos = await cli(repo, "render", "--format", "nixos", "--out", out);
    expect(nixos.status, nixos.stderr).toBe(0);
    expect(existsSync(join(out, "hosts", "archive.nix"))).toBe(false);
    expect(readFileSync(join(out, "default.nix"), "utf8")).not.toContain("archive");
    expect(readFileSync(join(out, "names", "germany.nix"), "utf8")).not.toContain("archive");
    expect(readFileSync(join(out, "notes.txt"), "utf8")).toBe("mine\n");
    expect(readFileSync(join(out, "mine", "germany.conf"), "utf8")).toBe("mine\n");
    expect(existsSync(join(out, "nyaa", "germany.conf"))).toBe(true);
  });

  it("says '1 file', and warns when NixOS output goes outside the repository", async () => {
    const repo = exampleFleet();
    const inside = await cli(
      repo,
      "render",
      "--machine",
      "tavern",
      "--format",
      "json",
      "--out",
      join(repo, "one"),
    );
    expect(inside.stderr).toBe(`rendered 1 file under ${join(repo, "one")} (1 changed)\n`);
    const outside = makeTempDir("wgqt-out-");
    dirs.push(outside);
    const result = await cli(repo, "render", "--format", "nixos", "--out", outside);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(
      new RegExp(
        `^warning: --out ${outside} is outside ${repo}: its modules reach the key store as \\.\\./.*wireguard_keys/…, which holds only while both stay where they are`,
      ),
    );
  });
});

describe("messages that say where a value came from", () => {
  let repo: string;
  beforeAll(() => {
    repo = exampleFleet();
  });

  it("a bad -r or -R recipient is blamed on the flag or the file's line, not on wgqt.toml", async () => {
    const bad = await cli(repo, "machine", "add", "zed", "-r", "ssh-ed25519 AAAA");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^wgqt: --recipient: /);
    expect(bad.stderr).not.toContain("wgqt.toml");
    const file = join(repo, "zed.pub");
    writeFileSync(
      file,
      "# zed's keys\nage1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq\nssh-dss AAAA\n",
    );
    const fromFile = await cli(repo, "machine", "add", "zed", "-R", file);
    expect(fromFile.status).toBe(1);
    expect(fromFile.stderr).toMatch(new RegExp(`^wgqt: --recipient-file "${file}": line 3: `));
    const endpoint = await cli(
      repo,
      "machine",
      "add",
      "zed",
      "-R",
      join(repo, "examples", "identities", "nyaa.key.pub"),
      "--endpoint",
      "zed.example.org:51820",
    );
    expect(endpoint.stderr).toBe(
      'wgqt: --endpoint: give the host without a port (wgqt allocates ports per network), got "zed.example.org:51820"\n',
    );
    expect(readFileSync(join(repo, "wgqt.toml"), "utf8")).not.toContain("zed");
  });

  it("an unknown key gets a 'did you mean'; an unclosed quote is called one", async () => {
    const original = readFileSync(join(repo, "wgqt.toml"), "utf8");
    try {
      edit(repo, (text) =>
        text.replace('endpoint = "tavern.example.org"', 'endpont = "tavern.example.org"'),
      );
      expect((await cli(repo, "plan")).stderr).toBe(
        `wgqt: ${repo}/wgqt.toml: machines.tavern.endpont: unknown key (did you mean "endpoint"?) (got "tavern.example.org")\n`,
      );
      writeFileSync(join(repo, "wgqt.toml"), `${original}\n[proxy.x]\ngateway = "tavern"\n`);
      expect((await cli(repo, "plan")).stderr).toMatch(
        /: proxy: unknown key \(did you mean "proxies"\?\)/,
      );
      writeFileSync(
        join(repo, "wgqt.toml"),
        original.replace('endpoint = "tavern.example.org"', 'endpoint = "tavern.example.org'),
      );
      expect((await cli(repo, "plan")).stderr).toMatch(
        /: line \d+, column \d+: invalid TOML: unterminated string: the closing quote is missing \(at "endpoint = \\"tavern\.example\.org"\)\n$/,
      );
    } finally {
      writeFileSync(join(repo, "wgqt.toml"), original);
    }
  });

  it("machine remove names every proxy that still uses the machine", async () => {
    const result = await cli(repo, "machine", "remove", "archive", "--yes");
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      `wgqt: ${repo}/wgqt.toml: "archive" is still used by proxies.finland (a client) and proxies.germany (a client); remove it there first\n`,
    );
  });

  it("init warns about a fleet without admins, and about a fleet inside a fleet", async () => {
    const nested = join(repo, "sub");
    mkdirSync(nested);
    const result = await cli(nested, "init", "--no-commit");
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain(
      "warning: no admin (--admin, --admin-file): every key will be encrypted to its hosts only, so nobody can run wgqt rekey or export a key",
    );
    expect(result.stderr).toContain(
      `warning: ${repo}/wgqt.toml already holds a fleet: this makes a second one in ${nested}`,
    );
    expect(gitLog(repo)[0]).toBe("example fleet");
  });
});

describe("a long plan", () => {
  let idDir: string;
  let host: TestIdentity;
  beforeAll(() => {
    idDir = makeTempDir("wgqt-ids-");
    dirs.push(idDir);
    host = makeIdentity(idDir, "host", "x25519");
  });

  /** A gateway and 30 clients in one proxy, not keyed yet. */
  function fleet(): string {
    const repo = makeRepo();
    dirs.push(repo);
    const machines = Array.from({ length: 30 }, (_, i) => `m${String(i).padStart(2, "0")}`);
    const lines = [];
    for (const name of ["gw", ...machines])
      lines.push(
        `[machines.${name}]`,
        `recipients = ["${host.recipient}"]`,
        'endpoint = "gw.example.org"',
        "",
      );
    lines.push("[proxies.p]", 'gateway = "gw"', `clients = ${JSON.stringify(machines)}`, "");
    writeFileSync(join(repo, "wgqt.toml"), lines.join("\n"));
    mkdirSync(join(repo, "wireguard_keys"));
    return repo;
  }
  const ten = Array.from({ length: 10 }, (_, i) => [
    "--machine",
    `m${String(i).padStart(2, "0")}`,
  ]).flat();

  it("is shown one line per machine, with a count and how to see every line", async () => {
    const repo = fleet();
    const keygen = await cli(repo, "keygen");
    expect(keygen.status, keygen.stderr).toBe(0);
    expect(keygen.stderr).toContain("  + gw:  keypair, 30 preshared keys\n");
    expect(keygen.stderr).toContain("  + m29: keypair, preshared key\n");
    expect(keygen.stderr).toContain("  (61 keys for 31 machines; --verbose lists each one)\n");
    expect(keygen.stderr).not.toContain("preshared key gw+m29");
    expect(keygen.stderr.split("\n").length).toBeLessThan(40);
    expect(gitLog(repo)[0]).toBe("wgqt: keygen (31 keypairs + 30 preshared keys)");
  });

  it("--verbose lists every key", async () => {
    const keygen = await cli(fleet(), "keygen", "--no-commit", "--verbose");
    expect(keygen.status, keygen.stderr).toBe(0);
    expect(keygen.stderr).toContain("  + preshared key gw+m29\n");
    expect(keygen.stderr).not.toContain("--verbose lists");
  });

  it("a commit subject names a few machines and counts the rest", async () => {
    const repo = fleet();
    const keygen = await cli(repo, "keygen", ...ten);
    expect(keygen.status, keygen.stderr).toBe(0);
    expect(keygen.stderr).toMatch(/^keygen m00, m01, m02 and 7 more:\n/);
    expect(gitLog(repo)[0]).toBe(
      "wgqt: keygen m00 m01 m02 and 7 more (10 keypairs + 10 preshared keys)",
    );
  });
});
