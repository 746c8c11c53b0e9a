/**
 * Throwaway fleets for tests: a temp git repository with real host identities
 * made by the reference tools (`age-keygen`, `ssh-keygen`).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ok } from "./run.js";

export type IdentityKind = "x25519" | "ssh-ed25519" | "ssh-rsa";

export interface TestIdentity {
  name: string;
  kind: IdentityKind;
  /** Private key file, usable with `age -d -i`. */
  identityFile: string;
  /** The recipient line as a user pastes it into wgqt.toml. */
  recipient: string;
  /** A file holding the recipient (an SSH `.pub`, or the age1 line). */
  recipientFile: string;
}

export function makeTempDir(prefix = "wgqt-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Make an identity of `kind` in `dir` with the reference tools. */
export function makeIdentity(dir: string, name: string, kind: IdentityKind): TestIdentity {
  const identityFile = join(dir, `${name}.key`);
  if (kind === "x25519") {
    ok("age-keygen", ["-o", identityFile]);
    const recipient = ok("age-keygen", ["-y", identityFile]).trim();
    const recipientFile = join(dir, `${name}.recipient`);
    writeFileSync(recipientFile, `${recipient}\n`);
    return { name, kind, identityFile, recipient, recipientFile };
  }
  const type = kind === "ssh-ed25519" ? ["-t", "ed25519"] : ["-t", "rsa", "-b", "2048"];
  ok("ssh-keygen", [...type, "-N", "", "-q", "-C", `root@${name}`, "-f", identityFile]);
  const recipientFile = `${identityFile}.pub`;
  const recipient = readFileSync(recipientFile, "utf8").trim();
  return { name, kind, identityFile, recipient, recipientFile };
}

/** A temp directory that is a fresh git repository with one empty commit. */
export function makeRepo(): string {
  const dir = makeTempDir("wgqt-repo-");
  ok("git", ["init", "-q", "-b", "main", dir]);
  ok("git", ["-C", dir, "commit", "-q", "--allow-empty", "-m", "start"], {
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "T",
      GIT_AUTHOR_EMAIL: "t@e",
      GIT_COMMITTER_NAME: "T",
      GIT_COMMITTER_EMAIL: "t@e",
    },
  });
  return dir;
}

export function gitLog(dir: string): string[] {
  return ok("git", ["-C", dir, "log", "--format=%s"]).trim().split("\n");
}

/** Files changed by the last commit. */
export function lastCommitFiles(dir: string): string[] {
  return ok("git", ["-C", dir, "show", "--name-only", "--format=", "HEAD"])
    .trim()
    .split("\n")
    .filter(Boolean)
    .sort();
}

/**
 * The smallest fleet with a network: gateway tavern (with an endpoint) and its
 * client spark in proxy germany, each with an X25519 identity made in `idDir`,
 * written to `repo`'s wgqt.toml beside an empty store. Returns the identities.
 */
export function writeGatewayAndClient(repo: string, idDir: string): Record<string, TestIdentity> {
  const tavern = makeIdentity(idDir, "tavern", "x25519");
  const spark = makeIdentity(idDir, "spark", "x25519");
  writeFileSync(
    join(repo, "wgqt.toml"),
    [
      `[machines.tavern]`,
      `recipients = ["${tavern.recipient}"]`,
      `endpoint = "tavern.example.org"`,
      ``,
      `[machines.spark]`,
      `recipients = ["${spark.recipient}"]`,
      ``,
      `[proxies.germany]`,
      `gateway = "tavern"`,
      `clients = ["spark"]`,
      ``,
    ].join("\n"),
  );
  mkdirSync(join(repo, "wireguard_keys"));
  return { tavern, spark };
}
