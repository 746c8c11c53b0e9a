/**
 * SSH recipients and identities, byte-compatible with Go's filippo.io/age/agessh
 * (the "ssh-ed25519" and "ssh-rsa" stanzas the age CLI reads and writes).
 * age-encryption (typage) has no SSH support; these plug into its Recipient and
 * Identity interfaces.
 *
 * Both stanza types carry a key tag: the first 4 bytes of SHA-256 over the SSH
 * public key blob, unpadded base64 (agessh `sshFingerprint`). Identities skip
 * stanzas whose type or tag is not theirs, per typage's Identity contract:
 * return null for "not mine", throw only for "mine but broken".
 */

import {
  constants,
  createHash,
  createPublicKey,
  type KeyObject,
  privateDecrypt,
  publicEncrypt,
} from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import type { Identity, Recipient, Stanza } from "age-encryption";
import { KeyError, quote } from "../errors.js";
import { secureRandom } from "../keys/wireguard.js";
import { type X25519, type X25519Point, type X25519Scalar, x25519 } from "../keys/x25519.js";
import { decodeBase64, decodeBase64NoPad, encodeBase64, encodeBase64NoPad } from "./base64.js";
import type { SyncRecipient } from "./encrypt.js";
import { FILE_KEY_SIZE, openFileKey, sealFileKey, WRAPPED_FILE_KEY_SIZE } from "./file-key.js";
import { hkdfSha256 } from "./hkdf.js";
import { readSshPrivateKey } from "./ssh-keyfile.js";
import { concatBytes, WireReader, wireMpint, wireString } from "./ssh-wire.js";

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

/**
 * An ssh-ed25519 key's X25519 side, what encrypting to it needs: P, its
 * Montgomery u-coordinate, and Q = X25519(tweak, P) (see SshEd25519Recipient).
 */
export interface Ed25519X25519Form {
  montgomery: Uint8Array;
  tweaked: Uint8Array;
}

/** Source of randomness, injectable so tests can be deterministic. */
export type RandomSource = (length: number) => Uint8Array;

const defaultRandom: RandomSource = secureRandom;

/** agessh: `const ed25519Label = "age-encryption.org/v1/ssh-ed25519"`. */
const ED25519_LABEL = new TextEncoder().encode("age-encryption.org/v1/ssh-ed25519");
/** agessh: `const oaepLabel = "age-encryption.org/v1/ssh-rsa"`. */
const RSA_OAEP_LABEL = Buffer.from("age-encryption.org/v1/ssh-rsa");
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
  return encodeBase64NoPad(createHash("sha256").update(wire).digest().subarray(0, 4));
}

/**
 * Parse one authorized_keys-style line, `<type> <base64 blob> [comment]`.
 * Strict: the blob must be canonical base64, its inner type must match the
 * line's, and nothing may follow the key fields inside it.
 *
 * @throws {KeyError} for another key type, a non-canonical blob, or anything that follows it.
 */
export function parseSshPublicKey(text: string): SshPublicKey {
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
type BlobFields =
  | { type: "ssh-ed25519"; key: Uint8Array }
  | { type: "ssh-rsa"; exponent: Uint8Array; modulus: Uint8Array };

function blobFields(wire: Uint8Array): BlobFields | string {
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
 * The Ed25519 key of each ssh-ed25519 key decodePublicKeyBlob found usable
 * (or that another thread found usable and handed over, withX25519Form), so
 * that SshEd25519Recipient does not decode the point (a square root) again.
 */
const usableKeys = new WeakMap<SshPublicKey, Uint8Array>();

/** Decode and validate a public key blob; a string is the reason it is refused. */
function decodePublicKeyBlob(wire: Uint8Array): SshPublicKey | string {
  const fields = blobFields(wire);
  if (typeof fields === "string") return fields;
  if (fields.type === "ssh-ed25519" && !ed25519IsUsable(fields.key)) {
    return "ed25519 key is not a usable curve point";
  }
  if (fields.type === "ssh-rsa") {
    const problem = rsaProblem(fields.modulus, fields.exponent);
    if (problem !== null) return problem;
  }
  const { type } = fields;
  const key = { type, wire, tag: sshKeyTag(wire), normalized: `${type} ${encodeBase64(wire)}` };
  if (fields.type === "ssh-ed25519") usableKeys.set(key, fields.key);
  return key;
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

/**
 * Whether an Ed25519 public key decodes to a curve point that is not of small
 * order (such a key is useless for key agreement). Decoding takes a square
 * root: the one costly step of reading a config's ssh-ed25519 recipients.
 */
function ed25519IsUsable(publicKey: Uint8Array): boolean {
  try {
    return !ed25519.Point.fromBytes(publicKey).isSmallOrder();
  } catch {
    return false;
  }
}

/**
 * The Curve25519 u-coordinate of a usable Ed25519 public key, u = (1 + y) /
 * (1 - y) (agessh `ed25519PublicKeyToCurve25519`, RFC 7748 §4.1 birational
 * map). y is the encoding with its top bit (x's sign) cleared, so no square
 * root is needed; y ≠ 1, as that is the identity, which has small order.
 */
function ed25519Montgomery(publicKey: Uint8Array): Uint8Array {
  const { Fp } = ed25519.Point;
  const encoded = Uint8Array.from(publicKey);
  encoded[31]! &= 0x7f;
  const y = Fp.fromBytes(encoded);
  return Fp.toBytes(Fp.div(Fp.add(Fp.ONE, y), Fp.sub(Fp.ONE, y)));
}

/** The Ed25519 key in an ssh-ed25519 blob, or null when there is none or it is not usable. */
function usableEd25519KeyOf(wire: Uint8Array): Uint8Array | null {
  const fields = blobFields(wire);
  return typeof fields !== "string" && fields.type === "ssh-ed25519" && ed25519IsUsable(fields.key)
    ? fields.key
    : null;
}

/**
 * agessh: `hkdf.New(sha256.New, nil, sshKey.Marshal(), label)`, i.e. the tweak is
 * HKDF-SHA-256(ikm = empty, salt = key blob, info = label), 32 bytes.
 */
function ed25519Tweak(wire: Uint8Array): Uint8Array {
  return hkdf(sha256, new Uint8Array(0), wire, ED25519_LABEL, 32);
}

/** agessh: wrap key = HKDF-SHA-256(ikm = tweaked secret, salt = share || recipient, label). */
function ed25519WrapKey(tweakedSecret: Uint8Array, share: Uint8Array, recipient: Uint8Array) {
  return hkdfSha256(tweakedSecret, concatBytes(share, recipient), ED25519_LABEL);
}

/**
 * Encrypts a file key to an ssh-ed25519 key: X25519 with the key's Montgomery
 * form, the shared secret re-multiplied by a tweak bound to the SSH key, then
 * HKDF and ChaCha20-Poly1305. Stanza: `ssh-ed25519 <tag> <ephemeral share>`.
 *
 * agessh computes the tweaked secret as X25519(tweak, X25519(ephemeral, P)).
 * X25519 multiplies the point by the clamped scalar, and multiplications
 * commute, so that is X25519(ephemeral, X25519(tweak, P)): the same bytes, with
 * Q = X25519(tweak, P) computed once per key and one multiplication per stanza
 * after the share. Q is never the all-zero point: the constructor refuses
 * small-order keys, and a clamped scalar is 8·m with 0 < m < ℓ, which cannot
 * send 8·P (of order ℓ) to the identity. P and Q are computed on the first
 * wrap: `wgqt plan` and `render` parse every recipient but encrypt nothing.
 * Another thread encrypting to the same key can start from them
 * (`x25519Form`, `withX25519Form`) instead of computing them again.
 */
export class SshEd25519Recipient implements Recipient {
  readonly key: SshPublicKey;
  #edwards: Uint8Array;
  #theirPublicKey: Uint8Array | undefined;
  #curve: X25519;
  #tweakedPoint: X25519Point | undefined;
  #random: RandomSource;

  constructor(key: SshPublicKey, random: RandomSource = defaultRandom) {
    const edwards = usableKeys.get(key) ?? usableEd25519KeyOf(key.wire);
    if (edwards === null)
      throw new KeyError("key/invalid", `invalid ssh-ed25519 key ${quote(key.normalized)}`);
    this.key = key;
    this.#edwards = edwards;
    this.#curve = x25519();
    this.#random = random;
  }

  /**
   * A recipient for `key` that starts from P and Q as `x25519Form()` of a
   * recipient for the same key computed them (in another thread: they are
   * plain bytes), skipping the point decoding and conversion. The key itself
   * must have been checked by that recipient; its blob layout is checked here.
   */
  static withX25519Form(
    key: SshPublicKey,
    form: Ed25519X25519Form,
    random: RandomSource = defaultRandom,
  ): SshEd25519Recipient {
    const fields = blobFields(key.wire);
    if (
      typeof fields === "string" ||
      fields.type !== "ssh-ed25519" ||
      form.montgomery.length !== 32 ||
      form.tweaked.length !== 32
    ) {
      throw new KeyError("key/invalid", `invalid ssh-ed25519 key ${quote(key.normalized)}`);
    }
    usableKeys.set(key, fields.key);
    const recipient = new SshEd25519Recipient(key, random);
    recipient.#theirPublicKey = Uint8Array.from(form.montgomery);
    recipient.#tweakedPoint = recipient.#curve.point(form.tweaked);
    return recipient;
  }

  /** P (the key's Montgomery form) and Q = X25519(tweak, P), computed once. */
  x25519Form(): Ed25519X25519Form {
    const tweaked = this.#prepare();
    return {
      montgomery: Uint8Array.from(this.#theirPublicKey!),
      tweaked: Uint8Array.from(tweaked.u),
    };
  }

  wrapFileKey(fileKey: Uint8Array): Stanza[] {
    const curve = this.#curve;
    const tweakedPoint = this.#prepare();
    const ephemeral = curve.scalar(this.#random(32));
    const share = ephemeral.publicKey;
    const tweaked = curve.multiply(ephemeral, tweakedPoint);
    if (tweaked === null) throw this.#invalid();
    const wrapKey = ed25519WrapKey(tweaked, share, this.#theirPublicKey!);
    const body = sealFileKey(wrapKey, fileKey);
    return [{ args: ["ssh-ed25519", this.key.tag, encodeBase64NoPad(share)], body }];
  }

  /** Q, computing P and Q on first use. */
  #prepare(): X25519Point {
    this.#theirPublicKey ??= ed25519Montgomery(this.#edwards);
    this.#tweakedPoint ??= this.#computeTweakedPoint(this.#theirPublicKey);
    return this.#tweakedPoint;
  }

  /** Q = X25519(tweak, P). */
  #computeTweakedPoint(theirs: Uint8Array): X25519Point {
    const curve = this.#curve;
    const tweak = curve.scalar(ed25519Tweak(this.key.wire));
    const tweaked = curve.multiply(tweak, curve.point(theirs));
    if (tweaked === null) throw this.#invalid();
    return curve.point(tweaked);
  }

  #invalid(): KeyError {
    return new KeyError("key/invalid", `invalid ssh-ed25519 key ${quote(this.key.normalized)}`);
  }
}

/**
 * Encrypts a file key to an ssh-rsa key with RSA-OAEP (SHA-256, label
 * "age-encryption.org/v1/ssh-rsa"). Stanza: `ssh-rsa <tag>`.
 */
export class SshRsaRecipient implements Recipient {
  readonly key: SshPublicKey;
  #publicKey: KeyObject;

  constructor(key: SshPublicKey) {
    const fields = blobFields(key.wire);
    if (typeof fields === "string" || fields.type !== "ssh-rsa") {
      throw new KeyError("key/invalid", `invalid ssh-rsa key ${quote(key.normalized)}`);
    }
    this.key = key;
    this.#publicKey = createPublicKey({
      key: { kty: "RSA", n: base64url(fields.modulus), e: base64url(fields.exponent) },
      format: "jwk",
    });
  }

  wrapFileKey(fileKey: Uint8Array): Stanza[] {
    const body = publicEncrypt(
      {
        key: this.#publicKey,
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: "sha256",
        oaepLabel: RSA_OAEP_LABEL,
      },
      fileKey,
    );
    return [{ args: ["ssh-rsa", this.key.tag], body: new Uint8Array(body) }];
  }
}

/** The Recipient for a parsed SSH public key. */
export function sshRecipient(key: SshPublicKey): Recipient & SyncRecipient {
  return key.type === "ssh-ed25519" ? new SshEd25519Recipient(key) : new SshRsaRecipient(key);
}

/** An SSH private key usable as an age Identity. */
export interface SshIdentity extends Identity {
  readonly type: SshKeyType;
  /** Same as `type`; matches the `kind` of recipients and other identities. */
  readonly kind: SshKeyType;
  /** The normalized public key, `"<type> <base64>"`. */
  readonly recipient: string;
  readonly tag: string;
}

/**
 * Parse an unencrypted SSH private key (OpenSSH format, or RSA in PKCS#1/PKCS#8
 * PEM). `source` (usually the file path) prefixes every error message.
 *
 * @throws {KeyError} when the text is not an unencrypted ssh-ed25519 or ssh-rsa private key.
 */
export function parseSshIdentity(text: string, source: string): SshIdentity {
  const key = readSshPrivateKey(text, source);
  const wire =
    key.type === "ssh-ed25519"
      ? concatBytes(wireString("ssh-ed25519"), wireString(key.publicKey))
      : concatBytes(wireString("ssh-rsa"), wireMpint(key.exponent), wireMpint(key.modulus));
  const publicKey = decodePublicKeyBlob(wire);
  if (typeof publicKey === "string") throw new KeyError("key/invalid", `${source}: ${publicKey}`);
  return key.type === "ssh-ed25519"
    ? new SshEd25519Identity(publicKey, key.seed)
    : new SshRsaIdentity(publicKey, key.key);
}

/** The stanzas of `type` carrying this tag: the only ones an SSH identity may claim. */
function stanzasFor(stanzas: Stanza[], type: SshKeyType, tag: string): Stanza[] {
  return stanzas.filter((s) => s.args[0] === type && s.args[1] === tag);
}

class SshEd25519Identity implements SshIdentity {
  readonly type = "ssh-ed25519";
  readonly kind = "ssh-ed25519";
  readonly recipient: string;
  readonly tag: string;
  #curve: X25519;
  #secret: X25519Scalar;
  #tweak: X25519Scalar;

  constructor(key: SshPublicKey, seed: Uint8Array) {
    this.recipient = key.normalized;
    this.tag = key.tag;
    this.#curve = x25519();
    // agessh ed25519PrivateKeyToCurve25519: SHA-512(seed)[:32]; X25519 clamps it.
    this.#secret = this.#curve.scalar(sha512(seed).subarray(0, 32));
    this.#tweak = this.#curve.scalar(ed25519Tweak(key.wire));
  }

  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null {
    const ours = stanzasFor(stanzas, this.type, this.tag);
    for (const stanza of ours) {
      const share = stanza.args.length === 3 ? decodeBase64NoPad(stanza.args[2]!) : null;
      if (share?.length !== 32 || stanza.body.length !== WRAPPED_FILE_KEY_SIZE) {
        throw new KeyError("age/damaged", "invalid ssh-ed25519 stanza");
      }
      // Both agessh steps: X25519(tweak, X25519(secret, share)). The secret and
      // tweak are fixed here, but their product is no clamped scalar, so two steps.
      const curve = this.#curve;
      const shared = curve.multiply(this.#secret, curve.point(share));
      const tweaked = shared === null ? null : curve.multiply(this.#tweak, curve.point(shared));
      if (tweaked === null) {
        throw new KeyError("age/damaged", "invalid ssh-ed25519 stanza: low-order ephemeral share");
      }
      const wrapKey = ed25519WrapKey(tweaked, share, this.#secret.publicKey);
      const fileKey = openFileKey(wrapKey, stanza.body);
      if (fileKey !== null) return fileKey;
    }
    // A stanza with our tag that does not open is tampered with (or a 1-in-2^32 tag collision).
    if (ours.length > 0)
      throw new KeyError("age/damaged", "ssh-ed25519 stanza for this key does not decrypt");
    return null;
  }
}

class SshRsaIdentity implements SshIdentity {
  readonly type = "ssh-rsa";
  readonly kind = "ssh-rsa";
  readonly recipient: string;
  readonly tag: string;
  #privateKey: KeyObject;
  #modulusBytes: number;

  constructor(key: SshPublicKey, privateKey: KeyObject) {
    this.recipient = key.normalized;
    this.tag = key.tag;
    this.#privateKey = privateKey;
    this.#modulusBytes = Math.ceil((privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
  }

  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null {
    const ours = stanzasFor(stanzas, this.type, this.tag);
    for (const stanza of ours) {
      if (stanza.args.length !== 2 || stanza.body.length !== this.#modulusBytes) {
        throw new KeyError("age/damaged", "invalid ssh-rsa stanza");
      }
      let fileKey: Buffer;
      try {
        fileKey = privateDecrypt(
          {
            key: this.#privateKey,
            padding: constants.RSA_PKCS1_OAEP_PADDING,
            oaepHash: "sha256",
            oaepLabel: RSA_OAEP_LABEL,
          },
          stanza.body,
        );
      } catch {
        continue;
      }
      if (fileKey.length !== FILE_KEY_SIZE)
        throw new KeyError("age/damaged", "invalid ssh-rsa stanza");
      return new Uint8Array(fileKey);
    }
    if (ours.length > 0)
      throw new KeyError("age/damaged", "ssh-rsa stanza for this key does not decrypt");
    return null;
  }
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

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}
