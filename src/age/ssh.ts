/**
 * SSH recipients and identities, byte-compatible with Go's filippo.io/age/agessh
 * (the "ssh-ed25519" and "ssh-rsa" stanzas the age CLI reads and writes).
 * age-encryption (typage) has no SSH support; these plug into its Recipient and
 * Identity interfaces.
 *
 * Both stanza types carry a key tag: the first 4 bytes of SHA-256 over the SSH
 * public key blob, unpadded base64 (agessh `sshFingerprint`; the keys and
 * their tags are parsed in ssh-public-key.ts). Identities skip stanzas whose
 * type or tag is not theirs, per typage's Identity contract: return null for
 * "not mine", throw only for "mine but broken".
 */
import {
  constants,
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
import { decodeBase64NoPad, encodeBase64NoPad } from "./base64.js";
import type { SyncRecipient } from "./encrypt.js";
import { FILE_KEY_SIZE, openFileKey, sealFileKey, WRAPPED_FILE_KEY_SIZE } from "./file-key.js";
import { hkdfSha256 } from "./hkdf.js";
import { readSshPrivateKey } from "./ssh-keyfile.js";
import {
  blobFields,
  decodePublicKeyBlob,
  parseSshPublicKeyLine,
  type SshKeyType,
  type SshPublicKey,
} from "./ssh-public-key.js";
import { concatBytes, wireMpint, wireString } from "./ssh-wire.js";

/**
 * An ssh-ed25519 key's X25519 side, what encrypting to it needs: P, its
 * Montgomery u-coordinate, and Q = X25519(tweak, P) (see SshEd25519Recipient).
 */
export interface Ed25519X25519Form {
  montgomery: Uint8Array;
  tweaked: Uint8Array;
}

/**
 * Parse one authorized_keys-style line as parseSshPublicKeyLine does
 * (ssh-public-key.ts), and with `checkPoint` also decode an ssh-ed25519 key's
 * curve point and refuse one no host could use.
 *
 * @param checkPoint - false leaves the point to the first encryption to the key.
 * @throws {KeyError} for another key type, a non-canonical blob, anything that follows it, or an unusable point.
 */
export function parseSshPublicKey(text: string, checkPoint = true): SshPublicKey {
  const key = parseSshPublicKeyLine(text);
  if (checkPoint) requireUsablePoint(key, `ssh public key ${quote(text)}`);
  return key;
}

/**
 * Throw `<source>: ed25519 key is not a usable curve point` for an
 * ssh-ed25519 key whose point no host could use; remember a usable one's point.
 */
export function requireUsablePoint(key: SshPublicKey, source: string): void {
  const fields = blobFields(key.wire);
  if (typeof fields === "string" || fields.type !== "ssh-ed25519") return;
  if (!ed25519IsUsable(fields.key))
    throw new KeyError("key/invalid", `${source}: ed25519 key is not a usable curve point`);
  usableKeys.set(key, fields.key);
}

/**
 * The Ed25519 key of each ssh-ed25519 key found usable (or that another thread
 * found usable and handed over, withX25519Form), so that SshEd25519Recipient
 * does not decode the point (a square root) again.
 */
const usableKeys = new WeakMap<SshPublicKey, Uint8Array>();

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

/** The Ed25519 key in an ssh-ed25519 blob, or null when there is none or it is not usable. */
function usableEd25519KeyOf(wire: Uint8Array): Uint8Array | null {
  const fields = blobFields(wire);
  return typeof fields !== "string" && fields.type === "ssh-ed25519" && ed25519IsUsable(fields.key)
    ? fields.key
    : null;
}

/**
 * The usable Ed25519 key of a parsed ssh-ed25519 key: remembered from its
 * parsing, or decoded again (a key object made elsewhere); null when there is
 * none or it is not usable.
 */
function usableEd25519Key(key: SshPublicKey): Uint8Array | null {
  return usableKeys.get(key) ?? usableEd25519KeyOf(key.wire);
}

/** Source of randomness, injectable so tests can be deterministic. */
export type RandomSource = (length: number) => Uint8Array;

const defaultRandom: RandomSource = secureRandom;

/** agessh: `const ed25519Label = "age-encryption.org/v1/ssh-ed25519"`. */
const ED25519_LABEL = new TextEncoder().encode("age-encryption.org/v1/ssh-ed25519");
/** agessh: `const oaepLabel = "age-encryption.org/v1/ssh-rsa"`. */
const RSA_OAEP_LABEL = Buffer.from("age-encryption.org/v1/ssh-rsa");

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
    const edwards = usableEd25519Key(key);
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
    // Checked by the thread that computed `form`.
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
  requireUsablePoint(publicKey, source);
  return key.type === "ssh-ed25519"
    ? new SshEd25519Identity(publicKey, key.seed)
    : new SshRsaIdentity(publicKey, key.key);
}

/**
 * What both SSH identities share: they claim only the stanzas of their type
 * carrying their key's tag, and a stanza of theirs that does not open is an
 * error, not "not mine".
 */
abstract class SshStanzaIdentity implements SshIdentity {
  abstract readonly type: SshKeyType;
  abstract readonly kind: SshKeyType;
  readonly recipient: string;
  readonly tag: string;

  constructor(key: SshPublicKey) {
    this.recipient = key.normalized;
    this.tag = key.tag;
  }

  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null {
    const ours = stanzas.filter((s) => s.args[0] === this.type && s.args[1] === this.tag);
    for (const stanza of ours) {
      const fileKey = this.unwrapStanza(stanza);
      if (fileKey !== null) return fileKey;
    }
    // A stanza with our tag that does not open is tampered with (or a 1-in-2^32 tag collision).
    if (ours.length > 0)
      throw new KeyError("age/damaged", `${this.type} stanza for this key does not decrypt`);
    return null;
  }

  /** The file key in one of this key's stanzas; null when it does not open; throws when malformed. */
  protected abstract unwrapStanza(stanza: Stanza): Uint8Array | null;
}

class SshEd25519Identity extends SshStanzaIdentity {
  readonly type = "ssh-ed25519";
  readonly kind = "ssh-ed25519";
  #curve: X25519;
  #secret: X25519Scalar;
  #tweak: X25519Scalar;

  constructor(key: SshPublicKey, seed: Uint8Array) {
    super(key);
    this.#curve = x25519();
    // agessh ed25519PrivateKeyToCurve25519: SHA-512(seed)[:32]; X25519 clamps it.
    this.#secret = this.#curve.scalar(sha512(seed).subarray(0, 32));
    this.#tweak = this.#curve.scalar(ed25519Tweak(key.wire));
  }

  protected unwrapStanza(stanza: Stanza): Uint8Array | null {
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
    return openFileKey(wrapKey, stanza.body);
  }
}

class SshRsaIdentity extends SshStanzaIdentity {
  readonly type = "ssh-rsa";
  readonly kind = "ssh-rsa";
  #privateKey: KeyObject;
  #modulusBytes: number;

  constructor(key: SshPublicKey, privateKey: KeyObject) {
    super(key);
    this.#privateKey = privateKey;
    this.#modulusBytes = Math.ceil((privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
  }

  protected unwrapStanza(stanza: Stanza): Uint8Array | null {
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
      return null;
    }
    if (fileKey.length !== FILE_KEY_SIZE)
      throw new KeyError("age/damaged", "invalid ssh-rsa stanza");
    return new Uint8Array(fileKey);
  }
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}
