/**
 * wgqt's error classes. The library throws them; only the CLI entry prints
 * them (once, as `wgqt: <message>`) and turns them into an exit code.
 */

/*
 * Error codes say what went wrong, for a caller to act on without reading the
 * message: one union per area, each member `area/what`. The message says it
 * for people (and may change); a code, once published, keeps its meaning.
 */

/** The codes of {@link ConfigError}: `wgqt.toml` and the files the CLI writes. */
export const CONFIG_ERROR_CODES = [
  /** No `wgqt.toml` in the directory or its parents. */
  "config/not-found",
  /** `wgqt.toml` (or another input file) exists but cannot be read. */
  "config/unreadable",
  /** A field has a value wgqt does not accept; the message names file, field and value. */
  "config/invalid",
  /** Fields that are each valid but clash: two interfaces of one name, overlapping subnets. */
  "config/conflict",
  /** `keys_dir` does not exist, is no directory, or leads out of the repository. */
  "config/keys-dir",
  /** An edit cannot find the table it changes: the file must be edited by hand. */
  "config/not-editable",
  /** What would be added is there already (`wgqt.toml`, a machine). */
  "config/exists",
  /** A machine to remove is still named elsewhere in the config. */
  "config/in-use",
  /** The config renumbers a network against `plan.json`: review and accept it first. */
  "config/renumbering",
  /** The output directory of rendered files cannot be created or written. */
  "config/output",
] as const;
/** One of {@link CONFIG_ERROR_CODES}. */
export type ConfigErrorCode = (typeof CONFIG_ERROR_CODES)[number];

/** The codes of {@link KeyError} about a key, recipient or identity itself. */
export const KEY_ERROR_CODES = [
  /** A key, recipient or identity does not parse, or decrypts to something that is not a key. */
  "key/invalid",
  /** A well-formed key of a kind wgqt does not use (plugin, post-quantum, passphrase-protected). */
  "key/unsupported",
  /** A secret key where a public one belongs, or the other way round. */
  "key/wrong-kind",
  /** A key file holds another key than the store records for it (swapped or replaced). */
  "key/mismatch",
] as const;
/** One of {@link KEY_ERROR_CODES}. */
export type KeyErrorCode = (typeof KEY_ERROR_CODES)[number];

/** The codes of {@link KeyError} from encrypting or decrypting an age file. */
export const AGE_ERROR_CODES = [
  /** None of the identities opens the file (it is for someone else). */
  "age/no-identity",
  /** Encrypting to nobody. */
  "age/no-recipients",
  /** The age header breaks the format (age spec, "Header"). */
  "age/bad-header",
  /** A stanza or the payload fails to decrypt or authenticate. */
  "age/damaged",
] as const;
/** One of {@link AGE_ERROR_CODES}. */
export type AgeErrorCode = (typeof AGE_ERROR_CODES)[number];

/** The codes of {@link StoreError}: the key store, its lock, journal and git commit. */
export const STORE_ERROR_CODES = [
  /** Another wgqt holds the store's lock, or the lock file is unreadable. */
  "store/locked",
  /** A read, write or flush of the store failed (the message carries the errno code). */
  "store/io",
  /** A symlink, special file or path outside the store where wgqt reads or writes. */
  "store/unsafe-path",
  /** `manifest.json`, `plan.json` or a `.pub` file does not parse. */
  "store/corrupt",
  /** A key file the manifest does not vouch for: changed outside wgqt. */
  "store/unvouched",
  /** A key file the config needs is missing from the store. */
  "store/missing-key",
  /** A secret has nobody to be encrypted to. */
  "store/no-recipients",
  /** The journal of an interrupted change is not wgqt's, or not safe to apply. */
  "store/bad-journal",
  /** A change stopped partway; the journal finishes it on the next run that writes. */
  "store/interrupted",
  /** Committing the change to git failed. */
  "store/git",
] as const;
/** One of {@link STORE_ERROR_CODES}. */
export type StoreErrorCode = (typeof STORE_ERROR_CODES)[number];

/** The codes of {@link UsageError}: a request wgqt cannot carry out as given. */
export const USAGE_ERROR_CODES = [
  /** A machine or VPN named in the request is not in the config. */
  "usage/unknown-name",
  /** A request value is out of range or malformed. */
  "usage/bad-value",
  /** Request values that do not go together, or that clash with the config. */
  "usage/conflict",
  /** The request lacks something it needs (a key, an identity, a choice). */
  "usage/missing",
  /** A file the request names cannot be read or holds nothing usable. */
  "usage/unreadable",
  /** A confirmation is needed and there is no terminal to ask on. */
  "usage/needs-confirmation",
  /** wgqt holds no private key to renew: a VPN's is the provider's, some machines bring their own. */
  "usage/no-private-key",
  /** A rotation names nothing to renew. */
  "rotate/nothing-selected",
  /** A rotation of everything also names machines or pairs. */
  "rotate/all-with-selection",
  /** Keeping the preshared keys while renewing no keypair. */
  "rotate/keep-psks-alone",
] as const;
/** One of {@link USAGE_ERROR_CODES}. */
export type UsageErrorCode = (typeof USAGE_ERROR_CODES)[number];

/** The codes of a {@link WgqtError} from rendering that is about neither config nor store. */
export const RENDER_ERROR_CODES = [
  /** A render option has a value wgqt cannot use (the secrets directory). */
  "render/bad-option",
  /** A phone's configuration asked for a host or in a way that cannot be one. */
  "render/mobile",
  /** Exporting a host's keys lacks one, or one decrypts to no WireGuard key. */
  "render/export",
] as const;
/** One of {@link RENDER_ERROR_CODES}. */
export type RenderErrorCode = (typeof RENDER_ERROR_CODES)[number];

/** Every code a wgqt error carries. */
export type ErrorCode =
  | ConfigErrorCode
  | KeyErrorCode
  | AgeErrorCode
  | StoreErrorCode
  | UsageErrorCode
  | RenderErrorCode;

/** What a wgqt error takes besides its code and message. */
export interface WgqtErrorOptions extends ErrorOptions {
  /**
   * The field of the request the error is about (`format`, `machines`): the
   * message then reads `field: detail`, and a front end can name the field
   * its own way (the CLI prints `--format: detail`).
   */
  field?: string;
}

/**
 * Base class: a failure a user can act on, with a one-line message. Anything
 * in the message that looks like a key (see `redactSecrets`) is replaced, so
 * no error of wgqt's ever shows one, whatever value it quotes.
 */
export class WgqtError extends Error {
  /** Process exit code the CLI uses: 1 for failures, 2 for usage errors. */
  readonly exitCode: number = 1;
  override name = "WgqtError";
  readonly code: ErrorCode;
  /** The request field the error is about, when it is about one (see WgqtErrorOptions). */
  readonly field?: string;
  /** The message without its `field: ` prefix. */
  readonly detail: string;

  constructor(code: ErrorCode, message: string, options?: WgqtErrorOptions) {
    const detail = redactSecrets(message);
    super(options?.field === undefined ? detail : `${options.field}: ${detail}`, options);
    this.code = code;
    this.detail = detail;
    if (options?.field !== undefined) this.field = options.field;
  }
}

/** A request wgqt cannot carry out as given: an unknown name, a bad or missing value, conflicting options. */
export class UsageError extends WgqtError {
  override readonly exitCode = 2;
  override name = "UsageError";
  declare readonly code: UsageErrorCode;

  constructor(code: UsageErrorCode, message: string, options?: WgqtErrorOptions) {
    super(code, message, options);
  }
}

/** `wgqt.toml` is missing, unreadable or invalid. Message names file, field and value. */
export class ConfigError extends WgqtError {
  override name = "ConfigError";
  declare readonly code: ConfigErrorCode;

  constructor(code: ConfigErrorCode, message: string, options?: WgqtErrorOptions) {
    super(code, message, options);
  }
}

/** The key store on disk is inconsistent, unreadable or cannot be written. */
export class StoreError extends WgqtError {
  override name = "StoreError";
  declare readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: WgqtErrorOptions) {
    super(code, message, options);
  }
}

/** A key, recipient or identity does not parse, or decryption fails. */
export class KeyError extends WgqtError {
  override name = "KeyError";
  declare readonly code: KeyErrorCode | AgeErrorCode;

  constructor(code: KeyErrorCode | AgeErrorCode, message: string, options?: WgqtErrorOptions) {
    super(code, message, options);
  }
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
