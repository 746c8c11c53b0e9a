/** Running real programs from tests: the wgqt CLI as a user runs it, and the reference tools. */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const WGQT = `${ROOT}bin/wgqt`;

export interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

/** Deterministic git identity and no colour for spawned commands. */
export const TEST_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: "Test",
  GIT_AUTHOR_EMAIL: "test@example.org",
  GIT_COMMITTER_NAME: "Test",
  GIT_COMMITTER_EMAIL: "test@example.org",
  NO_COLOR: "1",
};

export function run(
  command: string,
  args: string[],
  options: { cwd?: string; input?: string | Buffer; env?: NodeJS.ProcessEnv } = {},
): Result {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    input: options.input ?? "",
    env: options.env ?? TEST_ENV,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return {
    status: result.status ?? -1,
    stdout: result.stdout.toString("utf8"),
    stderr: result.stderr.toString("utf8"),
  };
}

/** Run wgqt on a pipe (stdin is not a terminal), as scripts and CI do. */
export function wgqt(cwd: string, ...args: string[]): Result {
  return run(process.execPath, [WGQT, ...args], { cwd });
}

/** Run and insist on success; the error shows what the program said. */
export function ok(
  command: string,
  args: string[],
  options: Parameters<typeof run>[2] = {},
): string {
  const result = run(command, args, options);
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} exited ${result.status}: ${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}

/** `age -d -i identity file`: the plaintext, or undefined when age refuses. */
export function ageDecrypt(identityFile: string, file: string): Buffer | undefined {
  const result = spawnSync("age", ["-d", "-i", identityFile, file], { encoding: "buffer" });
  return result.status === 0 ? result.stdout : undefined;
}
