/** `wgqt init`: a starter wgqt.toml and an empty, valid key store. */
import { access } from "node:fs/promises";
import { join, resolve } from "node:path";
import { tomlString } from "../../config/edit.js";
import { CONFIG_FILE, parseConfig } from "../../config/load.js";
import { ConfigError } from "../../errors.js";
import { readStoreFile, TEMP_PREFIX } from "../../store/files.js";
import { openKeyStore } from "../../store/keystore.js";
import { LOCK_FILE } from "../../store/lock.js";
import { emptyManifest } from "../../store/manifest.js";
import { Transaction } from "../../store/transaction.js";
import { GITIGNORE_FILE, JOURNAL_FILE } from "../../store/transaction-journal.js";
import { PUBLIC_MODE, writeGeneratedFiles } from "../../store/write.js";
import { gitCommitStep } from "../context.js";
import { initWarnings } from "../init-warnings.js";
import type { CliIO } from "../io.js";
import type { GlobalOptions } from "../main.js";
import { checkRecipientArguments, readRecipientFiles } from "./recipients.js";

interface InitOptions {
  admin?: string[];
  adminFile?: string[];
  keysDir: string;
  commit: boolean;
}

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

export async function initCommand(
  io: CliIO,
  global: GlobalOptions,
  options: InitOptions,
): Promise<number> {
  const path = resolve(io.cwd, global.config ?? CONFIG_FILE);
  const exists = await access(path).then(
    () => true,
    () => false,
  );
  if (exists)
    throw new ConfigError(
      "config/exists",
      `${path}: already exists; wgqt init does not overwrite it`,
    );
  const admins = [
    ...checkRecipientArguments(options.admin ?? [], "--admin"),
    ...(await readRecipientFiles(options.adminFile ?? [], io.cwd, "--admin-file")),
  ];
  const text = starterConfig(options.keysDir, admins);
  const config = parseConfig(text, path); // validates admins and keys_dir before anything is written
  for (const warning of await initWarnings(path, admins)) io.stderr(`warning: ${warning}\n`);

  const tx = new Transaction(config.dir, async (files, message) => {
    io.stderr(
      `wrote ${path} and ${config.keysDir}/\nnext: wgqt machine add NAME --recipient-file HOST_KEY.pub, then wgqt keygen\n`,
    );
    await gitCommitStep(io, config, options.commit)(files, message);
  });
  tx.write(path, text, PUBLIC_MODE);
  const gitignore = join(config.dir, GITIGNORE_FILE);
  tx.write(gitignore, withIgnored(await readStoreFile(gitignore)), PUBLIC_MODE);
  const store = await openKeyStore(config.keysDir);
  if (store.encryptedFiles.size || store.publicKeyFiles.size) {
    io.stderr(`note: ${config.keysDir} already holds keys; they are left as they are\n`);
  }
  writeGeneratedFiles(
    config,
    config.keysDir,
    store.hasManifest ? store.manifest : emptyManifest(),
    store.publicKeys(),
    store.encryptedFiles,
    tx,
  );
  await tx.commit("wgqt: init");
  return 0;
}
