/**
 * The key store must exist before any command but `wgqt init` uses it. A
 * `keys_dir` that names no directory is most often a typo, and a command
 * that went ahead would report every key as missing (status, verify) or
 * make and commit a whole second set of keys (keygen). Only init starts a
 * store; every other command stops and, when a store sits nearby, names it.
 */
import { type Dirent, type Stats, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { closest } from "../config/suggest.js";
import type { Config } from "../config/types.js";
import { ConfigError, quote } from "../errors.js";
import { nodeFsPromises } from "../lazy-node.js";
import { byteOrder } from "../order.js";
import { MACHINES_NIX, MANIFEST_FILE, SECRETS_NIX } from "../store/layout.js";

/** How deep below wgqt.toml's directory, and through how many directories, a store is looked for. */
const SEARCH_DEPTH = 3;
const SEARCH_LIMIT = 2000;

/** Refuse a `keys_dir` that is not an existing directory, suggesting a store nearby. */
export async function requireKeysDir(config: Config): Promise<void> {
  // Synchronous: every command that reads the store asks this first, and an
  // asynchronous stat would start Node's thread pool for it.
  let stats: Stats | undefined;
  try {
    stats = statSync(config.keysDir, { throwIfNoEntry: false });
  } catch {
    stats = undefined;
  }
  if (stats?.isDirectory()) return;
  const setting = config.keysDirSetting;
  if (stats !== undefined)
    throw new ConfigError(
      "config/keys-dir",
      `${config.path}: keys_dir: ${quote(setting)} is not a directory`,
    );
  const stores = await nearbyStores(config.dir);
  const guess =
    closest(setting.replace(/\/+$/, ""), stores) ?? (stores.length === 1 ? stores[0] : undefined);
  const hint = guess === undefined ? "" : ` (did you mean ${quote(guess)}? a key store is there)`;
  throw new ConfigError(
    "config/keys-dir",
    `${config.path}: keys_dir: ${quote(setting)} does not exist${hint}; only 'wgqt init' starts a key store: fix keys_dir, or create the directory to start an empty one`,
  );
}

/**
 * Directories below `root` (relative, '/'-separated, byte order) that hold a
 * wgqt key store: its manifest.json, or both generated Nix files. Hidden
 * directories and node_modules are not searched.
 */
export async function nearbyStores(root: string): Promise<string[]> {
  const found: string[] = [];
  let visited = 0;
  const visit = async (dir: string, depth: number): Promise<void> => {
    if (visited++ > SEARCH_LIMIT) return;
    let entries: Dirent[];
    try {
      entries = await nodeFsPromises().readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    const names = new Set(entries.filter((entry) => entry.isFile()).map((entry) => entry.name));
    if (
      dir !== root &&
      (names.has(MANIFEST_FILE) || (names.has(SECRETS_NIX) && names.has(MACHINES_NIX)))
    )
      found.push(relative(root, dir).split(sep).join("/"));
    if (depth === SEARCH_DEPTH) return;
    for (const entry of entries.sort((a, b) => byteOrder(a.name, b.name))) {
      if (!entry.isDirectory() || entry.name.startsWith(".") || entry.name === "node_modules")
        continue;
      await visit(join(dir, entry.name), depth + 1);
    }
  };
  await visit(root, 0);
  return found.sort();
}
