/**
 * Finding and reading `wgqt.toml` on disk; config/load.ts parses the text.
 *
 * The file system calls are synchronous: every command makes them first, for
 * one small file and a few directories, and an asynchronous call would start
 * Node's thread pool and hand each call to it and back.
 */
import { readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { CONFIG_FILE, parseConfig } from "../config/load.js";
import type { Config } from "../config/types.js";
import { ConfigError, quote } from "../errors.js";

/**
 * Walk from `start` up to the root looking for `wgqt.toml`.
 *
 * @returns The absolute path of the nearest `wgqt.toml`, or `undefined` when there is none.
 */
export async function findConfig(start: string): Promise<string | undefined> {
  let dir = resolve(start);
  for (;;) {
    const candidate = join(dir, CONFIG_FILE);
    try {
      if (statSync(candidate, { throwIfNoEntry: false })?.isFile()) return candidate;
    } catch {
      // not readable here; keep walking up
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Load the config: `explicitPath` (from `--config`) or the nearest `wgqt.toml`
 * from `cwd` upwards. Also checks that the keys directory, if it exists, does
 * not lead out of the repository through a symlink.
 *
 * @param cwd - Where to start looking, and what `explicitPath` is relative to.
 * @param explicitPath - A config file to read instead of looking for one.
 * @returns The validated config.
 * @throws {ConfigError} when no file is found or it cannot be read, does not validate, or its keys directory leads out of the repository.
 */
export async function loadConfig(cwd: string, explicitPath?: string): Promise<Config> {
  const path = explicitPath ? resolve(cwd, explicitPath) : await findConfig(cwd);
  if (!path)
    throw new ConfigError(
      "config/not-found",
      `no ${CONFIG_FILE} in ${cwd} or its parents (run 'wgqt init', or pass --config FILE)`,
    );
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError("config/unreadable", `${path}: cannot read (${code ?? String(error)})`);
  }
  // A command that changes the fleet reads the config twice: once to finish
  // an interrupted run (cli/main.ts), once for itself. The same text gives the
  // same (frozen) config, so the second read skips the parse.
  const config =
    lastLoaded?.path === path && lastLoaded.text === text
      ? lastLoaded.config
      : parseConfig(text, path);
  lastLoaded = { path, text, config };
  await assertKeysDirInside(config);
  return config;
}

/** The config loadConfig parsed last, with the file and text it came from. */
let lastLoaded: { path: string; text: string; config: Config } | undefined;

async function assertKeysDirInside(config: Config): Promise<void> {
  let real: string;
  try {
    real = realpathSync(config.keysDir);
  } catch {
    return; // does not exist yet: keygen creates it
  }
  const base = realpathSync(config.dir);
  const inside = relative(base, real);
  if (inside === "" || inside === ".." || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
    throw new ConfigError(
      "config/keys-dir",
      `${config.path}: keys_dir: ${quote(config.keysDirSetting)} leads out of ${base} (to ${real}); the key store must live in the repository`,
    );
  }
}
