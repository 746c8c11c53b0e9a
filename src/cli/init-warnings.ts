/**
 * What `wgqt init` warns about before it writes a fleet that works but will
 * surprise its user later.
 */
import { dirname } from "node:path";
import { findConfig } from "../store/config-file.js";

/** Warnings for a fleet about to be made at `path` (its wgqt.toml) with `admins`. */
export async function initWarnings(path: string, admins: readonly string[]): Promise<string[]> {
  const warnings: string[] = [];
  if (admins.length === 0)
    warnings.push(
      "no admin (--admin, --admin-file): every key will be encrypted to its hosts only, so nobody can run wgqt rekey or export a key; add your own age or SSH key to admins in wgqt.toml",
    );
  // The fleet above this directory stays as it is; commands run below here use this one.
  const outer = await findConfig(dirname(dirname(path)));
  if (outer !== undefined)
    warnings.push(
      `${outer} already holds a fleet: this makes a second one in ${dirname(path)}, used by every wgqt command run below it`,
    );
  return warnings;
}
