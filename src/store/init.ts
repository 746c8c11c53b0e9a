/**
 * `wgqt init`: a starter wgqt.toml, the `.gitignore` lines a fleet needs,
 * and an empty, valid key store, as a plan and its apply (see apply.ts).
 */
import { access } from "node:fs/promises";
import { join } from "node:path";
import { tomlString } from "../config/edit.js";
import { parseConfig } from "../config/load.js";
import type { Config } from "../config/types.js";
import { ConfigError } from "../errors.js";
import { beginChange, type ChangeOptions, finishChange } from "./apply.js";
import { readStoreFile, TEMP_PREFIX } from "./files.js";
import type { KeyStore } from "./keystore.js";
import { LOCK_FILE } from "./lock.js";
import { emptyManifest } from "./manifest.js";
import { GITIGNORE_FILE, JOURNAL_FILE } from "./transaction-journal.js";
import { PUBLIC_MODE } from "./write.js";

export function starterConfig(keysDir: string, admins: string[]): string {
  const adminLines = admins.length
    ? `admins = [\n${admins.map((a) => `  ${tomlString(a)},\n`).join("")}]`
    : "admins = []";
  return `# wgqt.toml: the fleet's WireGuard networks. wgqt keeps the keys in keys_dir,
# age-encrypted to each machine's own recipients and to the admins.

keys_dir   = ${tomlString(keysDir)}   # relative to this file
ipv4_start = "10.128.0.0"       # addresses are allocated from here
udp_start  = 16842              # each network listens on udp_start + its id

# Admins can decrypt every key (for rekey and export): age1… or ssh-ed25519 … keys.
${adminLines}

# Add machines with:
#   wgqt machine add tavern --recipient-file tavern_ssh_host_ed25519_key.pub --endpoint tavern.example.org
# which writes a table like this one:
#
# [machines.tavern]
# recipients = ["ssh-ed25519 AAAA… root@tavern"]
# endpoint   = "tavern.example.org"
#
# A proxy routes its clients' traffic through its gateway. The table name is
# the WireGuard interface name (at most 15 characters).
#
# [proxies.germany]
# gateway = "tavern"
# clients = ["nyaa", "spark"]
`;
}

/**
 * What a work tree must never commit: the lock of a running command, an
 * interrupted change's journal, and their temp files (all beside wgqt.toml).
 * A journal in a commit would be replayed on every clone, so recovery
 * refuses one that git tracks.
 */
const IGNORED = [`/${LOCK_FILE}`, `/${JOURNAL_FILE}`, `/${TEMP_PREFIX}*`];

/** `.gitignore` (its current bytes, if any) with IGNORED appended where missing. */
export function withIgnored(current: Buffer | undefined): string {
  const text = current?.toString("utf8") ?? "";
  const present = new Set(text.split("\n").map((line) => line.trim()));
  const missing = IGNORED.filter((line) => !present.has(line));
  if (missing.length === 0) return text;
  const separator = text === "" ? "" : text.endsWith("\n") ? "\n" : "\n\n";
  return `${text}${separator}# wgqt: a running command's lock, an interrupted change's journal\n${missing.join("\n")}\n`;
}

/** What {@link applyInit} writes: a starter wgqt.toml and the `.gitignore` beside it. */
export interface InitPlan {
  /** The new wgqt.toml's text, and the config it parses to. */
  configText: string;
  config: Config;
  /** `.gitignore` beside wgqt.toml: its path and its text after init. */
  gitignore: { path: string; text: string };
}

/** init never overwrites a wgqt.toml. */
export async function refuseExisting(path: string): Promise<void> {
  const exists = await access(path).then(
    () => true,
    () => false,
  );
  if (exists)
    throw new ConfigError(
      "config/exists",
      `${path}: already exists; wgqt init does not overwrite it`,
    );
}

/**
 * What `init` writes for a fleet at `path` (wgqt.toml, absolute). Refuses
 * an existing wgqt.toml; the text is validated (admins, keys_dir) before
 * anything is written.
 */
export async function planInit(
  path: string,
  keysDir: string,
  admins: readonly string[],
): Promise<InitPlan> {
  await refuseExisting(path);
  const configText = starterConfig(keysDir, [...admins]);
  const config = parseConfig(configText, path);
  const gitignore = join(config.dir, GITIGNORE_FILE);
  return {
    configText,
    config,
    gitignore: { path: gitignore, text: withIgnored(await readStoreFile(gitignore)) },
  };
}

/**
 * Write wgqt.toml, `.gitignore` and the store's generated files; keys a
 * store at keys_dir already holds are left as they are. Returns the absolute
 * paths changed.
 */
export function applyInit(
  store: KeyStore,
  plan: InitPlan,
  options: ChangeOptions = {},
): Promise<string[]> {
  const { config } = plan;
  const change = beginChange(config, store, options.afterApply);
  if (!store.hasManifest) change.manifest = emptyManifest();
  change.tx.write(config.path, plan.configText, PUBLIC_MODE);
  change.tx.write(plan.gitignore.path, plan.gitignore.text, PUBLIC_MODE);
  return finishChange(config, change, options.message ?? "wgqt: init");
}
