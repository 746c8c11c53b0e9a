/**
 * Ctrl-C. A terminal sends SIGINT to the whole foreground process group: to
 * wgqt and to the git it may be running. Node's default is to die on the
 * spot, which leaves the fleet's lock behind and a progress line half drawn.
 * Instead wgqt runs what it registered (clear the progress line, drop its
 * lock), says how far it got, and exits 130 (128 + SIGINT, what a shell
 * reports for a process that SIGINT ended).
 *
 * Stopping at any instant is safe for the store itself: a change is first
 * written whole to a journal (store/transaction.ts), so stopping before
 * that leaves nothing written, and stopping after it leaves a change the
 * next command that writes finishes. `outcome` says which it was.
 *
 * A prompt is different: inquirer reads the terminal in raw mode, so Ctrl-C
 * there is a key press, not a signal; inquirer rejects the prompt with an
 * `ExitPromptError`, which main.ts turns into the same ending.
 */

/** The exit code of a command ended by Ctrl-C. */
export const INTERRUPTED_EXIT = 130;

/** What main.ts prints when a command is cancelled before it wrote anything. */
export const CANCELLED = "cancelled; nothing written";

export class Interrupts {
  readonly #cleanups = new Set<() => void>();
  readonly #outcomes = new Set<() => string | undefined>();

  /**
   * Run `cleanup` (synchronously: the process exits right after) if Ctrl-C
   * comes before the returned function is called.
   */
  onInterrupt(cleanup: () => void): () => void {
    this.#cleanups.add(cleanup);
    return () => this.#cleanups.delete(cleanup);
  }

  /**
   * Say what was done when Ctrl-C comes (undefined: nothing yet), until the
   * returned function is called. The last registered that has something to
   * say wins.
   */
  describeOutcome(outcome: () => string | undefined): () => void {
    this.#outcomes.add(outcome);
    return () => this.#outcomes.delete(outcome);
  }

  /** Run every cleanup, newest first, and return what to tell the user. */
  interrupt(): string {
    let said: string | undefined;
    for (const outcome of this.#outcomes) {
      try {
        said = outcome() ?? said;
      } catch {
        // Telling what happened must not stop the cleanup.
      }
    }
    for (const cleanup of [...this.#cleanups].reverse()) {
      try {
        cleanup();
      } catch {
        // Best effort: the next cleanup (the lock) still runs.
      }
    }
    this.#cleanups.clear();
    return said ?? CANCELLED;
  }
}

/** Whether `error` is inquirer's answer to Ctrl-C (or a closed terminal) at a prompt. */
export function isPromptExit(error: unknown): boolean {
  return error instanceof Error && error.name === "ExitPromptError";
}

/**
 * Handle SIGINT for the real process: run the cleanups, print the outcome on
 * stderr and exit 130. A second Ctrl-C while that runs exits at once.
 */
export function handleSigint(interrupts: Interrupts, stderr: (text: string) => void): void {
  let stopping = false;
  process.on("SIGINT", () => {
    if (stopping) process.exit(INTERRUPTED_EXIT);
    stopping = true;
    const outcome = interrupts.interrupt();
    // A progress line or a prompt may hold the cursor: start on a new line.
    stderr(`\n${outcome}\n`);
    process.exit(INTERRUPTED_EXIT);
  });
}
