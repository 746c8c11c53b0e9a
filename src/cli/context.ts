/**
 * What commands share: loading the config and the store, logging to stderr
 * with colour only when allowed, confirmation prompts only on a terminal, and
 * the git commit at the end of a mutating command.
 */
import { Chalk, type ChalkInstance } from "chalk";
import { loadConfig } from "../config/load.js";
import type { Config } from "../config/types.js";
import { UsageError } from "../errors.js";
import { type KeyStore, openKeyStore } from "../store/keystore.js";
import type { AfterApply } from "../store/transaction.js";
import type { CliIO } from "./io.js";
import type { GlobalOptions } from "./main.js";

export interface Context {
  io: CliIO;
  color: ChalkInstance;
  config: Config;
  store: KeyStore;
  log: (line: string) => void;
}

export function colorFor(io: CliIO): ChalkInstance {
  return new Chalk({ level: io.color ? 1 : 0 });
}

export async function openContext(io: CliIO, global: GlobalOptions): Promise<Context> {
  const config = await loadConfig(io.cwd, global.config);
  const store = await openKeyStore(config.keysDir);
  return { io, color: colorFor(io), config, store, log: (line) => io.stderr(`${line}\n`) };
}

/**
 * Ask a yes/no question on a terminal. Off a terminal there is no one to ask:
 * the caller must have passed `--yes` (or the command has nothing to confirm).
 */
export async function confirm(
  io: CliIO,
  message: string,
  yes: boolean | undefined,
): Promise<boolean> {
  if (yes) return true;
  if (!io.interactive) {
    const question = message.replace(/\?$/, "");
    throw new UsageError(
      `${question.charAt(0).toLowerCase()}${question.slice(1)}: pass --yes to confirm (no terminal to ask on)`,
    );
  }
  const { default: inquirer } = await import("inquirer");
  const answer = await inquirer.prompt<{ ok: boolean }>([
    { type: "confirm", name: "ok", message, default: true },
  ]);
  return answer.ok;
}

/**
 * The git commit as a transaction's last step (see store/transaction.ts):
 * it runs after the files are written and before the journal is removed, so
 * a run killed before committing is committed by the next one.
 */
export function gitCommitStep(io: CliIO, config: Config, commit: boolean): AfterApply {
  return (files, message) => commitChanges(io, config, files, message, commit);
}

/** Commit the changed files unless `--no-commit`; report the outcome on stderr. */
export async function commitChanges(
  io: CliIO,
  config: Config,
  files: string[],
  message: string,
  commit: boolean,
): Promise<void> {
  const color = colorFor(io);
  if (files.length === 0) return;
  if (!commit) {
    io.stderr(`${color.dim("not committed (--no-commit)")}\n`);
    return;
  }
  // Loaded only to commit: git's library is not needed with --no-commit.
  const { commitFiles } = await import("../git/commit.js");
  const result = await commitFiles(config.dir, files, message, io.env);
  if (result.committed) io.stderr(`${color.green("committed")} ${result.hash}: ${message}\n`);
  else if (result.reason !== "nothing changed")
    io.stderr(`${color.dim(`not committed: ${result.reason}`)}\n`);
}
