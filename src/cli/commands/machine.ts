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
import type { GlobalOptions } from "../main.js";
import { readRecipientFiles } from "./recipients.js";

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
  if (problem) throw new UsageError(`machine add: ${problem}`);
  const config = await loadConfig(io.cwd, global.config);
  if (config.machines[name])
    throw new ConfigError(`${config.path}: machines.${name}: already exists`);
  const recipients = [
    ...(options.recipient ?? []),
    ...(await readRecipientFiles(options.recipientFile ?? [], io.cwd, "--recipient-file")),
  ];
  if (recipients.length === 0 && options.publicKey === undefined) {
    throw new UsageError(
      "machine add: give the host's key with --recipient KEY or --recipient-file FILE",
    );
  }
  const text = appendMachine(await readFile(config.path, "utf8"), {
    name,
    recipients,
    ...pick(options),
  });
  const tx = new Transaction(config.dir, async (files, message) => {
    io.stderr(`added machine ${name}\nnext: wgqt keygen --machine ${name}\n`);
    await gitCommitStep(io, config, options.commit)(files, message);
  });
  await stageConfig(config, text, tx);
  await tx.commit(`wgqt: add machine ${name}`);
  return 0;
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
    throw new UsageError(`machine remove: unknown machine ${quote(name)}`);
  for (const proxy of sortedNames(config.proxies)) {
    const { gateway, clients } = config.proxies[proxy]!;
    if (gateway === name || clients.includes(name)) {
      throw new ConfigError(
        `${config.path}: proxies.${proxy}: uses ${quote(name)} as ${gateway === name ? "gateway" : "a client"}; remove it there first`,
      );
    }
  }
  for (const vpn of vpnsOf(config)) {
    if (vpn.machines.includes(name)) {
      throw new ConfigError(
        `${config.path}: vpns.${vpn.name}: ${quote(name)} uses this VPN; remove it from vpns.${vpn.name}.machines (or the table) first`,
      );
    }
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
  const text = removeMachine(await readFile(config.path, "utf8"), name, config.path);
  const after = parseConfig(text, config.path);
  const tx = new Transaction(config.dir, async (files, message) => {
    io.stderr(`removed machine ${name}${present.length ? ` (${present.join(", ")})` : ""}\n`);
    await gitCommitStep(io, config, options.commit)(files, message);
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
  return 0;
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
