/**
 * What commands share: loading the config and the store, logging to stderr
 * with colour only when allowed, confirmation prompts only on a terminal, and
 * the git commit at the end of a mutating command.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config/types.js";
import { UsageError } from "../errors.js";
import { loadConfig } from "../store/config-file.js";
import { type KeyStore, openKeyStore } from "../store/keystore.js";
import type { AfterApply } from "../store/transaction.js";
import { JOURNAL_FILE } from "../store/transaction-journal.js";
import { CANCELLED } from "./interrupt.js";
import type { CliIO } from "./io.js";
import { requireKeysDir } from "./keys-dir.js";
import type { GlobalOptions } from "./options.js";

export interface Context {
  io: CliIO;
  color: Color;
  config: Config;
  store: KeyStore;
  log: (line: string) => void;
}

/** The styles commands print with. */
export type Color = Record<"bold" | "dim" | "green" | "red" | "yellow", (text: string) => string>;

const unchanged = (text: string) => text;
const PLAIN: Color = {
  bold: unchanged,
  dim: unchanged,
  green: unchanged,
  red: unchanged,
  yellow: unchanged,
};

/**
 * chalk's styles when colour is allowed (`io.color`), else styles that
 * return their text unchanged, as chalk's do at level 0: a command whose
 * output goes to a pipe or a file does not load chalk, nor the terminal
 * modules chalk's colour detection takes.
 */
export async function colorFor(io: CliIO): Promise<Color> {
  if (!io.color) return PLAIN;
  const { Chalk } = await import("chalk");
  return new Chalk({ level: 1 });
}

export async function openContext(io: CliIO, global: GlobalOptions): Promise<Context> {
  const config = await loadConfig(io.cwd, global.config);
  await requireKeysDir(config);
  const store = await openKeyStore(config.keysDir);
  const color = await colorFor(io);
  return { io, color, config, store, log: (line) => io.stderr(`${line}\n`) };
}

/**
 * Ask a yes/no question on a terminal. Off a terminal there is no one to ask:
 * the caller must have passed `--yes` (or the command has nothing to confirm).
 * Enter answers No unless `options.default` says Yes: only for changes that
 * break no deployed tunnel and delete no key (creating keys, re-encrypting),
 * so a stray Enter never rotates, removes or renumbers anything.
 */
export async function confirm(
  io: CliIO,
  message: string,
  yes: boolean | undefined,
  options: { default?: boolean } = {},
): Promise<boolean> {
  if (yes) return true;
  if (!io.interactive) {
    const question = message.replace(/\?$/, "");
    throw new UsageError(
      "usage/needs-confirmation",
      `${question.charAt(0).toLowerCase()}${question.slice(1)}: pass --yes to confirm (no terminal to ask on)`,
    );
  }
  const { default: inquirer } = await import("inquirer");
  const answer = await inquirer.prompt<{ ok: boolean }>([
    { type: "confirm", name: "ok", message, default: options.default ?? false },
  ]);
  return answer.ok;
}

/**
 * Ask before a change that breaks no deployed tunnel and deletes no key
 * (creating keys, re-encrypting), and only on a terminal: Enter answers Yes,
 * and off a terminal the work goes ahead (docs/design.md "Prompts and
 * scripts"). False when the answer is No, once that is said on stderr.
 */
export async function goAhead(
  io: CliIO,
  question: string,
  yes: boolean | undefined,
): Promise<boolean> {
  if (!io.interactive || (await confirm(io, question, yes, { default: true }))) return true;
  io.stderr(`${CANCELLED}\n`);
  return false;
}

/**
 * The git commit as a transaction's last step (see store/transaction.ts):
 * it runs after the files are written and before the journal is removed, so
 * a run killed before committing is committed by the next one.
 */
export function gitCommitStep(
  io: CliIO,
  config: Config,
  commit: boolean,
  configEdit?: (text: string) => string,
): AfterApply {
  return (files, message) => commitChanges(io, config, files, message, commit, configEdit);
}

/**
 * Commit the changed files unless `--no-commit`; report the outcome on
 * stderr. wgqt.toml goes in when the store depends on its uncommitted edits
 * (config-commit.ts); `configEdit` is the command's own edit of it, if any.
 */
export async function commitChanges(
  io: CliIO,
  config: Config,
  files: string[],
  message: string,
  commit: boolean,
  configEdit?: (text: string) => string,
): Promise<void> {
  if (files.length === 0) return;
  const color = await colorFor(io);
  // The change is on disk from here: Ctrl-C now must not say "nothing written".
  const journal = join(config.dir, JOURNAL_FILE);
  io.interrupts?.describeOutcome(() =>
    existsSync(journal) ? undefined : `interrupted after the change was written: ${message}`,
  );
  if (!commit) {
    io.stderr(`${color.dim("not committed (--no-commit)")}\n`);
    return;
  }
  // Loaded only to commit: git's library is not needed with --no-commit.
  const { commitFiles } = await import("../git/commit.js");
  const { configForCommit } = await import("./config-commit.js");
  const decided = await configForCommit(config, files, configEdit);
  const full = decided.body === undefined ? message : `${message}\n\n${decided.body}`;
  const result = await commitFiles(config.dir, decided.files, full, io.env, decided.contents);
  if (result.committed) {
    io.stderr(`${color.green("committed")} ${result.hash}: ${message}\n`);
    if (decided.note !== undefined) io.stderr(`${decided.note}\n`);
  } else if (result.reason !== "nothing changed")
    io.stderr(`${color.dim(`not committed: ${result.reason}`)}\n`);
}
