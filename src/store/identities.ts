/**
 * The identities `rekey`, `verify` and `render --export` decrypt with: age
 * identity files or unencrypted SSH private keys, given with `--identity`,
 * or agenix's defaults.
 */
import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type LoadedIdentity, parseIdentities } from "../age/index.js";
import { UsageError, WgqtError } from "../errors.js";

/** The identities loaded from one file. */
export interface IdentitySource {
  /** Absolute path of the identity file. */
  file: string;
  identities: LoadedIdentity[];
}

/** What {@link loadIdentityFiles} loaded, and what it warns about. */
export interface LoadedIdentities {
  sources: IdentitySource[];
  /** Every identity of every file, in the order given. */
  identities: LoadedIdentity[];
  /** Warnings for stderr: loose permissions, default files that could not be used. */
  warnings: string[];
}

/** agenix's defaults: `~/.ssh/id_ed25519`, then `~/.ssh/id_rsa`. */
export function defaultIdentityFiles(home: string | undefined): string[] {
  return home ? [join(home, ".ssh", "id_ed25519"), join(home, ".ssh", "id_rsa")] : [];
}

/**
 * Load identities from age identity files or unencrypted SSH private keys.
 * `files` given explicitly must all load; without them the defaults are used,
 * skipping those that do not exist or cannot be used (with a warning).
 *
 * @throws {UsageError} when a file given cannot be read, or none of the default files can be used.
 * @throws {KeyError} when a file given holds no usable identity.
 */
export async function loadIdentityFiles(
  files: readonly string[],
  options: { cwd: string; home: string | undefined },
): Promise<LoadedIdentities> {
  const explicit = files.length > 0;
  const paths = explicit
    ? files.map((file) => resolve(options.cwd, file))
    : defaultIdentityFiles(options.home);
  const loaded: LoadedIdentities = { sources: [], identities: [], warnings: [] };
  const skipped: string[] = [];
  for (const file of paths) {
    let text: string;
    let mode: number;
    try {
      mode = (await stat(file)).mode;
      text = await readFile(file, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      if (explicit)
        throw new UsageError("usage/unreadable", `cannot read ${file} (${code})`, {
          field: "identity",
        });
      skipped.push(`${file} (${code === "ENOENT" ? "does not exist" : code})`);
      continue;
    }
    let identities: LoadedIdentity[];
    try {
      identities = parseIdentities(text, file);
    } catch (error) {
      if (explicit || !(error instanceof WgqtError)) throw error;
      loaded.warnings.push(`skipping ${error.message}`);
      skipped.push(`${file} (unusable)`);
      continue;
    }
    // Like ssh refusing a private key others can read: warn, since it is the key to everything.
    if (mode & 0o044) {
      loaded.warnings.push(
        `${file} is readable by ${mode & 0o004 ? "everyone" : "its group"} (mode ${(mode & 0o777).toString(8)}); it can decrypt the key store: chmod 600 it`,
      );
    }
    loaded.sources.push({ file, identities });
    loaded.identities.push(...identities);
  }
  if (loaded.identities.length === 0) {
    throw new UsageError(
      "usage/missing",
      `no identity to decrypt with: pass --identity FILE (an admin's age identity or SSH private key)${skipped.length ? `; tried ${skipped.join(", ")}` : ""}`,
    );
  }
  return loaded;
}
