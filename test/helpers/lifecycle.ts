/**
 * Fleets for the key lifecycle tests (rotate, rekey, status, verify, prune):
 * a temp git repository with a keyed store, host and admin identities made by
 * the reference tools, and edits to wgqt.toml committed as a user would.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import {
  type IdentityKind,
  makeIdentity,
  makeRepo,
  makeTempDir,
  removeDir,
  type TestIdentity,
} from "./fleet.js";
import { ageDecrypt, cli, ok, type Result, TEST_ENV, wgqt } from "./run.js";

export interface Proxy {
  gateway: string;
  clients: string[];
}

/** The seed's machines, every recipient kind, two proxies and two admins. */
export const SEED_FLEET = {
  /** machine -> the kind of its host key */
  machines: {
    archive: "ssh-ed25519",
    lighthouse: "x25519",
    nyaa: "ssh-rsa",
    spark: "x25519",
    tavern: "ssh-ed25519",
  } as Record<string, IdentityKind>,
  admins: { admin: "x25519", ops: "ssh-ed25519" } as Record<string, IdentityKind>,
  proxies: {
    germany: { gateway: "tavern", clients: ["nyaa", "spark", "archive"] },
    finland: { gateway: "lighthouse", clients: ["nyaa"] },
  } as Record<string, Proxy>,
};

export class Fleet {
  readonly repo = makeRepo();
  readonly keys = join(this.repo, "wireguard_keys");
  readonly idDir = makeTempDir("wgqt-ids-");
  readonly ids: Record<string, TestIdentity> = {};
  /** machine -> name of the identity whose recipient wgqt.toml lists for it */
  hostKeys: Record<string, string> = {};
  admins: string[] = [];
  proxies: Record<string, Proxy> = {};

  /** Make the identities, write and commit wgqt.toml, run `wgqt keygen`. */
  static async create(spec = SEED_FLEET): Promise<Fleet> {
    const fleet = new Fleet();
    for (const [name, kind] of [...Object.entries(spec.machines), ...Object.entries(spec.admins)])
      fleet.identity(name, kind);
    fleet.identity("stranger", "ssh-ed25519");
    fleet.hostKeys = Object.fromEntries(Object.keys(spec.machines).map((name) => [name, name]));
    fleet.admins = Object.keys(spec.admins);
    fleet.proxies = structuredClone(spec.proxies);
    fleet.writeConfig("fleet");
    // An empty keys_dir is a new store (what `wgqt init` starts); keygen fills it.
    mkdirSync(fleet.keys);
    const result = await fleet.wgqt("keygen");
    expect(result.status, result.stderr).toBe(0);
    return fleet;
  }

  /** Make one more identity with the reference tools. */
  identity(name: string, kind: IdentityKind): TestIdentity {
    const identity = makeIdentity(this.idDir, name, kind);
    this.ids[name] = identity;
    return identity;
  }

  /** The recipient as wgqt.toml and the manifest store it: `age1…` or `<type> <base64>`, no comment. */
  recipient(identity: string): string {
    return this.ids[identity]!.recipient.split(" ").slice(0, 2).join(" ");
  }

  /** Write wgqt.toml from the current state and commit it, as a user editing it would. */
  writeConfig(message: string): void {
    const lines = [
      `admins = [${this.admins.map((name) => JSON.stringify(this.ids[name]!.recipient)).join(", ")}]`,
      "",
    ];
    for (const [machine, identity] of Object.entries(this.hostKeys)) {
      lines.push(
        `[machines.${machine}]`,
        `recipients = [${JSON.stringify(this.ids[identity]!.recipient)}]`,
      );
      if (Object.values(this.proxies).some((proxy) => proxy.gateway === machine))
        lines.push(`endpoint = "${machine}.example.org"`);
      lines.push("");
    }
    for (const [name, proxy] of Object.entries(this.proxies)) {
      lines.push(
        `[proxies.${name}]`,
        `gateway = "${proxy.gateway}"`,
        `clients = ${JSON.stringify(proxy.clients)}`,
        "",
      );
    }
    writeFileSync(join(this.repo, "wgqt.toml"), lines.join("\n"));
    ok("git", ["-C", this.repo, "add", "wgqt.toml"], { env: TEST_ENV });
    ok("git", ["-C", this.repo, "commit", "-q", "-m", message, "--", "wgqt.toml"], {
      env: TEST_ENV,
    });
  }

  /** `wgqt ARGS` in the fleet's repository, in this process. */
  wgqt(...args: string[]): Promise<Result> {
    return cli(this.repo, ...args);
  }

  /** `wgqt ARGS` run by bin/wgqt: the bundle, with its key-making worker threads. */
  spawnWgqt(...args: string[]): Result {
    return wgqt(this.repo, ...args);
  }

  head(): string {
    return ok("git", ["-C", this.repo, "rev-parse", "HEAD"]).trim();
  }

  /** Store-relative paths of every `.age` file, in byte order. */
  encryptedFiles(): string[] {
    return Object.keys(snapshot(this.keys))
      .filter((file) => file.endsWith(".age"))
      .sort();
  }

  /** What `age -d -i <identity>` makes of a store file: plaintext, or undefined when age refuses. */
  decrypt(identity: string, file: string): Buffer | undefined {
    return ageDecrypt(this.ids[identity]!.identityFile, join(this.keys, file));
  }

  /** The store files `identity` can decrypt, by the reference age CLI. */
  decryptable(identity: string): string[] {
    return this.encryptedFiles().filter((file) => this.decrypt(identity, file) !== undefined);
  }

  manifest(): {
    files: Record<
      string,
      { recipients: string[]; created: string; sha256: string; public_key?: string }
    >;
  } {
    return JSON.parse(readFileSync(join(this.keys, "manifest.json"), "utf8"));
  }

  cleanup(): void {
    removeDir(this.repo);
    removeDir(this.idDir);
  }
}

/** Every file under `dir` by '/'-separated relative path, with its bytes. */
export function snapshot(dir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[
      path
        .slice(dir.length + 1)
        .split("\\")
        .join("/")
    ] = readFileSync(path);
  }
  return out;
}

/** Paths added, removed or changed between two snapshots, sorted. */
export function changedFiles(
  before: Record<string, Buffer>,
  after: Record<string, Buffer>,
): string[] {
  const paths = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...paths]
    .filter((path) => !before[path] || !after[path] || !before[path].equals(after[path]))
    .sort();
}

/** The files `git diff --stat HEAD~1 HEAD` lists: what the last commit changed, repository-relative. */
export function lastCommitDiffStat(repo: string): string[] {
  const stat = ok("git", ["-C", repo, "diff", "--stat=1000", "HEAD~1", "HEAD"]).trim().split("\n");
  // Every line but the "N files changed" summary is " path | count".
  return stat
    .slice(0, -1)
    .map((line) => line.split("|")[0]!.trim())
    .sort();
}
