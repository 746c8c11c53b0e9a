/** `wgqt machine add|list|remove` */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { appendMachine, removeMachine } from "../../config/edit.js";
import { loadConfig, parseConfig } from "../../config/load.js";
import { machineNameProblem } from "../../config/names.js";
import { pairsOf } from "../../config/peers.js";
import { type Config, sortedNames, vpnsOf } from "../../config/types.js";
import { ConfigError, quote, UsageError } from "../../errors.js";
import { openKeyStore } from "../../store/keystore.js";
import { presharedKeyFile, privateKeyFile, publicKeyFile } from "../../store/layout.js";
import { copyManifest } from "../../store/manifest.js";
import { Transaction } from "../../store/transaction.js";
import { PUBLIC_MODE, writeGeneratedFiles } from "../../store/write.js";
import { confirm, gitCommitStep, openContext } from "../context.js";
import type { CliIO } from "../io.js";
import { requireKeysDir } from "../keys-dir.js";
import type { GlobalOptions } from "../main.js";
import { pendingRenumbering } from "./plan.js";
import { checkRecipientArguments, readRecipientFiles } from "./recipients.js";

interface AddOptions {
  recipient?: string[];
  recipientFile?: string[];
  endpoint?: string;
  publicKey?: string;
  uplink?: string;
  commit: boolean;
}

/** Re-validate edited config text and stage it with the generated store files it implies. */
async function stageConfig(before: Config, text: string, tx: Transaction): Promise<Config> {
  const after = parseConfig(text, before.path);
  const store = await openKeyStore(after.keysDir);
  tx.write(after.path, text, PUBLIC_MODE);
  writeGeneratedFiles(
    after,
    after.keysDir,
    store.manifest,
    store.publicKeys(),
    store.encryptedFiles,
    tx,
  );
  return after;
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
  if (config.machines[name])
    throw new ConfigError("config/exists", `${config.path}: machines.${name}: already exists`);
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
  const edit = (before: string) => appendMachine(before, { name, recipients, ...pick(options) });
  const text = edit(await readFile(config.path, "utf8"));
  const tx = new Transaction(config.dir, async (files, message) => {
    io.stderr(`added machine ${name}\nnext: wgqt keygen --machine ${name}\n`);
    await gitCommitStep(io, config, options.commit, edit)(files, message);
  });
  try {
    await stageConfig(config, text, tx);
  } catch (error) {
    throw blameFlag(error, config.path, name);
  }
  await tx.commit(`wgqt: add machine ${name}`);
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
  if (!config.machines[name])
    throw new UsageError("usage/unknown-name", `machine remove: unknown machine ${quote(name)}`);
  const users = usersOf(config, name);
  if (users.length === 1) {
    const [user] = users;
    throw new ConfigError(
      "config/in-use",
      user!.vpn
        ? `${config.path}: ${user!.table}: ${quote(name)} uses this VPN; remove it from ${user!.table}.machines (or the table) first`
        : `${config.path}: ${user!.table}: uses ${quote(name)} as ${user!.role}; remove it there first`,
    );
  }
  if (users.length > 1) {
    // Every table at once: fixing one and being told of the next is a loop.
    const list = users.map((user) => `${user.table} (${user.role})`);
    throw new ConfigError(
      "config/in-use",
      `${config.path}: ${quote(name)} is still used by ${list.slice(0, -1).join(", ")} and ${list.at(-1)}; remove it there first`,
    );
  }
  const files = [publicKeyFile(name), privateKeyFile(name)];
  // Pairs are gone with the proxies, so look for PSK files naming the machine.
  for (const file of store.encryptedFiles) {
    const match = /^preshared_keys\/([^+]+)\+([^+]+)\.age$/.exec(file);
    if (match && (match[1] === name || match[2] === name)) files.push(file);
  }
  for (const peers of pairsOf(config, name)) files.push(presharedKeyFile(...peers));
  const present = [...new Set(files)]
    .filter((file) => store.encryptedFiles.has(file) || store.publicKeyFiles.has(file))
    .sort();
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
  const edit = (before: string) => removeMachine(before, name, config.path);
  const text = edit(await readFile(config.path, "utf8"));
  const after = parseConfig(text, config.path);
  const tx = new Transaction(config.dir, async (files, message) => {
    io.stderr(`removed machine ${name}${present.length ? ` (${present.join(", ")})` : ""}\n`);
    await gitCommitStep(io, config, options.commit, edit)(files, message);
  });
  tx.write(config.path, text, PUBLIC_MODE);
  const manifest = copyManifest(store.manifest);
  const remainingFiles = new Set(store.encryptedFiles);
  const publicKeys = store.publicKeys();
  for (const file of present) {
    tx.remove(join(store.dir, file));
    delete manifest.files[file];
    remainingFiles.delete(file);
  }
  delete publicKeys[name];
  writeGeneratedFiles(after, store.dir, manifest, publicKeys, remainingFiles, tx);
  await tx.commit(`wgqt: remove machine ${name}`);
  const renumbering = pendingRenumbering(after, publicKeys);
  if (renumbering !== undefined) io.stderr(`${renumbering}\n`);
  return 0;
}

/** The proxies and VPNs in wgqt.toml that name `name`, proxies first, each in byte order. */
function usersOf(config: Config, name: string): { table: string; role: string; vpn: boolean }[] {
  const users: { table: string; role: string; vpn: boolean }[] = [];
  for (const proxy of sortedNames(config.proxies)) {
    const { gateway, clients } = config.proxies[proxy]!;
    if (gateway === name) users.push({ table: `proxies.${proxy}`, role: "gateway", vpn: false });
    else if (clients.includes(name))
      users.push({ table: `proxies.${proxy}`, role: "a client", vpn: false });
  }
  for (const vpn of vpnsOf(config)) {
    if (vpn.machines.includes(name))
      users.push({ table: `vpns.${vpn.name}`, role: "one of its machines", vpn: true });
  }
  return users;
}

export async function machineListCommand(
  io: CliIO,
  global: GlobalOptions,
  options: { json?: boolean },
): Promise<number> {
  const { config, store, color } = await openContext(io, global);
  const publicKeys = store.publicKeys();
  // Each machine's networks, from one pass over them (not one per machine).
  const networksOf = new Map<string, string[]>();
  const joins = (network: string, machines: Iterable<string>) => {
    for (const machine of new Set(machines)) {
      const list = networksOf.get(machine);
      if (list) list.push(network);
      else networksOf.set(machine, [network]);
    }
  };
  for (const name of sortedNames(config.proxies)) {
    const proxy = config.proxies[name]!;
    joins(name, [proxy.gateway, ...proxy.clients]);
  }
  for (const vpn of vpnsOf(config)) joins(vpn.name, vpn.machines);
  const rows = sortedNames(config.machines).map((name) => {
    const machine = config.machines[name]!;
    const networks = (networksOf.get(name) ?? []).sort();
    return {
      name,
      publicKey: publicKeys[name] ?? null,
      ownKey: machine.publicKey !== undefined,
      recipients: machine.recipients,
      endpoint: machine.endpoint ?? null,
      networks,
    };
  });
  if (options.json) {
    io.stdout(`${JSON.stringify({ machines: rows }, null, 2)}\n`);
    return 0;
  }
  const table = [["MACHINE", "PUBLIC KEY", "RECIPIENTS", "ENDPOINT", "NETWORKS"]];
  for (const row of rows) {
    table.push([
      row.name,
      row.publicKey ? `${row.publicKey.slice(0, 10)}…${row.ownKey ? " (own)" : ""}` : "(none yet)",
      row.recipients
        .map((recipient) => recipient.split(" ")[0]!.replace(/^(age1).*/, "$1"))
        .join(",") || "-",
      row.endpoint ?? "-",
      row.networks.join(",") || "-",
    ]);
  }
  const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  table.forEach((row, index) => {
    const line = row
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join("  ")
      .trimEnd();
    io.stdout(`${index === 0 ? color.bold(line) : line}\n`);
  });
  return 0;
}
