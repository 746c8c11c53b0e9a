/**
 * Loading the identities wgqt decrypts with (`rekey --identity FILE`, tests,
 * hosts): an age identity file (`AGE-SECRET-KEY-1…` lines, `#` comments, blank
 * lines, as age-keygen writes it) or one unencrypted SSH private key, the two
 * forms `age -d -i FILE` reads.
 *
 * Every identity knows its recipient, so callers can tell, without decrypting,
 * which files it should open. Secret scalars live in private fields only.
 */

import { bech32 } from "@scure/base";
import type { Identity } from "age-encryption";
import { KeyError } from "../errors.js";
import type { RecipientKind } from "./recipients.js";
import { parseSshIdentity } from "./ssh.js";
import { X25519Identity } from "./x25519-stanza.js";

/** An age Identity that also names the recipient it answers for. */
export interface LoadedIdentity extends Identity {
  readonly kind: RecipientKind;
  /** Normalized recipient: `age1…` or `"<ssh type> <base64>"`. */
  readonly recipient: string;
  /** For SSH identities, the key tag of their stanzas. */
  readonly tag?: string;
}

/**
 * Parse identities from a file's text. `source` (usually the path) prefixes
 * every error; errors point at line numbers and never echo key material.
 *
 * @returns Every identity in the text, in order.
 * @throws {KeyError} for an encrypted, post-quantum or plugin identity, a line that is not one, or a text without any.
 */
export function parseIdentities(text: string, source: string): LoadedIdentity[] {
  if (
    text.includes("-----BEGIN AGE ENCRYPTED FILE-----") ||
    text.startsWith("age-encryption.org/")
  ) {
    throw new KeyError(
      "key/unsupported",
      `${source}: passphrase-encrypted identity files are not supported`,
    );
  }
  if (text.includes("-----BEGIN ")) return [parseSshIdentity(text, source)];

  const identities: LoadedIdentity[] = [];
  const lines = text.split("\n");
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const where = `${source}: line ${index + 1}`;
    if (line.startsWith("AGE-SECRET-KEY-PQ-1")) {
      throw new KeyError(
        "key/unsupported",
        `${where}: post-quantum identities are not supported (hosts run age 1.1)`,
      );
    }
    if (line.startsWith("AGE-PLUGIN-")) {
      throw new KeyError("key/unsupported", `${where}: plugin identities are not supported`);
    }
    if (/^(age1|ssh-|ecdsa-|sk-)/.test(line)) {
      throw new KeyError(
        "key/wrong-kind",
        `${where}: is a public key (recipient), not an identity`,
      );
    }
    if (!line.startsWith("AGE-SECRET-KEY-1")) {
      throw new KeyError(
        "key/invalid",
        `${where}: not an age identity (AGE-SECRET-KEY-1…) or # comment`,
      );
    }
    identities.push(new X25519Identity(decodeX25519Identity(line, where)));
  }
  if (identities.length === 0) throw new KeyError("key/invalid", `${source}: no identities found`);
  return identities;
}

/** Bech32 with HRP "AGE-SECRET-KEY-", 32 bytes (age-encryption.org/v1, X25519 recipient type). */
function decodeX25519Identity(line: string, where: string): Uint8Array {
  try {
    const { prefix, words } = bech32.decode(line as `${string}1${string}`, false);
    const scalar = bech32.fromWords(words);
    if (prefix === "age-secret-key-" && scalar.length === 32) return scalar;
  } catch {
    // fall through to the error below
  }
  throw new KeyError(
    "key/invalid",
    `${where}: invalid age identity (bad bech32 encoding or checksum)`,
  );
}
