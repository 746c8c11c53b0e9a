/**
 * The full check of the recipients a change encrypts to. Reading wgqt.toml
 * checks each recipient's form but leaves an ssh-ed25519 key's curve point
 * (a square root) to the first encryption to it (age/recipients.ts
 * `normalizeRecipient`); this is that first encryption's check, made before
 * anything is encrypted or written and worded as reading the config words it:
 * the file, the field and the value.
 */
import { parseRecipient } from "../age/recipients.js";
import type { Config } from "../config/types.js";
import { ConfigError, KeyError } from "../errors.js";

/**
 * Parse every recipient of `secrets` (remembered for their encryption).
 *
 * @throws {ConfigError} naming the wgqt.toml field of a recipient no host could decrypt with.
 */
export function checkRecipients(
  config: Config,
  secrets: Iterable<{ readonly recipients: readonly string[] }>,
): void {
  const seen = new Set<string>();
  for (const { recipients } of secrets) {
    for (const recipient of recipients) {
      if (seen.has(recipient)) continue;
      seen.add(recipient);
      try {
        parseRecipient(recipient);
      } catch (error) {
        if (!(error instanceof KeyError)) throw error;
        const field = fieldOf(config, recipient);
        throw new ConfigError(
          "config/invalid",
          `${config.path}: ${field ? `${field}: ` : ""}${error.message}`,
        );
      }
    }
  }
}

/** Where wgqt.toml names `recipient` (normalized): `admins[0]`, `machines.tavern.recipients[1]`. */
function fieldOf(config: Config, recipient: string): string | undefined {
  const admin = config.admins.indexOf(recipient);
  if (admin >= 0) return `admins[${admin}]`;
  for (const [name, machine] of Object.entries(config.machines)) {
    const index = machine.recipients.indexOf(recipient);
    if (index >= 0) return `machines.${name}.recipients[${index}]`;
  }
  return undefined;
}
