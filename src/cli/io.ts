import { fstatSync, writeSync } from "node:fs";
import { nodeTty } from "../lazy-node.js";
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
  const stdoutIsTerminal = isTerminal(1);
  const stderrIsTerminal = isTerminal(2);
  const stderr = stderrIsTerminal
    ? (text: string) => void process.stderr.write(text)
    : directWriter(
        2,
        () => process.stderr,
        () => {},
      );
  // `wgqt plan | head`: a reader that goes away is not an error worth a trace.
  const brokenPipe = () => process.exit(0);
  let stdout: (text: string) => void;
  if (stdoutIsTerminal) {
    process.stdout.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") brokenPipe();
      throw error;
    });
    stdout = (text) => void process.stdout.write(text);
  } else stdout = directWriter(1, () => process.stdout, brokenPipe);
  const interrupts = new Interrupts();
  handleSigint(interrupts, stderr);
  return {
    cwd: process.cwd(),
    env,
    stdout,
    stderr,
    // Not process.stdin.isTTY, which would open a stdin stream every command
    // pays for and only the prompts use.
    interactive: stdoutIsTerminal && isTerminal(0),
    color: stderrIsTerminal && env.NO_COLOR === undefined && env.TERM !== "dumb",
    now: () => new Date(),
    progress: stderrIsTerminal && env.TERM !== "dumb",
    interrupts,
  };
}

/**
 * isatty(3) of `fd`. A pipe or a file is never a terminal: fstat(2) says so
 * without loading node:tty, which brings Node's net and stream code with it
 * (lazy-node.ts).
 */
function isTerminal(fd: number): boolean {
  try {
    if (!fstatSync(fd).isCharacterDevice()) return false;
  } catch {
    return false;
  }
  return nodeTty().isatty(fd);
}

/**
 * Writing to fd 1 or 2 when it is a pipe or a file: write(2) from here.
 * process.stdout is a stream whose first use loads Node's net and stream
 * code (about 12M instructions, 1.5 ms, for `wgqt machine list | …`), and
 * on Linux its writes to pipes and files are synchronous anyway, as these
 * are. A terminal keeps the stream: prompts and the progress line use it.
 * A descriptor left non-blocking by whoever opened it (EAGAIN) is handed to
 * the stream, which waits for it.
 */
function directWriter(
  fd: 1 | 2,
  stream: () => NodeJS.WriteStream,
  onBrokenPipe: () => void,
): (text: string) => void {
  let useStream = false;
  return (text) => {
    if (useStream) {
      stream().write(text);
      return;
    }
    const bytes = Buffer.from(text, "utf8");
    let written = 0;
    try {
      while (written < bytes.length) written += writeSync(fd, bytes, written);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EPIPE") return onBrokenPipe();
      if (code !== "EAGAIN") throw error;
      useStream = true;
      stream().write(bytes.subarray(written));
    }
  };
}
