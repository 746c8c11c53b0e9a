/** `wgqt machine add|remove` (`machine list` is machine-list.ts: it writes nothing, and loads less). */
import { readFile } from "node:fs/promises";
import { appendMachine, removeMachine } from "../../config/edit.js";
import { machineNameProblem } from "../../config/names.js";
import { ConfigError, UsageError } from "../../errors.js";
import { pendingRenumbering } from "../../store/accepted-plan.js";
import { loadConfig } from "../../store/config-file.js";
import { openKeyStore } from "../../store/keystore.js";
import {
  applyMachineAdd,
  applyMachineRemove,
  type MachinePlan,
  planMachineAdd,
  planMachineRemove,
} from "../../store/machines.js";
import { confirm, gitCommitStep, openContext } from "../context.js";
import type { CliIO } from "../io.js";
import { requireKeysDir } from "../keys-dir.js";
import type { GlobalOptions } from "../options.js";
import { checkRecipientArguments, readRecipientFiles } from "./recipients.js";

interface AddOptions {
  recipient?: string[];
  recipientFile?: string[];
  endpoint?: string;
  publicKey?: string;
  uplink?: string;
  commit: boolean;
}

export async function machineAddCommand(
  io: CliIO,
  global: GlobalOptions,
  name: string,
  options: AddOptions,
): Promise<number> {
  const problem = machineNameProblem(name);
  if (problem) throw new UsageError("usage/bad-value", `machine add: ${problem}`);
  const config = await loadConfig(io.cwd, global.config);
  await requireKeysDir(config);
  const recipients = [
    ...checkRecipientArguments(options.recipient ?? [], "--recipient"),
    ...(await readRecipientFiles(options.recipientFile ?? [], io.cwd, "--recipient-file")),
  ];
  if (recipients.length === 0 && options.publicKey === undefined) {
    throw new UsageError(
      "usage/missing",
      "machine add: give the host's key with --recipient KEY or --recipient-file FILE",
    );
  }
  const machine = { name, recipients, ...pick(options) };
  let plan: MachinePlan;
  try {
    plan = planMachineAdd(config, await readFile(config.path, "utf8"), machine);
  } catch (error) {
    throw blameFlag(error, config.path, name);
  }
  await applyMachineAdd(config, await openKeyStore(config.keysDir), plan, {
    afterApply: async (files, message) => {
      io.stderr(`added machine ${name}\nnext: wgqt keygen --machine ${name}\n`);
      const edit = (before: string) => appendMachine(before, machine);
      await gitCommitStep(io, config, options.commit, edit)(files, message);
    },
  });
  return 0;
}

/** The flag each setting of the new machine's table came from. */
const FLAG_OF: Record<string, string> = {
  endpoint: "--endpoint",
  public_key: "--public-key",
  uplink: "--uplink",
};

/**
 * An error about a setting of the machine being added is about the flag
 * that gave it, not about wgqt.toml, which does not hold it yet.
 */
function blameFlag(error: unknown, path: string, name: string): unknown {
  if (!(error instanceof ConfigError)) return error;
  const prefix = `${path}: machines.${name}.`;
  if (!error.message.startsWith(prefix)) return error;
  const rest = error.message.slice(prefix.length);
  const field = /^[a-z_]+/.exec(rest)?.[0] ?? "";
  const flag = FLAG_OF[field];
  if (flag === undefined) return error;
  return new ConfigError(error.code, `${flag}${rest.slice(field.length)}`);
}

function pick(options: AddOptions): { endpoint?: string; publicKey?: string; uplink?: string } {
  const out: { endpoint?: string; publicKey?: string; uplink?: string } = {};
  if (options.endpoint !== undefined) out.endpoint = options.endpoint;
  if (options.publicKey !== undefined) out.publicKey = options.publicKey;
  if (options.uplink !== undefined) out.uplink = options.uplink;
  return out;
}

export async function machineRemoveCommand(
  io: CliIO,
  global: GlobalOptions,
  name: string,
  options: { yes?: boolean; commit: boolean },
): Promise<number> {
  const context = await openContext(io, global);
  const { config, store } = context;
  const plan = planMachineRemove(config, store, await readFile(config.path, "utf8"), name);
  const present = plan.files;
  if (
    !(await confirm(
      io,
      `Remove machine ${name}${present.length ? ` and ${present.length} key files` : ""}?`,
      options.yes,
    ))
  ) {
    io.stderr("cancelled; nothing changed\n");
    return 1;
  }
  await applyMachineRemove(config, store, plan, {
    afterApply: async (files, message) => {
      io.stderr(`removed machine ${name}${present.length ? ` (${present.join(", ")})` : ""}\n`);
      const edit = (before: string) => removeMachine(before, name, config.path);
      await gitCommitStep(io, config, options.commit, edit)(files, message);
    },
  });
  const { [name]: _removed, ...publicKeys } = store.publicKeys();
  const renumbering = pendingRenumbering(plan.config, publicKeys);
  if (renumbering !== undefined) io.stderr(`${renumbering}\n`);
  return 0;
}
