/**
 * A progress line on stderr for long commands (keygen, rotate --all, rekey,
 * verify and status on a large store), drawn with ora only when stderr is a
 * terminal: scripts, CI logs and pipes get none of it. ora redraws the line
 * in place and hides the cursor meanwhile; the bar in its text is ours.
 *
 * Work below `PROGRESS_FROM` items is over before a bar would be read, and
 * is never shown one.
 */
import type { Ora } from "ora";
import type { CliIO } from "./io.js";
import { grouped } from "./numbers.js";

/** From how many items (files, keys) a command shows progress. */
export const PROGRESS_FROM = 256;

const BAR_WIDTH = 24;

export interface Progress {
  /** `done` more items of the current step are finished. */
  advance(done: number): void;
  /** Start the next step: `label` alone (a spinner), or with a bar out of `total`. */
  step(label: string, total?: number): void;
  /** Write `text` to stderr above the line. */
  log(text: string): void;
  /** Clear the line; nothing of it stays on the terminal. */
  stop(): void;
}

function none(io: CliIO): Progress {
  return { advance() {}, step() {}, log: (text) => io.stderr(text), stop() {} };
}

/** `▕██████░░░░░░▏ 1,200/3,800` */
export function bar(done: number, total: number): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(fraction * BAR_WIDTH);
  return `▕${"█".repeat(filled)}${"░".repeat(BAR_WIDTH - filled)}▏ ${grouped(Math.min(done, total))}/${grouped(total)}`;
}

/**
 * A progress line for `total` items of work labelled `label`, or one that
 * draws nothing (off a terminal, or too little work to show).
 */
export async function startProgress(io: CliIO, label: string, total: number): Promise<Progress> {
  if (!io.progress || total < PROGRESS_FROM) return none(io);
  // Loaded only here: a command that shows no progress never loads ora.
  const { default: ora } = await import("ora");
  let current = label;
  let done = 0;
  let of: number | undefined = total;
  const text = () => (of === undefined ? current : `${current} ${bar(done, of)}`);
  const spinner: Ora = ora({
    text: text(),
    stream: process.stderr,
    // Ctrl-C must stay a signal to the whole process group (interrupt.ts).
    discardStdin: false,
    isEnabled: true,
  }).start();
  let shown = 0;
  const forget = io.interrupts?.onInterrupt(() => spinner.stop());
  return {
    advance(count) {
      done += count;
      // Redraw at most about a hundred times, however many items there are.
      if (of !== undefined && (done - shown) * 100 < of && done < of) return;
      shown = done;
      spinner.text = text();
    },
    step(next, nextTotal) {
      current = next;
      done = 0;
      shown = 0;
      of = nextTotal;
      spinner.text = text();
    },
    log(line) {
      spinner.clear();
      io.stderr(line);
      spinner.render();
    },
    stop() {
      forget?.();
      spinner.stop();
    },
  };
}
