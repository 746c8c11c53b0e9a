/**
 * The CLI entry: argument parsing (commander) and the one place that turns
 * errors into messages and exit codes (0 ok, 1 failure, 2 usage). Commands
 * are imported lazily so `wgqt --help` loads neither age nor git.
 */
import { Command, CommanderError } from "commander";
import { UsageError, WgqtError } from "../errors.js";
import { cliMessage } from "./error-wording.js";
import { CANCELLED, INTERRUPTED_EXIT, isPromptExit } from "./interrupt.js";
import { type CliIO, processIO } from "./io.js";
import type { GlobalOptions } from "./options.js";

/** A command's action: commander's positional arguments and options follow `global`. */
type Action = (io: CliIO, global: GlobalOptions, ...args: never[]) => Promise<number | undefined>;

interface RunState {
  exitCode: number;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function buildProgram(io: CliIO, state: RunState = { exitCode: 0 }): Command {
  /** Wrap a lazily imported action: the module is loaded only when the command runs. */
  const lazy = (_io: CliIO, load: () => Promise<Action>, options: { mutates?: boolean } = {}) => {
    return async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const global = command.optsWithGlobals() as GlobalOptions;
      const action = await load();
      // Commands that change the fleet hold its lock for their whole run, and
      // first finish whatever an interrupted one committed to.
      const release = options.mutates ? await lockFleet(io, global) : undefined;
      try {
        if (release) await recoverInterrupted(io, global, command.opts().commit !== false);
        state.exitCode = (await action(io, global, ...(args.slice(0, -1) as never[]))) ?? 0;
      } finally {
        await release?.();
      }
    };
  };
  const program = new Command("wgqt")
    .description("WireGuard networks for a fleet of machines, from one git repository")
    .version("0.1.0")
    .option(
      "-c, --config <file>",
      "path to wgqt.toml (default: nearest in this directory or a parent)",
    )
    .showHelpAfterError("(run 'wgqt --help' for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout(text),
      writeErr: (text) => io.stderr(text),
      // One line per error: commander's "(Did you mean …?)" joins the message.
      outputError: (text) =>
        io.stderr(
          `${text
            .replace(/^error: /, "wgqt: ")
            .replace(/\n\(Did you mean (.*)\?\)/, " (did you mean $1?)")
            .trimEnd()}\n`,
        ),
    });

  program
    .command("init")
    .description("write a starter wgqt.toml and the key store directory")
    .option(
      "--admin <recipient>",
      "an admin recipient (age1… or ssh-ed25519 …), repeatable",
      collect,
    )
    .option("--admin-file <file>", "read admin recipients from a file, repeatable", collect)
    .option("--keys-dir <dir>", "key store directory, relative to wgqt.toml", "wireguard_keys")
    .option("--no-commit", "do not commit to git")
    .action(lazy(io, async () => (await import("./commands/init.js")).initCommand));

  const machine = program.command("machine").description("add, list and remove machines");
  machine
    .command("add <name>")
    .description("add a machine to wgqt.toml")
    .option(
      "-r, --recipient <key>",
      "the host's age recipient (age1…, ssh-ed25519 …, ssh-rsa …), repeatable",
      collect,
    )
    .option(
      "-R, --recipient-file <file>",
      "read recipients from a file (e.g. /etc/ssh/ssh_host_ed25519_key.pub), repeatable",
      collect,
    )
    .option("--endpoint <host>", "public host name or IP address (needed for a gateway)")
    .option("--public-key <key>", "bring your own WireGuard public key (no private key is stored)")
    .option("--uplink <interface>", "the gateway's uplink interface for NAT")
    .option("--no-commit", "do not commit to git")
    .action(
      lazy(io, async () => (await import("./commands/machine.js")).machineAddCommand, {
        mutates: true,
      }),
    );
  machine
    .command("list")
    .description("list machines, their keys and networks")
    .option("--json", "machine-readable output")
    .action(lazy(io, async () => (await import("./commands/machine-list.js")).machineListCommand));
  machine
    .command("remove <name>")
    .description("remove a machine from wgqt.toml, with its keys")
    .option("-y, --yes", "do not ask for confirmation")
    .option("--no-commit", "do not commit to git")
    .action(
      lazy(io, async () => (await import("./commands/machine.js")).machineRemoveCommand, {
        mutates: true,
      }),
    );

  program
    .command("keygen")
    .description("create missing keypairs and preshared keys (never overwrites a key)")
    .option("-m, --machine <name>", "only this machine and its peer pairs, repeatable", collect)
    .option("-y, --yes", "do not ask for confirmation")
    .option("-v, --verbose", "list every key, not one line per machine (long plans)")
    .option("--no-commit", "do not commit to git")
    .action(
      lazy(io, async () => (await import("./commands/keygen.js")).keygenCommand, { mutates: true }),
    );

  program
    .command("rotate")
    .description("new keys: a machine's keypair (and its PSKs), one pair's PSK, or everything")
    .option("-m, --machine <name>", "new keypair for this machine, repeatable", collect)
    .option("--pair <machines...>", "new preshared key for the pair A B")
    .option("--all", "every keypair and preshared key")
    .option("--keep-psks", "with --machine: keep the machine's preshared keys")
    .option(
      "--vpn <name>",
      "a VPN's key: explains why it cannot be (it is the provider's)",
      collect,
    )
    .option("-y, --yes", "do not ask for confirmation")
    .option("-v, --verbose", "list every key, not one line per machine (long plans)")
    .option("--no-commit", "do not commit to git")
    .action(
      lazy(io, async () => (await import("./commands/rotate.js")).rotateCommand, { mutates: true }),
    );

  const vpn = program
    .command("vpn")
    .description("external VPNs: a provider's keys and settings from its wg-quick file");
  vpn
    .command("import <name>")
    .description(
      "import a provider's wg-quick file as VPN <name> (its interface name) for a machine",
    )
    .requiredOption("--from <file>", "the provider's wg-quick file (delete it afterwards)")
    .requiredOption("-m, --machine <name>", "the machine the file was made for")
    .option("--id <n>", "the VPN's id, 1…99, unique; lowest = default route (default: lowest free)")
    .option("-y, --yes", "replace an existing VPN's key without asking")
    .option("--no-commit", "do not commit to git")
    .action(
      lazy(io, async () => (await import("./commands/vpn.js")).vpnImportCommand, {
        mutates: true,
      }),
    );

  program
    .command("rekey")
    .description("re-encrypt only the files whose recipients changed in wgqt.toml")
    .option(
      "-i, --identity <file>",
      "identity to decrypt with, repeatable (default: ~/.ssh/id_ed25519, then ~/.ssh/id_rsa)",
      collect,
    )
    .option(
      "--check-all",
      "check every file's header and checksum, not only those manifest.json says are stale (after a merge or edits outside wgqt)",
    )
    .option(
      "--accept <file>",
      "a key file you changed outside wgqt on purpose (e.g. agenix -e): re-encrypt and record it, repeatable",
      collect,
    )
    .option("-y, --yes", "do not ask for confirmation")
    .option("-v, --verbose", "list every file, not one line per machine (long plans)")
    .option("--no-commit", "do not commit to git")
    .action(
      lazy(io, async () => (await import("./commands/rekey.js")).rekeyCommand, { mutates: true }),
    );

  program
    .command("status")
    .description("who can decrypt what, and what is stale, missing or orphaned")
    .option("--json", "machine-readable output")
    .action(lazy(io, async () => (await import("./commands/status.js")).statusCommand));

  program
    .command("verify")
    .description("check the store against wgqt.toml; exit 1 on any problem (for CI)")
    .option(
      "-i, --identity <file>",
      "also decrypt with this identity to check keys, repeatable",
      collect,
    )
    .option("--json", "machine-readable output")
    .action(lazy(io, async () => (await import("./commands/verify.js")).verifyCommand));

  program
    .command("prune")
    .description("remove orphaned key files (machines or pairs no longer in wgqt.toml)")
    .option("-y, --yes", "do not ask for confirmation")
    .option("--no-commit", "do not commit to git")
    .action(
      lazy(io, async () => (await import("./commands/prune.js")).pruneCommand, { mutates: true }),
    );

  program
    .command("plan")
    .description("every network's block, id, port and each member's address")
    .option("--json", "machine-readable output")
    .option("--write", "write plan.json next to the store (shows renumbering first)")
    .option("-y, --yes", "accept renumbering without asking")
    .option("--no-commit", "do not commit to git")
    .action(lazy(io, async () => (await import("./commands/plan.js")).planCommand));

  program
    .command("render")
    .description("write WireGuard configuration for one host or all")
    .option("-m, --machine <name>", "only this machine, repeatable", collect)
    .option("-f, --format <format>", "nixos, wg-quick, networkd or json", "nixos")
    .option("-o, --out <dir>", "write files under this directory (default: print to stdout)")
    .option(
      "-i, --identity <file>",
      "wg-quick: decrypt and inline keys (export for phones), repeatable",
      collect,
    )
    .option("--mobile", "with --identity: a self-contained file for the WireGuard apps")
    .option("--interface <name>", "wg-quick: only this interface (one tunnel per phone QR code)")
    .action(lazy(io, async () => (await import("./commands/render.js")).renderCommand));

  return program;
}

/** Lock the fleet whose wgqt.toml this command will use (none yet: nothing to lock). */
async function lockFleet(
  io: CliIO,
  global: GlobalOptions,
): Promise<(() => Promise<void>) | undefined> {
  const { findConfig } = await import("../store/config-file.js");
  const { LOCK_FILE } = await import("../store/lock.js");
  const { holdLock } = await import("./lock-hold.js");
  const { dirname, resolve } = await import("node:path");
  const path = global.config ? resolve(io.cwd, global.config) : await findConfig(io.cwd);
  if (!path) return undefined;
  return holdLock(io, resolve(dirname(path), LOCK_FILE));
}

/**
 * Roll forward a change an interrupted command journaled (see
 * store/transaction-recovery.ts), clear temp files it left, and commit the result.
 */
async function recoverInterrupted(
  io: CliIO,
  global: GlobalOptions,
  commit: boolean,
): Promise<void> {
  const { findConfig, loadConfig } = await import("../store/config-file.js");
  const { recoverJournal } = await import("../store/transaction-recovery.js");
  const { dirname, resolve } = await import("node:path");
  const path = global.config ? resolve(io.cwd, global.config) : await findConfig(io.cwd);
  if (!path) return;
  // The store's files may be journaled (and its temp files cleared) only when the config still loads.
  const config = await loadConfig(io.cwd, global.config).catch(() => undefined);
  // git's library is loaded only when there is a journal to check.
  const isTracked = async (file: string) => (await import("../git/commit.js")).isTracked(file);
  const scope = { configFile: path, keysDir: config?.keysDir, isTracked };
  const { gitCommitStep } = await import("./context.js");
  await recoverJournal(dirname(path), scope, async (files, message) => {
    io.stderr(`finishing an interrupted run: ${message} (${files.length} files)\n`);
    if (config)
      await gitCommitStep(
        io,
        config,
        commit,
      )(files, `${message} (completed after an interruption)`);
  });
}

/** Run wgqt with `argv` (without node and script). Returns the exit code; never calls process.exit. */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const state: RunState = { exitCode: 0 };
  const program = buildProgram(io, state);
  try {
    await program.parseAsync(argv, { from: "user" });
    return state.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; everything else commander rejects (an
      // unknown option, a missing argument, a bare `wgqt machine`) is usage.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof WgqtError) {
      io.stderr(`wgqt: ${cliMessage(error)}\n`);
      return error instanceof UsageError ? 2 : error.exitCode;
    }
    // Ctrl-C at a prompt: every prompt comes before anything is written.
    if (isPromptExit(error)) {
      io.stderr(`${CANCELLED}\n`);
      return INTERRUPTED_EXIT;
    }
    io.stderr(
      `wgqt: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return 1;
  }
}
