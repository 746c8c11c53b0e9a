/**
 * Everything the CLI takes from the outside world, passed in so tests can run
 * commands in-process: no command reads `process` directly.
 */
export interface CliIO {
  /** Directory the command runs in (where `wgqt.toml` is searched from). */
  cwd: string;
  env: Record<string, string | undefined>;
  /** Data: what scripts read (`--json`, plans, rendered text). */
  stdout: (text: string) => void;
  /** Progress, logs, warnings and errors. */
  stderr: (text: string) => void;
  /** True when stdin and stdout are both a terminal: only then do we prompt. */
  interactive: boolean;
  /** True when stderr is a terminal and colour is allowed (NO_COLOR unset). */
  color: boolean;
  /** Injected clock: timestamps in the manifest. */
  now: () => Date;
}

/** The real process's IO. */
export function processIO(): CliIO {
  const env = process.env;
  // `wgqt plan | head`: a reader that goes away is not an error worth a trace.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
  return {
    cwd: process.cwd(),
    env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
    color: Boolean(process.stderr.isTTY) && env.NO_COLOR === undefined && env.TERM !== "dumb",
    now: () => new Date(),
  };
}
