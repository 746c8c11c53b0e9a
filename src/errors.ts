/**
 * wgqt's error classes. The library throws them; only the CLI entry prints
 * them (once, as `wgqt: <message>`) and turns them into an exit code.
 */

/**
 * Base class: a failure a user can act on, with a one-line message. Anything
 * in the message that looks like a key (see `redactSecrets`) is replaced, so
 * no error of wgqt's ever shows one, whatever value it quotes.
 */
export class WgqtError extends Error {
  /** Process exit code the CLI uses: 1 for failures, 2 for usage errors. */
  readonly exitCode: number = 1;
  override name = "WgqtError";

  constructor(message?: string, options?: ErrorOptions) {
    super(message === undefined ? message : redactSecrets(message), options);
  }
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

/**
 * 32 bytes of base64 inside other text. Looser than keys/wireguard.ts's
 * WIREGUARD_KEY, which also wants the unused low bits zero: a key with them
 * set is no WireGuard key, but it is still hidden.
 */
const KEY_LIKE = /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])/;

/**
 * Text that looks like secret key material: 32 bytes in base64 as `wg
 * genkey` and `wg genpsk` print them (43 digits and one '=', on their own
 * rather than inside a longer base64 run), an age identity
 * (`AGE-SECRET-KEY-1…`, or a plugin's `AGE-PLUGIN-NAME-1…`: Bech32, so of
 * either case, with data after the '1'; a plugin's program name,
 * `age-plugin-yubikey`, is not one), a PEM or OpenSSH
 * private key block. A public key has the same shape as a private one, so it
 * is hidden too: wgqt cannot tell them apart in a value it refuses.
 */
const SECRET_LIKE = [
  KEY_LIKE,
  /AGE-(SECRET-KEY|PLUGIN-[A-Z0-9-]+)-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{8}/i,
  /PRIVATE KEY-----/,
];

/** What `quote` prints instead of a value that looks like a key. */
export const HIDDEN_VALUE = "[value hidden: it looks like a key, and wgqt never prints keys]";

/** Each SECRET_LIKE pattern extended to the whole of what it finds, for `redactSecrets`. */
const SECRET_SPANS = [
  new RegExp(KEY_LIKE.source, "g"),
  /AGE-(SECRET-KEY|PLUGIN-[A-Z0-9-]+)-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]*/gi,
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)|[A-Za-z0-9 ]*PRIVATE KEY-----/g,
];

/** `text` with everything that looks like a key replaced by a note saying it was hidden. */
export function redactSecrets(text: string): string {
  if (!looksSecret(text)) return text;
  let out = text;
  for (const pattern of SECRET_SPANS) out = out.replace(pattern, "[hidden: looks like a key]");
  return out;
}

/** Whether `text` holds something that looks like a secret key (see SECRET_LIKE). */
export function looksSecret(text: string): boolean {
  return SECRET_LIKE.some((pattern) => pattern.test(text));
}

/**
 * Quote a user-supplied value for an error message, truncating long ones. A
 * value holding anything that looks like a key is not shown at all
 * (HIDDEN_VALUE): a key pasted into the wrong field must not end up in a
 * terminal's scrollback or a CI log.
 */
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
  if (looksSecret(text) || (typeof value === "string" && looksSecret(value))) return HIDDEN_VALUE;
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}
