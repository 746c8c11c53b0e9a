/**
 * `wgqt machine add|remove`: a new wgqt.toml text, checked, and the store's
 * files that follow from it, as a plan and its apply (see apply.ts).
 */
import { appendMachine, type NewMachine, removeMachine } from "../config/edit.js";
import { parseConfig } from "../config/load.js";
import { pairsOf } from "../config/peers.js";
import { type Config, meshesOf, sortedNames, vpnsOf } from "../config/types.js";
import { ConfigError, quote, UsageError } from "../errors.js";
import {
  beginChange,
  type Change,
  type ChangeOptions,
  finishChange,
  stageRemoval,
} from "./apply.js";
import type { KeyStore } from "./keystore.js";
import { parseKeyFileName, presharedKeyFile, privateKeyFile, publicKeyFile } from "./layout.js";
import { PUBLIC_MODE } from "./write.js";

/** A machine added or removed: wgqt.toml's new text and the config it parses to. */
export interface MachinePlan {
  name: string;
  configText: string;
  config: Config;
}

/** A machine removed, with its key files that are in the store (store-relative, sorted). */
export interface MachineRemovePlan extends MachinePlan {
  files: string[];
}

/** A change that starts with wgqt.toml's new text. */
function beginEdit(
  config: Config,
  store: KeyStore,
  plan: MachinePlan,
  options: ChangeOptions,
): Change {
  const change = beginChange(config, store, options.afterApply);
  change.tx.write(config.path, plan.configText, PUBLIC_MODE);
  return change;
}

/** Add `machine` to wgqt.toml's `text`; the result is validated as a whole. Pure. */
export function planMachineAdd(config: Config, text: string, machine: NewMachine): MachinePlan {
  if (config.machines[machine.name])
    throw new ConfigError(
      "config/exists",
      `${config.path}: machines.${machine.name}: already exists`,
    );
  const configText = appendMachine(text, machine);
  return { name: machine.name, configText, config: parseConfig(configText, config.path) };
}

/** Write wgqt.toml and the generated files. Returns the absolute paths changed. */
export function applyMachineAdd(
  config: Config,
  store: KeyStore,
  plan: MachinePlan,
  options: ChangeOptions = {},
): Promise<string[]> {
  const change = beginEdit(config, store, plan, options);
  return finishChange(plan.config, change, options.message ?? `wgqt: add machine ${plan.name}`);
}

/**
 * Remove `name` from wgqt.toml's `text`, with its keypair and every PSK file
 * naming it. Refuses a machine a proxy or VPN still uses, naming every one.
 */
export function planMachineRemove(
  config: Config,
  store: KeyStore,
  text: string,
  name: string,
): MachineRemovePlan {
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
    const parsed = parseKeyFileName(file);
    if (parsed?.kind === "preshared-key" && parsed.machines.includes(name)) files.push(file);
  }
  for (const peers of pairsOf(config, name)) files.push(presharedKeyFile(...peers));
  const present = [...new Set(files)]
    .filter((file) => store.encryptedFiles.has(file) || store.publicKeyFiles.has(file))
    .sort();
  const configText = removeMachine(text, name, config.path);
  return { name, configText, config: parseConfig(configText, config.path), files: present };
}

/** Write wgqt.toml, delete the machine's key files, rewrite the generated files. */
export function applyMachineRemove(
  config: Config,
  store: KeyStore,
  plan: MachineRemovePlan,
  options: ChangeOptions = {},
): Promise<string[]> {
  const change = beginEdit(config, store, plan, options);
  for (const file of plan.files) stageRemoval(change, file);
  return finishChange(plan.config, change, options.message ?? `wgqt: remove machine ${plan.name}`);
}

/** The proxies, meshes and VPNs in wgqt.toml that name `name`, in that order, each in byte order. */
function usersOf(config: Config, name: string): { table: string; role: string; vpn: boolean }[] {
  const users: { table: string; role: string; vpn: boolean }[] = [];
  for (const proxy of sortedNames(config.proxies)) {
    const { gateway, clients } = config.proxies[proxy]!;
    if (gateway === name) users.push({ table: `proxies.${proxy}`, role: "gateway", vpn: false });
    else if (clients.includes(name))
      users.push({ table: `proxies.${proxy}`, role: "a client", vpn: false });
  }
  for (const mesh of meshesOf(config)) {
    if (mesh.members.includes(name))
      users.push({ table: `meshes.${mesh.name}`, role: "a member", vpn: false });
  }
  for (const vpn of vpnsOf(config)) {
    if (vpn.machines.includes(name))
      users.push({ table: `vpns.${vpn.name}`, role: "one of its machines", vpn: true });
  }
  return users;
}
