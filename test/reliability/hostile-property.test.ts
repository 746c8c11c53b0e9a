/**
 * A property over repository states: start from a valid committed store,
 * apply a random sequence of hostile changes (what anyone who can commit to
 * the repository can do: swap, truncate, flip a byte of or delete a key file,
 * replace a `.pub`, add a symlink, plant or corrupt a journal, edit a
 * generated file), sometimes committed as a merged pull request would be,
 * then run every writing command in process, one after the other. Whatever
 * each prints or exits with, afterwards:
 *
 * - the access matrix (every `.age` file against every host identity, the
 *   admin and a stranger, decrypted by the real `age` CLI) shows no secret
 *   readable by an identity wgqt.toml does not name for it: a key the fleet
 *   had before is readable only by who wgqt.toml names for the file it came
 *   from, and a key made since only by who it names for its file (a journal
 *   may rewrite wgqt.toml, like any edit of it: its admins then count);
 * - nothing was written outside the store: the repository's other files, a
 *   directory outside it that symlinks point to, and `.git/hooks` are as
 *   they were (a planted hook would leave a mark outside when git ran it);
 * - no secret appears in anything a command printed.
 *
 * Small fleet (three machines, five secrets), few runs: the commands run in
 * process (main() with a captured CliIO), the `age` CLI only for files whose
 * bytes it has not judged yet.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { parse as parseToml } from "smol-toml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeIdentity, makeTempDir, removeDir, type TestIdentity } from "../helpers/fleet.js";
import { ok, runInProcess, TEST_ENV } from "../helpers/run.js";

/** Machines and the kind of their host key: both kinds of stanza, one that names its key and one that cannot. */
const MACHINES = { gw: "ssh-ed25519", c1: "x25519", c2: "ssh-ed25519" } as const;
type Machine = keyof typeof MACHINES;
/** Every secret file of the fleet, and the machines whose host may read it (with the admin). */
const FILES: Record<string, Machine[]> = {
  "c1.age": ["c1"],
  "c2.age": ["c2"],
  "gw.age": ["gw"],
  "preshared_keys/c1+gw.age": ["c1", "gw"],
  "preshared_keys/c2+gw.age": ["c2", "gw"],
};
const SECRET_FILES = Object.keys(FILES);
const PUBLIC_FILES = Object.keys(MACHINES).map((name) => `${name}.pub`);
const GENERATED = ["manifest.json", "secrets.nix", "machines.nix"];
const IDENTITIES = [...Object.keys(MACHINES), "admin", "stranger"];

let work: string;
let template: string;
const ids: Record<string, TestIdentity> = {};
/** Each key the template fleet holds (base64 text) -> who may read it. */
const originals = new Map<string, Set<string>>();
/** Text no output may ever hold: the identities' secret keys. */
const identitySecrets: string[] = [];
/** `age -d` answers by file bytes and identity: most files are judged once. */
const ageAnswers = new Map<string, string | undefined>();

function git(repo: string, ...args: string[]): string {
  return ok("git", ["-C", repo, ...args], { env: TEST_ENV });
}

/** Run wgqt in process, as a script on a pipe runs it; returns exit code and everything printed. */
async function wgqt(repo: string, home: string, args: string[]) {
  const { status, stdout, stderr } = await runInProcess(args, {
    cwd: repo,
    env: { HOME: home, NO_COLOR: "1" },
    now: () => new Date("2026-01-01T00:00:00Z"),
  });
  return { status, printed: stdout + stderr };
}

/** Who may read a file under this store path, by the template's wgqt.toml. */
function entitled(file: string): Set<string> {
  return new Set([...(FILES[file] ?? []), "admin"]);
}

/**
 * The identities wgqt.toml in `repo` names as an admin: whoever edits
 * wgqt.toml (or gets an edit of it replayed) decides who is named, so who may
 * read what is judged against the wgqt.toml of the moment. The machines'
 * recipients are not among the hostile changes.
 */
function namedAdmins(repo: string): Set<string> {
  const admins = new Set(["admin"]);
  let config: { admins?: unknown };
  try {
    config = parseToml(readFileSync(join(repo, "wgqt.toml"), "utf8"));
  } catch {
    return admins;
  }
  const listed = Array.isArray(config.admins) ? config.admins.map(String) : [];
  for (const name of IDENTITIES)
    if (listed.some((recipient) => sameKey(recipient, ids[name]!.recipient))) admins.add(name);
  return admins;
}

/** Two recipient lines for the same key (comments aside). */
function sameKey(a: string, b: string): boolean {
  const key = (text: string) => text.trim().split(/\s+/).slice(0, 2).join(" ");
  return key(a) === key(b);
}

/** The plaintext `age -d -i <identity>` gets from these bytes, or undefined when it refuses. */
function ageDecrypt(bytes: Buffer, identity: string): string | undefined {
  const key = `${createHash("sha256").update(bytes).digest("hex")} ${identity}`;
  if (ageAnswers.has(key)) return ageAnswers.get(key);
  const result = spawnSync("age", ["-d", "-i", ids[identity]!.identityFile], { input: bytes });
  const answer = result.status === 0 ? result.stdout.toString("utf8").trim() : undefined;
  ageAnswers.set(key, answer);
  return answer;
}

/** Every file below `dir` (symlinks as their target text), by relative path; `skip` names left out. */
function tree(dir: string, skip: (path: string) => boolean = () => false): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (sub: string) => {
    for (const name of readdirSync(join(dir, sub)).sort()) {
      const path = sub ? `${sub}/${name}` : name;
      if (skip(path)) continue;
      const stats = lstatSync(join(dir, path));
      if (stats.isSymbolicLink()) out.set(path, `-> ${readlinkSync(join(dir, path))}`);
      else if (stats.isDirectory()) walk(path);
      else
        out.set(
          path,
          createHash("sha256")
            .update(readFileSync(join(dir, path)))
            .digest("hex"),
        );
    }
  };
  if (existsSync(dir)) walk("");
  return out;
}

/** What wgqt may write in the repository: wgqt.toml, .gitignore, the store, its journal, lock and temp files. */
function wgqtMayWrite(path: string): boolean {
  return (
    path === ".git" ||
    path === "wgqt.toml" ||
    path === ".gitignore" ||
    path === "wireguard_keys" ||
    path.startsWith("wireguard_keys/") ||
    path.startsWith(".wgqt")
  );
}

type Hostile =
  | { kind: "swap"; a: number; b: number }
  | { kind: "truncate"; file: number; keep: number }
  | { kind: "flip"; file: number; at: number; bit: number }
  | { kind: "delete"; target: number }
  | { kind: "replace-pub"; machine: number }
  | { kind: "symlink"; variant: "psk-dir" | "age-file" | "manifest" | "journal" }
  | { kind: "journal"; variant: "hook" | "outside" | "store-file" | "garbage" | "wgqt-toml" }
  | { kind: "edit-generated"; file: number; how: "flip" | "append" | "swap-hashes" };

const hostile: fc.Arbitrary<Hostile> = fc.oneof(
  fc.record({ kind: fc.constant("swap" as const), a: fc.nat(4), b: fc.nat(4) }),
  fc.record({ kind: fc.constant("truncate" as const), file: fc.nat(4), keep: fc.nat(300) }),
  fc.record({
    kind: fc.constant("flip" as const),
    file: fc.nat(4),
    at: fc.nat(400),
    bit: fc.nat(7),
  }),
  fc.record({ kind: fc.constant("delete" as const), target: fc.nat(10) }),
  fc.record({ kind: fc.constant("replace-pub" as const), machine: fc.nat(2) }),
  fc.record({
    kind: fc.constant("symlink" as const),
    variant: fc.constantFrom("psk-dir", "age-file", "manifest", "journal"),
  }),
  fc.record({
    kind: fc.constant("journal" as const),
    variant: fc.constantFrom("hook", "outside", "store-file", "garbage", "wgqt-toml"),
  }),
  fc.record({
    kind: fc.constant("edit-generated" as const),
    file: fc.nat(2),
    how: fc.constantFrom("flip", "append", "swap-hashes"),
  }),
);

/** A journal in wgqt's layout (a JSON line, then the files' bytes). */
function journal(message: string, writes: { path: string; mode: number; data: Buffer }[]): Buffer {
  const head = {
    version: 2,
    message,
    writes: writes.map(({ path, mode, data }) => ({ path, mode, size: data.length })),
    removes: [],
  };
  return Buffer.concat([Buffer.from(`${JSON.stringify(head)}\n`), ...writes.map((w) => w.data)]);
}

/** Apply one hostile change to the fleet in `repo`; `outside` is a directory beyond the repository. */
function apply(repo: string, outside: string, change: Hostile): void {
  const keys = join(repo, "wireguard_keys");
  const at = (file: string) => join(keys, file);
  const present = (path: string) => lstatSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
  switch (change.kind) {
    case "swap": {
      const [a, b] = [at(SECRET_FILES[change.a]!), at(SECRET_FILES[change.b]!)];
      if (!present(a) || !present(b) || a === b) return;
      const bytes = readFileSync(a);
      writeFileSync(a, readFileSync(b));
      writeFileSync(b, bytes);
      return;
    }
    case "truncate": {
      const path = at(SECRET_FILES[change.file]!);
      if (present(path)) writeFileSync(path, readFileSync(path).subarray(0, change.keep));
      return;
    }
    case "flip": {
      const path = at(SECRET_FILES[change.file]!);
      if (!present(path)) return;
      const bytes = readFileSync(path);
      if (bytes.length === 0) return;
      bytes[change.at % bytes.length]! ^= 1 << change.bit;
      writeFileSync(path, bytes);
      return;
    }
    case "delete": {
      const targets = [...SECRET_FILES, ...PUBLIC_FILES, ...GENERATED];
      rmSync(at(targets[change.target % targets.length]!), { force: true });
      return;
    }
    case "replace-pub": {
      const path = at(PUBLIC_FILES[change.machine]!);
      const key = ok("wg", ["genkey"]);
      writeFileSync(path, ok("wg", ["pubkey"], { input: key }));
      return;
    }
    case "symlink": {
      if (change.variant === "psk-dir") {
        const target = join(outside, "psk");
        if (!existsSync(join(keys, "preshared_keys")) || existsSync(target)) return;
        if (lstatSync(join(keys, "preshared_keys")).isSymbolicLink()) return;
        cpSync(join(keys, "preshared_keys"), target, { recursive: true });
        rmSync(join(keys, "preshared_keys"), { recursive: true });
        symlinkSync(target, join(keys, "preshared_keys"));
      } else if (change.variant === "age-file") {
        rmSync(at("c1.age"), { force: true });
        symlinkSync(join(outside, "canary"), at("c1.age"));
      } else if (change.variant === "manifest") {
        rmSync(at("manifest.json"), { force: true });
        symlinkSync(join(outside, "canary"), at("manifest.json"));
      } else {
        rmSync(join(repo, ".wgqt-journal.json"), { force: true });
        symlinkSync(join(outside, "canary"), join(repo, ".wgqt-journal.json"));
      }
      return;
    }
    case "journal": {
      const path = join(repo, ".wgqt-journal.json");
      const mark = Buffer.from(`#!/bin/sh\ntouch ${join(outside, "hook-ran")}\n`);
      if (change.variant === "garbage") writeFileSync(path, Buffer.from([0x7b, 0x00, 0xff, 0x0a]));
      else if (change.variant === "hook")
        writeFileSync(
          path,
          journal("wgqt: keygen", [{ path: ".git/hooks/post-commit", mode: 0o755, data: mark }]),
        );
      else if (change.variant === "outside")
        writeFileSync(
          path,
          journal("wgqt: keygen", [{ path: "../outside/planted", mode: 0o644, data: mark }]),
        );
      else if (change.variant === "store-file")
        // A store file under its own name, with someone else's bytes.
        writeFileSync(
          path,
          journal("wgqt: keygen", [
            { path: "wireguard_keys/c2.age", mode: 0o644, data: readFileSync(at("c1.age")) },
          ]),
        );
      else
        writeFileSync(
          path,
          journal("wgqt: add machine", [
            {
              path: "wgqt.toml",
              mode: 0o644,
              data: Buffer.from(
                readFileSync(join(repo, "wgqt.toml"), "utf8").replace(
                  /admins = \[/,
                  `admins = [${JSON.stringify(ids.stranger!.recipient)}, `,
                ),
              ),
            },
          ]),
        );
      return;
    }
    case "edit-generated": {
      const path = at(GENERATED[change.file]!);
      if (!present(path)) return;
      const bytes = readFileSync(path);
      if (change.how === "flip" && bytes.length > 0) {
        bytes[(bytes.length * 7) >> 3]! ^= 0x04;
        writeFileSync(path, bytes);
      } else if (change.how === "append") {
        writeFileSync(path, Buffer.concat([bytes, Buffer.from("\n# edited\n")]));
      } else {
        // Make the manifest vouch for a swap: two entries exchange their hashes.
        try {
          const manifest = JSON.parse(readFileSync(at("manifest.json"), "utf8"));
          const [a, b] = ["c1.age", "c2.age"].map((file) => manifest.files[file]);
          if (a && b) [a.sha256, b.sha256] = [b.sha256, a.sha256];
          writeFileSync(at("manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
        } catch {
          // not JSON any more: nothing to swap
        }
      }
      return;
    }
  }
}

/** The writing commands, each as a user or a script runs it. */
const COMMANDS = [
  ["keygen"],
  ["rotate", "--machine", "c1", "--yes"],
  ["rotate", "--pair", "c2", "gw", "--yes"],
  ["rekey", "--identity", "@admin@"],
  ["rekey", "--check-all", "--identity", "@admin@", "--yes"],
  ["prune", "--yes"],
];

beforeAll(async () => {
  work = makeTempDir("wgqt-hostile-property-");
  const idDir = join(work, "ids");
  mkdirSync(idDir);
  for (const [name, kind] of Object.entries(MACHINES)) ids[name] = makeIdentity(idDir, name, kind);
  ids.admin = makeIdentity(idDir, "admin", "x25519");
  ids.stranger = makeIdentity(idDir, "stranger", "ssh-ed25519");
  for (const identity of Object.values(ids)) {
    const text = readFileSync(identity.identityFile, "utf8");
    identitySecrets.push(
      ...text
        .split("\n")
        .filter((line) => line.startsWith("AGE-SECRET-KEY-") || /^[A-Za-z0-9+/]{60,}$/.test(line)),
    );
  }
  template = join(work, "template");
  mkdirSync(template);
  git(template, "init", "-q", "-b", "main");
  const machines = Object.keys(MACHINES)
    .map(
      (name) =>
        `[machines.${name}]\nrecipients = [${JSON.stringify(ids[name]!.recipient)}]\n${name === "gw" ? 'endpoint = "gw.example.org"\n' : ""}`,
    )
    .join("\n");
  writeFileSync(
    join(template, "wgqt.toml"),
    `admins = [${JSON.stringify(ids.admin!.recipient)}]\n\n${machines}\n[proxies.p]\ngateway = "gw"\nclients = ["c1", "c2"]\n`,
  );
  git(template, "add", "wgqt.toml");
  git(template, "commit", "-q", "-m", "fleet");
  // An empty keys_dir is a new store (what `wgqt init` starts); keygen fills it.
  mkdirSync(join(template, "wireguard_keys"));
  const made = await wgqt(template, join(work, "home"), ["keygen"]);
  expect(made.status, made.printed).toBe(0);
  for (const file of SECRET_FILES) {
    const key = ageDecrypt(readFileSync(join(template, "wireguard_keys", file)), "admin");
    expect(key, file).toBeDefined();
    originals.set(key!, entitled(file));
  }
}, 120_000);

afterAll(() => removeDir(work));

describe("hostile repository contents", () => {
  it("never hand a secret to an identity wgqt.toml does not name, write outside the store, or print a secret", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(hostile, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        async (changes, commitChanges) => {
          const dir = join(work, `run-${run++}`);
          const repo = join(dir, "repo");
          const outside = join(dir, "outside");
          const home = join(dir, "home");
          mkdirSync(outside, { recursive: true });
          writeFileSync(join(outside, "canary"), "canary\n");
          cpSync(template, repo, { recursive: true });
          try {
            for (const change of changes) apply(repo, outside, change);
            // As a merged pull request would bring them (symlinks and journal included).
            if (commitChanges) {
              git(repo, "add", "-A", "-f", ".");
              spawnSync("git", ["-C", repo, "commit", "-q", "-m", "pull request"], {
                env: TEST_ENV,
              });
            }
            const outsideBefore = tree(outside);
            const hooksBefore = tree(join(repo, ".git", "hooks"));
            const repoBefore = tree(repo, wgqtMayWrite);
            /** Every key seen in the store so far: no output may hold one. */
            const seen = new Set(originals.keys());
            for (const command of COMMANDS) {
              const args = command.map((arg) =>
                arg === "@admin@" ? ids.admin!.identityFile : arg,
              );
              const { printed } = await wgqt(repo, home, args);
              const where = `${changes.map((change) => JSON.stringify(change)).join(" ")} commit=${commitChanges}; wgqt ${command.join(" ")}`;

              // The access matrix, by the age CLI.
              const keys = join(repo, "wireguard_keys");
              for (const file of SECRET_FILES) {
                const path = join(keys, file);
                // A symlink's target is outside the store: not a store file (and wgqt refuses it).
                if (!(lstatSync(path, { throwIfNoEntry: false })?.isFile() ?? false)) continue;
                if (!lstatSync(join(keys, "preshared_keys")).isDirectory()) continue;
                const bytes = readFileSync(path);
                for (const identity of IDENTITIES) {
                  const key = ageDecrypt(bytes, identity);
                  if (key === undefined) continue;
                  const allowed = new Set([
                    ...(originals.get(key) ?? entitled(file)),
                    ...namedAdmins(repo),
                  ]);
                  expect(
                    allowed.has(identity),
                    `${where}: ${identity} can read ${file}, holding a key meant for ${[...allowed].join(", ")}`,
                  ).toBe(true);
                  if (identity === "admin") seen.add(key);
                }
              }
              // Nothing written outside the store.
              expect(tree(outside), `${where}: outside the repository`).toEqual(outsideBefore);
              expect(tree(join(repo, ".git", "hooks")), `${where}: .git/hooks`).toEqual(
                hooksBefore,
              );
              expect(tree(repo, wgqtMayWrite), `${where}: the repository`).toEqual(repoBefore);
              // No secret in what it printed.
              for (const secret of [...seen, ...identitySecrets])
                expect(printed.includes(secret), `${where}: printed a secret`).toBe(false);
            }
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 12, seed: 20261206, endOnFailure: true },
    );
  }, 240_000);
});
