/** What `rekey` and `verify` share to decrypt: the identities of `--identity`. */
import { type LoadedIdentities, loadIdentityFiles } from "../store/identities.js";
import type { Color } from "./context.js";
import type { CliIO } from "./io.js";

/**
 * Load the identities to decrypt with: the `--identity` files, or agenix's
 * defaults when none are given (see loadIdentityFiles); their warnings go to stderr.
 */
export async function loadIdentities(
  io: CliIO,
  color: Color,
  files: readonly string[],
): Promise<LoadedIdentities> {
  const identities = await loadIdentityFiles(files, { cwd: io.cwd, home: io.env.HOME });
  for (const warning of identities.warnings) io.stderr(`${color.yellow("warning:")} ${warning}\n`);
  return identities;
}
