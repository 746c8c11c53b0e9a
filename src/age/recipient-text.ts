/**
 * A recipient's text read for what it is, every check but the curve's: the
 * kinds wgqt refuses (secret keys, post-quantum, tag and plugin recipients),
 * bech32 for `age1…`, the strict ssh key syntax (ssh-public-key.ts). What
 * needs the curve, an `age1…` key's low-order probe and an ssh-ed25519 key's
 * point, is recipients.ts's, run on the first encryption to the key. Reading a
 * fleet's config needs only this file, so commands that encrypt nothing never
 * load the curve library.
 */
import { bech32 } from "@scure/base";
import { KeyError, quote } from "../errors.js";
import { parseSshPublicKeyLine, type SshPublicKey } from "./ssh-public-key.js";

/** A recipient's text, read: an `age1…` key's 32 bytes or an ssh public key. */
export type RecipientText =
  | { kind: "x25519"; bytes: Uint8Array; normalized: string }
  | { kind: "ssh"; key: SshPublicKey };

/**
 * Read one recipient's text.
 *
 * @param text - `age1…`, `ssh-ed25519 …` or `ssh-rsa …`.
 * @throws {KeyError} when `text` is not a recipient wgqt can encrypt to, curve aside.
 */
export function readRecipient(text: string): RecipientText {
  const value = text.trim();
  if (value === "") throw new KeyError("key/invalid", "empty recipient");
  // Secret material pasted in the wrong place: say so without echoing it.
  if (/^AGE-(SECRET-KEY|PLUGIN)-/i.test(value)) {
    throw new KeyError(
      "key/wrong-kind",
      "recipient is an age identity (a secret key); give its age1… public key",
    );
  }
  if (/PRIVATE KEY-----/.test(value)) {
    throw new KeyError(
      "key/wrong-kind",
      "recipient is a private key; give its public key (the .pub file)",
    );
  }
  if (/^(ssh-|ecdsa-|sk-)/.test(value)) return { kind: "ssh", key: parseSshPublicKeyLine(value) };
  if (value.startsWith("age1")) return readAgeRecipient(value, text);
  throw new KeyError(
    "key/invalid",
    `unrecognized recipient ${quote(text)}; expected age1…, ssh-ed25519 … or ssh-rsa …`,
  );
}

/**
 * The canonical text of a recipient (`ParsedRecipient.normalized`): the
 * `age1…` string, or `"<ssh type> <base64>"` without comment.
 *
 * @throws {KeyError} when `text` is not a recipient wgqt can encrypt to, curve aside.
 */
export function normalizeRecipient(text: string): string {
  // The common case, an ssh-ed25519 host key, without decoding its blob.
  const line = text.trim();
  const ed25519 = CANONICAL_ED25519.exec(line);
  if (ed25519 !== null && !/[\r\n]/.test(line)) return `ssh-ed25519 ${ed25519[1]}`;
  const read = readRecipient(text);
  return read.kind === "x25519" ? read.normalized : read.key.normalized;
}

/**
 * An ssh-ed25519 line whose blob parseSshPublicKeyLine would take, comment
 * or not: the blob is always 51 bytes, 68 characters of unpadded (so always
 * canonical) base64 — `ssh-ed25519` and the key's length as 24 fixed
 * characters and an `I`, then the 32 key bytes, whose first 4 bits share a
 * character with the length's last 2 (zero: A–P). Its key bytes are any 32
 * bytes, as in parseSshPublicKeyLine: the point is checked on encryption.
 */
const CANONICAL_ED25519 =
  /^ssh-ed25519[ \t]+(AAAAC3NzaC1lZDI1NTE5AAAAI[A-P][A-Za-z0-9+/]{42})(?:[ \t]|$)/;

function readAgeRecipient(value: string, text: string): RecipientText {
  if (/\s/.test(value))
    throw new KeyError("key/invalid", `recipient ${quote(text)} has text after the key`);
  if (value.startsWith("age1pq1")) {
    throw new KeyError(
      "key/unsupported",
      `post-quantum recipient ${quote(text)} is not supported: age 1.1 on hosts cannot read it`,
    );
  }
  if (value.startsWith("age1tag1") || value.startsWith("age1tagpq1")) {
    throw new KeyError(
      "key/unsupported",
      `tag recipient ${quote(text)} is not supported: age 1.1 on hosts cannot read it`,
    );
  }
  // Bech32 (BIP 173) "without length limits on the data part" (age-encryption.org/v1).
  let prefix: string;
  let bytes: Uint8Array;
  try {
    const decoded = bech32.decode(value as `${string}1${string}`, false);
    prefix = decoded.prefix;
    bytes = bech32.fromWords(decoded.words);
  } catch {
    throw new KeyError(
      "key/invalid",
      `invalid age recipient ${quote(text)}: bad bech32 encoding or checksum`,
    );
  }
  if (prefix !== "age") {
    // Plugin recipients are Bech32 with HRP "age1" + plugin name (age-plugin spec).
    throw new KeyError(
      "key/unsupported",
      `plugin recipient ${quote(text)} (age-plugin-${prefix.slice(4)}) is not supported`,
    );
  }
  if (bytes.length !== 32) {
    throw new KeyError(
      "key/invalid",
      `invalid age recipient ${quote(text)}: not an X25519 public key`,
    );
  }
  return { kind: "x25519", bytes, normalized: value };
}
