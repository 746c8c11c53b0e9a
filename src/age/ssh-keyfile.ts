/**
 * Reading SSH private key files into raw key material, for the formats the age
 * CLI reads through golang.org/x/crypto/ssh.ParseRawPrivateKey and agessh
 * accepts: unencrypted OpenSSH keys ("openssh-key-v1", openssh PROTOCOL.key)
 * holding ssh-ed25519 or ssh-rsa, and RSA keys in PEM (PKCS#1 "RSA PRIVATE KEY",
 * PKCS#8 "PRIVATE KEY").
 *
 * Passphrase-protected keys are refused with a clear error: a host decrypts its
 * secrets unattended, and wgqt never prompts for key passphrases.
 *
 * Error messages name the source and the problem, never key contents.
 */

import { createPrivateKey, type JsonWebKey, type KeyObject } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { KeyError, quote } from "../errors.js";
import { decodeBase64 } from "./base64.js";
import { WireReader } from "./ssh-wire.js";

/** Private key material, with the public values age needs. */
export type SshPrivateKey =
  | { type: "ssh-ed25519"; seed: Uint8Array; publicKey: Uint8Array }
  | { type: "ssh-rsa"; key: KeyObject; modulus: Uint8Array; exponent: Uint8Array };

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/;
const OPENSSH_MAGIC = "openssh-key-v1\0";
/** PROTOCOL.key: the private list is padded to the cipher block size; 8 for "none". */
const NONE_BLOCK_SIZE = 8;

/** Parse an unencrypted OpenSSH or PEM private key. `source` names it in errors. */
export function readSshPrivateKey(text: string, source: string): SshPrivateKey {
  const fail = (message: string) => new KeyError("key/invalid", `${source}: ${message}`);
  const blocks = text.match(new RegExp(PEM_BLOCK.source, "g")) ?? [];
  if (blocks.length === 0) throw fail("no PEM private key block found");
  if (blocks.length > 1) throw fail("holds more than one PEM block; give one key per file");
  const [, label, content] = PEM_BLOCK.exec(blocks[0]!)!;

  if (label === "ENCRYPTED PRIVATE KEY" || /^Proc-Type:.*ENCRYPTED/m.test(content!)) {
    throw encryptedError(source);
  }
  switch (label) {
    case "OPENSSH PRIVATE KEY":
      return readOpenSshKey(pemBytes(content!, fail), fail, source);
    case "RSA PRIVATE KEY":
    case "PRIVATE KEY":
      return readPemRsaKey(blocks[0]!, fail);
    case "EC PRIVATE KEY":
      throw fail(`unsupported ssh key type "ecdsa"; age reads ssh-ed25519 and ssh-rsa keys`);
    case "DSA PRIVATE KEY":
      throw fail(`unsupported ssh key type "ssh-dss"; age reads ssh-ed25519 and ssh-rsa keys`);
    default:
      throw fail(`unsupported PEM block ${quote(label)}`);
  }
}

function encryptedError(source: string): KeyError {
  return new KeyError(
    "key/unsupported",
    `${source}: ssh key is encrypted with a passphrase; wgqt cannot use it ` +
      "(use an unencrypted key such as the host key, or an age identity)",
  );
}

function pemBytes(content: string, fail: (m: string) => KeyError): Uint8Array {
  const bytes = decodeBase64(content.replace(/\s+/g, ""));
  if (bytes === null) throw fail("key block is not valid base64");
  return bytes;
}

/**
 * openssh PROTOCOL.key:
 *
 *     byte[]  "openssh-key-v1\0"
 *     string  ciphername, string kdfname, string kdfoptions
 *     uint32  number of keys N
 *     string  publickey1 … publickeyN
 *     string  encrypted, padded list of private keys
 *
 * and the private list: uint32 checkint, uint32 checkint, then per key its type
 * and fields and a comment, then padding bytes 1, 2, 3, ….
 */
function readOpenSshKey(
  bytes: Uint8Array,
  fail: (m: string) => KeyError,
  source: string,
): SshPrivateKey {
  const malformed = (what: string) => fail(`malformed openssh private key (${what})`);
  const magic = new TextEncoder().encode(OPENSSH_MAGIC);
  if (bytes.length < magic.length || magic.some((b, i) => bytes[i] !== b)) {
    throw malformed("bad magic");
  }
  const reader = new WireReader(bytes.subarray(magic.length));
  const cipherName = reader.text();
  const kdfName = reader.text();
  const kdfOptions = reader.string();
  const keyCount = reader.uint32();
  if (cipherName === null || kdfName === null || kdfOptions === null || keyCount === null) {
    throw malformed("truncated");
  }
  if (cipherName !== "none" || kdfName !== "none") throw encryptedError(source);
  if (keyCount !== 1) throw fail(`holds ${keyCount} keys; give one key per file`);
  const publicBlob = reader.string();
  const privateList = reader.string();
  if (publicBlob === null || privateList === null || reader.remaining !== 0) {
    throw malformed("bad layout");
  }
  if (privateList.length % NONE_BLOCK_SIZE !== 0) throw malformed("bad padding");

  const list = new WireReader(privateList);
  const check1 = list.uint32();
  const check2 = list.uint32();
  if (check1 === null || check1 !== check2) throw malformed("check words differ");
  const type = list.text();
  const publicType = new WireReader(publicBlob).text();
  if (type === null || type !== publicType) throw malformed("key types differ");

  let key: SshPrivateKey;
  if (type === "ssh-ed25519") key = readOpenSshEd25519(list, malformed);
  else if (type === "ssh-rsa") key = readOpenSshRsa(list, malformed);
  else
    throw fail(`unsupported ssh key type ${quote(type)}; age reads ssh-ed25519 and ssh-rsa keys`);

  const comment = list.string();
  const padding = list.rest();
  if (
    comment === null ||
    padding.length >= NONE_BLOCK_SIZE ||
    padding.some((b, i) => b !== i + 1)
  ) {
    throw malformed("bad padding");
  }
  return key;
}

/** ssh-ed25519 private fields: string public key (32), string seed || public key (64). */
function readOpenSshEd25519(
  list: WireReader,
  malformed: (what: string) => KeyError,
): SshPrivateKey {
  const publicKey = list.string();
  const secret = list.string();
  if (publicKey?.length !== 32 || secret?.length !== 64) throw malformed("bad ed25519 lengths");
  const seed = secret.slice(0, 32);
  const derived = ed25519.getPublicKey(seed);
  if (!equalBytes(secret.subarray(32), publicKey) || !equalBytes(derived, publicKey)) {
    throw malformed("ed25519 public key does not match the private key");
  }
  return { type: "ssh-ed25519", seed, publicKey: publicKey.slice() };
}

/** ssh-rsa private fields: mpint n, e, d, iqmp, p, q. */
function readOpenSshRsa(list: WireReader, malformed: (what: string) => KeyError): SshPrivateKey {
  const [n, e, d, iqmp, p, q] = Array.from({ length: 6 }, () => list.positiveMpint());
  if (!n || !e || !d || !iqmp || !p || !q) throw malformed("bad rsa fields");
  const [bn, bd, bp, bq] = [n, d, p, q].map(toBigInt) as [bigint, bigint, bigint, bigint];
  if (bp <= 1n || bq <= 1n || bp * bq !== bn) {
    throw malformed("rsa factors do not match the modulus");
  }
  // JWK wants the CRT exponents that OpenSSH does not store (RFC 8017, Section 3.2).
  const jwk: JsonWebKey = {
    kty: "RSA",
    n: base64url(n),
    e: base64url(e),
    d: base64url(d),
    p: base64url(p),
    q: base64url(q),
    dp: base64url(fromBigInt(bd % (bp - 1n))),
    dq: base64url(fromBigInt(bd % (bq - 1n))),
    qi: base64url(iqmp),
  };
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: jwk, format: "jwk" });
  } catch {
    throw malformed("rsa key rejected by openssl");
  }
  return { type: "ssh-rsa", key, modulus: n.slice(), exponent: e.slice() };
}

/** PKCS#1 or PKCS#8 PEM, parsed by OpenSSL; only RSA keys are age identities. */
function readPemRsaKey(pem: string, fail: (m: string) => KeyError): SshPrivateKey {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch {
    throw fail("malformed PEM private key");
  }
  if (key.asymmetricKeyType !== "rsa") {
    throw fail(
      `unsupported key type ${quote(key.asymmetricKeyType)} in PEM; age reads only RSA keys in PEM form`,
    );
  }
  const jwk = key.export({ format: "jwk" });
  return {
    type: "ssh-rsa",
    key,
    modulus: new Uint8Array(Buffer.from(jwk.n!, "base64url")),
    exponent: new Uint8Array(Buffer.from(jwk.e!, "base64url")),
  };
}

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString("hex")}`);
}

function fromBigInt(value: bigint): Uint8Array {
  const hex = value.toString(16);
  return new Uint8Array(Buffer.from(hex.length % 2 ? `0${hex}` : hex, "hex"));
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
