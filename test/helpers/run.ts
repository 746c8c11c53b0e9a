/**
 * Running wgqt from tests: in this process through `main(argv, io)` (most
 * tests: no process start, no bundle), or the built bin/wgqt as a user runs
 * it (what only a real process shows: the bundle loads, exit codes, signals,
 * terminals, locks across processes). And the reference tools.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { CliIO } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";

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

/**
 * Run wgqt in this process, as on a pipe (no terminal, no colour, no progress
 * line): its stdout and stderr are captured, `cwd` and `env` are handed to
 * the command through CliIO (never chdir: test files share their process).
 */
export async function runInProcess(
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; now?: () => Date; color?: boolean },
): Promise<Result> {
  let stdout = "";
  let stderr = "";
  const io: CliIO = {
    cwd: options.cwd,
    env: options.env ?? TEST_ENV,
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    interactive: false,
    color: options.color ?? false,
    now: options.now ?? (() => new Date()),
    progress: false,
  };
  const status = await main(args, io);
  return { status, stdout, stderr };
}

/** `wgqt ARGS` in `cwd`, in this process (see runInProcess). */
export function cli(cwd: string, ...args: string[]): Promise<Result> {
  return runInProcess(args, { cwd });
}

/** Run the built bin/wgqt on a pipe (stdin is not a terminal), as scripts and CI do. */
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
