/**
 * wgqt's error classes. The library throws them; only the CLI entry prints
 * them (once, as `wgqt: <message>`) and turns them into an exit code.
 */

/** Base class: a failure a user can act on, with a one-line message. */
export class WgqtError extends Error {
  /** Process exit code the CLI uses: 1 for failures, 2 for usage errors. */
  readonly exitCode: number = 1;
  override name = "WgqtError";
}

/** Bad command-line usage: unknown flags, missing arguments, conflicting options. */
export class UsageError extends WgqtError {
  override readonly exitCode = 2;
  override name = "UsageError";
}

/** `wgqt.toml` is missing, unreadable or invalid. Message names file, field and value. */
export class ConfigError extends WgqtError {
  override name = "ConfigError";
}

/** The key store on disk is inconsistent, unreadable or cannot be written. */
export class StoreError extends WgqtError {
  override name = "StoreError";
}

/** A key, recipient or identity does not parse, or decryption fails. */
export class KeyError extends WgqtError {
  override name = "KeyError";
}

/** Quote a user-supplied value for an error message, truncating long ones. */
export function quote(value: unknown): string {
  let text: string;
  if (typeof value === "string") text = JSON.stringify(value);
  else if (value === undefined) text = "nothing";
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}
