/**
 * Test helpers: throwaway directories and the real tools (ssh-keygen,
 * age-keygen, age). Keys made here are test keys; writing them is fine.
 */

import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TempDir {
  path: string;
  remove(): Promise<void>;
}

export async function makeTempDir(): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), "wgqt-age-test-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export interface RunResult {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Run a tool, feeding `input` on stdin; never throws on a non-zero exit. */
export function run(command: string, args: string[], input?: Uint8Array | string): RunResult {
  const result = spawnSync(command, args, { input: input ?? "", maxBuffer: 1 << 26 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr.toString() };
}

/** Run a tool that must succeed; returns its stdout. */
export function runOk(command: string, args: string[], input?: Uint8Array | string): Buffer {
  const result = run(command, args, input);
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited ${result.status}: ${result.stderr}`);
  }
  return result.stdout;
}

export interface SshKeyFiles {
  privatePath: string;
  publicPath: string;
  privateText: string;
  publicText: string;
}

/** `ssh-keygen -q -N <passphrase> -f <dir>/<name> <extra…>`. */
export async function sshKeygen(
  dir: string,
  name: string,
  extra: string[],
  passphrase = "",
): Promise<SshKeyFiles> {
  const privatePath = join(dir, name);
  runOk("ssh-keygen", ["-q", "-N", passphrase, "-C", `${name}@test`, "-f", privatePath, ...extra]);
  return {
    privatePath,
    publicPath: `${privatePath}.pub`,
    privateText: await readFile(privatePath, "utf8"),
    publicText: await readFile(`${privatePath}.pub`, "utf8"),
  };
}

export interface AgeKeyFile {
  path: string;
  text: string;
  recipient: string;
}

/** `age-keygen -o <dir>/<name>`, and its recipient from `age-keygen -y`. */
export async function ageKeygen(dir: string, name: string): Promise<AgeKeyFile> {
  const path = join(dir, name);
  runOk("age-keygen", ["-o", path]);
  const recipient = runOk("age-keygen", ["-y", path]).toString().trim();
  return { path, text: await readFile(path, "utf8"), recipient };
}

/** `age -d -i <identity>` on `ciphertext`. */
export function ageDecrypt(identityPath: string, ciphertext: Uint8Array): RunResult {
  return run("age", ["-d", "-i", identityPath], ciphertext);
}

/** `age -e` with raw CLI recipient flags (`-r X`, `-R FILE`). */
export function ageEncrypt(flags: string[], plaintext: Uint8Array): Uint8Array {
  return new Uint8Array(runOk("age", ["-e", ...flags], plaintext));
}
