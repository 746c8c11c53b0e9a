/**
 * Loading the identities wgqt decrypts with (`rekey --identity FILE`, tests,
 * hosts): an age identity file (`AGE-SECRET-KEY-1…` lines, `#` comments, blank
 * lines, as age-keygen writes it) or one unencrypted SSH private key, the two
 * forms `age -d -i FILE` reads.
 *
 * Every identity knows its recipient, so callers can tell, without decrypting,
 * which files it should open. Secret scalars live in private fields only.
 */

import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bech32 } from "@scure/base";
import type { Identity, Stanza } from "age-encryption";
import { KeyError } from "../errors.js";
import { decodeBase64NoPad } from "./base64.js";
import { openFileKey, WRAPPED_FILE_KEY_SIZE } from "./file-key.js";
import type { RecipientKind } from "./recipients.js";
import { parseSshIdentity } from "./ssh.js";

/** An age Identity that also names the recipient it answers for. */
export interface LoadedIdentity extends Identity {
  readonly kind: RecipientKind;
  /** Normalized recipient: `age1…` or `"<ssh type> <base64>"`. */
  readonly recipient: string;
  /** For SSH identities, the key tag of their stanzas. */
  readonly tag?: string;
}

/** age-encryption.org/v1, X25519 recipient stanza: `info = "age-encryption.org/v1/X25519"`. */
const X25519_LABEL = new TextEncoder().encode("age-encryption.org/v1/X25519");

/**
 * Parse identities from a file's text. `source` (usually the path) prefixes
 * every error; errors point at line numbers and never echo key material.
 */
export function parseIdentities(text: string, source: string): LoadedIdentity[] {
  if (
    text.includes("-----BEGIN AGE ENCRYPTED FILE-----") ||
    text.startsWith("age-encryption.org/")
  ) {
    throw new KeyError(`${source}: passphrase-encrypted identity files are not supported`);
  }
  if (text.includes("-----BEGIN ")) return [parseSshIdentity(text, source)];

  const identities: LoadedIdentity[] = [];
  const lines = text.split("\n");
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const where = `${source}: line ${index + 1}`;
    if (line.startsWith("AGE-SECRET-KEY-PQ-1")) {
      throw new KeyError(`${where}: post-quantum identities are not supported (hosts run age 1.1)`);
    }
    if (line.startsWith("AGE-PLUGIN-")) {
      throw new KeyError(`${where}: plugin identities are not supported`);
    }
    if (/^(age1|ssh-|ecdsa-|sk-)/.test(line)) {
      throw new KeyError(`${where}: is a public key (recipient), not an identity`);
    }
    if (!line.startsWith("AGE-SECRET-KEY-1")) {
      throw new KeyError(`${where}: not an age identity (AGE-SECRET-KEY-1…) or # comment`);
    }
    identities.push(new X25519Identity(decodeX25519Identity(line, where)));
  }
  if (identities.length === 0) throw new KeyError(`${source}: no identities found`);
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
  throw new KeyError(`${where}: invalid age identity (bad bech32 encoding or checksum)`);
}

/**
 * A native X25519 identity. The unwrap follows the spec's X25519 stanza rules
 * (age-encryption.org/v1): ignore other types; reject malformed X25519 stanzas;
 * shared secret = X25519(identity, share), aborting on low-order shares; wrap key
 * = HKDF-SHA-256(shared secret, salt = share || recipient, info = label).
 * X25519 stanzas carry no key id, so one that does not open is someone else's.
 */
class X25519Identity implements LoadedIdentity {
  readonly kind = "x25519";
  readonly recipient: string;
  #scalar: Uint8Array;
  #publicKey: Uint8Array;

  constructor(scalar: Uint8Array) {
    this.#scalar = scalar;
    this.#publicKey = x25519.getPublicKey(scalar);
    this.recipient = bech32.encodeFromBytes("age", this.#publicKey);
  }

  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null {
    for (const stanza of stanzas) {
      if (stanza.args[0] !== "X25519") continue;
      const share = stanza.args.length === 2 ? decodeBase64NoPad(stanza.args[1]!) : null;
      if (share?.length !== 32 || stanza.body.length !== WRAPPED_FILE_KEY_SIZE) {
        throw new KeyError("invalid X25519 stanza");
      }
      let shared: Uint8Array;
      try {
        shared = x25519.getSharedSecret(this.#scalar, share);
      } catch {
        throw new KeyError("invalid X25519 stanza: low-order ephemeral share");
      }
      const salt = new Uint8Array(64);
      salt.set(share);
      salt.set(this.#publicKey, 32);
      const fileKey = openFileKey(hkdf(sha256, shared, salt, X25519_LABEL, 32), stanza.body);
      if (fileKey !== null) return fileKey;
    }
    return null;
  }
}
