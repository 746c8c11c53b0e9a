/**
 * SSH public keys as age recipients name them (`ssh-ed25519`, `ssh-rsa`
 * authorized_keys lines): strict parsing, the checks Go's x/crypto/ssh and
 * filippo.io/age/agessh make, and the agessh key tag that names a key in a
 * stanza (the first 4 bytes of SHA-256 over the public key blob, unpadded
 * base64, agessh `sshFingerprint`). The stanzas themselves are in ssh.ts,
 * and so is the one check that needs the curve (an ssh-ed25519 key's point,
 * `parseSshPublicKey` there): this file is only syntax, so reading a fleet's
 * config does not load the curve library.
 */
import { KeyError, quote } from "../errors.js";
import { nodeCrypto } from "../lazy-node.js";
import { decodeBase64, encodeBase64, encodeBase64NoPad } from "./base64.js";
import { WireReader } from "./ssh-wire.js";

/** The SSH key types age supports as recipients and identities. */
export type SshKeyType = "ssh-ed25519" | "ssh-rsa";

/** A parsed SSH public key age can encrypt to. */
export interface SshPublicKey {
  type: SshKeyType;
  /** The key blob (RFC 4253 §6.6 / RFC 8709 §4), canonical. */
  wire: Uint8Array;
  /** agessh key tag: unpadded base64 of SHA-256(wire)[:4], as written in stanzas. */
  tag: string;
  /** `"<type> <base64 blob>"`, the comment dropped. */
  normalized: string;
}

/** golang.org/x/crypto/ssh parseRSA: "exponent too large" past 24 bits. */
const RSA_MAX_EXPONENT_BITS = 24;
/** Go crypto/rsa refuses keys under 1024 bits; OpenSSH caps them at 16384. */
const RSA_MIN_BITS = 1024;
const RSA_MAX_BITS = 16384;
/**
 * The age CLI encrypts to no RSA key whose modulus is under 2048 bits
 * (agessh's NewRSARecipient checks `pubKey.Size() < 2048/8`, Size being the
 * modulus length in whole bytes; age 1.1 refuses a 2040-bit key and takes a
 * 2041-bit one). A host key can still decrypt with a smaller key, so this
 * holds for recipients only.
 */
const RSA_MIN_RECIPIENT_BYTES = 2048 / 8;
const SUPPORTED = "use ssh-ed25519, ssh-rsa or an age1… recipient";

/**
 * The agessh key tag of a public key blob.
 *
 * @param wire - The public key blob in SSH wire format.
 * @returns The tag, base64 without padding, as it appears in a stanza.
 */
export function sshKeyTag(wire: Uint8Array): string {
  return encodeBase64NoPad(nodeCrypto().hash("sha256", wire, "buffer").subarray(0, 4));
}

/**
 * Parse one authorized_keys-style line, `<type> <base64 blob> [comment]`.
 * Strict: the blob must be canonical base64, its inner type must match the
 * line's, and nothing may follow the key fields inside it. An ssh-ed25519
 * key's curve point is not decoded (a square root): `parseSshPublicKey` in
 * ssh.ts does that, and so does the first encryption to the key.
 *
 * @throws {KeyError} for another key type, a non-canonical blob, or anything that follows it.
 */
export function parseSshPublicKeyLine(text: string): SshPublicKey {
  const line = text.trim();
  if (/[\r\n]/.test(line))
    throw new KeyError("key/invalid", `ssh public key ${quote(text)} must be one line`);
  // Fields after the blob are the comment: free text, dropped.
  const [type = "", blob] = line.split(/[ \t]+/);
  if (type !== "ssh-ed25519" && type !== "ssh-rsa") {
    const why = type.startsWith("sk-") ? " (security-key ssh keys cannot decrypt age files)" : "";
    throw new KeyError(
      "key/unsupported",
      `unsupported ssh key type ${quote(type)}${why}; ${SUPPORTED}`,
    );
  }
  if (blob === undefined)
    throw new KeyError("key/invalid", `ssh public key ${quote(text)} has no key data`);
  const wire = decodeBase64(blob);
  if (wire === null) {
    throw new KeyError(
      "key/invalid",
      `ssh public key ${quote(text)}: key data is not canonical base64`,
    );
  }
  const key = decodePublicKeyBlob(wire);
  if (typeof key === "string")
    throw new KeyError("key/invalid", `ssh public key ${quote(text)}: ${key}`);
  if (key.type !== type) {
    throw new KeyError(
      "key/invalid",
      `ssh public key ${quote(text)}: says ${type} but holds a ${key.type} key`,
    );
  }
  const fields = blobFields(wire);
  if (typeof fields !== "string" && fields.type === "ssh-rsa") {
    const bits = bitLength(fields.modulus);
    if (Math.ceil(bits / 8) < RSA_MIN_RECIPIENT_BYTES) {
      throw new KeyError(
        "key/unsupported",
        `ssh-rsa key of ${bits} bits: the age CLI refuses RSA recipients under 2048 bits; use a key of 2048 bits or more, or ssh-ed25519`,
      );
    }
  }
  return key;
}

/** The fields of a key blob, or why it does not follow its type's layout exactly. */
export type BlobFields =
  | { type: "ssh-ed25519"; key: Uint8Array }
  | { type: "ssh-rsa"; exponent: Uint8Array; modulus: Uint8Array };

export function blobFields(wire: Uint8Array): BlobFields | string {
  const reader = new WireReader(wire);
  const type = reader.text();
  let fields: BlobFields;
  if (type === "ssh-ed25519") {
    // RFC 8709 §4: string "ssh-ed25519", string key (32 bytes).
    const key = reader.string();
    if (key?.length !== 32) return "ed25519 key is not 32 bytes";
    fields = { type, key };
  } else if (type === "ssh-rsa") {
    // RFC 4253 §6.6: string "ssh-rsa", mpint e, mpint n.
    const exponent = reader.positiveMpint();
    const modulus = reader.positiveMpint();
    if (exponent === null || modulus === null) return "rsa key fields are malformed";
    fields = { type, exponent, modulus };
  } else {
    return type === null ? "key data is malformed" : `unsupported ssh key type ${quote(type)}`;
  }
  return reader.remaining === 0 ? fields : "trailing bytes after the key";
}

/**
 * Decode and check a public key blob's layout (not an ssh-ed25519 key's curve
 * point); a string is the reason it is refused.
 */
export function decodePublicKeyBlob(wire: Uint8Array): SshPublicKey | string {
  const fields = blobFields(wire);
  if (typeof fields === "string") return fields;
  if (fields.type === "ssh-rsa") {
    const problem = rsaProblem(fields.modulus, fields.exponent);
    if (problem !== null) return problem;
  }
  const { type } = fields;
  return { type, wire, tag: sshKeyTag(wire), normalized: `${type} ${encodeBase64(wire)}` };
}

function rsaProblem(modulus: Uint8Array, exponent: Uint8Array): string | null {
  const bits = bitLength(modulus);
  if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
    return `rsa key has ${bits} bits; expected ${RSA_MIN_BITS} to ${RSA_MAX_BITS}`;
  }
  if (!(modulus[modulus.length - 1]! & 1)) return "rsa modulus is even";
  // x/crypto/ssh parseRSA: "if e < 3 || e&1 == 0 { incorrect exponent }".
  const e = bitLength(exponent) <= RSA_MAX_EXPONENT_BITS ? Number.parseInt(hex(exponent), 16) : 0;
  if (e < 3 || e % 2 === 0) return "rsa exponent is invalid";
  return null;
}

function bitLength(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  if (i === bytes.length) return 0;
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]!));
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex") || "0";
}
