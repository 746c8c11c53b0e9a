import { isatty } from "node:tty";
import { handleSigint, Interrupts } from "./interrupt.js";

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
  /** True when stderr is a terminal: long commands draw a progress line there. */
  progress?: boolean;
  /** What to undo and say on Ctrl-C (the real process only; see interrupt.ts). */
  interrupts?: Interrupts;
}

/** The real process's IO. */
export function processIO(): CliIO {
  const env = process.env;
  // `wgqt plan | head`: a reader that goes away is not an error worth a trace.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
  const stderr = (text: string) => process.stderr.write(text);
  const interrupts = new Interrupts();
  handleSigint(interrupts, stderr);
  return {
    cwd: process.cwd(),
    env,
    stdout: (text) => process.stdout.write(text),
    stderr,
    // isatty(0) rather than process.stdin.isTTY, which would open a stdin stream
    // every command pays for and only the prompts use.
    interactive: isatty(0) && Boolean(process.stdout.isTTY),
    color: Boolean(process.stderr.isTTY) && env.NO_COLOR === undefined && env.TERM !== "dumb",
    now: () => new Date(),
    progress: Boolean(process.stderr.isTTY) && env.TERM !== "dumb",
    interrupts,
  };
}
