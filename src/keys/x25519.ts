/**
 * X25519 (RFC 7748 §5), the one curve operation WireGuard keys and age's
 * X25519 and ssh-ed25519 stanzas need, from node:crypto (OpenSSL) when it has
 * X25519 and from @noble/curves otherwise (a Node built without it, e.g. some
 * FIPS builds). OpenSSL does one operation in ~40 µs where @noble takes ~1.3 ms
 * on the same core: keygen's cost is mostly these operations.
 *
 * Scalars and points are prepared once (`scalar`, `point`) and reused, since
 * turning bytes into a node:crypto KeyObject costs about as much as the
 * multiplication. Both backends clamp scalars and mask the top bit of u
 * themselves (RFC 7748 §5), and both refuse an all-zero result, so they agree
 * on every input (test/keys/x25519.test.ts cross-checks them).
 */

import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { x25519 as noble } from "@noble/curves/ed25519.js";

/** A scalar ready for repeated multiplications. */
export interface X25519Scalar {
  /** X25519(scalar, 9): the public key, or an ephemeral share. */
  readonly publicKey: Uint8Array;
}

/** A u-coordinate ready for repeated multiplications. */
export interface X25519Point {
  readonly u: Uint8Array;
}

/** One implementation of X25519; `x25519()` picks the fastest available. */
export interface X25519 {
  readonly name: "node:crypto" | "@noble/curves";
  /** Prepare a 32-byte scalar (unclamped bytes are fine: X25519 clamps). */
  scalar(bytes: Uint8Array): X25519Scalar;
  /** Prepare a 32-byte u-coordinate. */
  point(u: Uint8Array): X25519Point;
  /**
   * X25519(scalar, point), or null when the result is all zeros: the point has
   * small order and the "shared secret" is predictable (RFC 7748 §6.1). Scalar
   * and point must come from this same backend.
   */
  multiply(scalar: X25519Scalar, point: X25519Point): Uint8Array | null;
}

const KEY_LENGTH = 32;

function checkLength(bytes: Uint8Array, what: string): void {
  if (bytes.length !== KEY_LENGTH) {
    throw new RangeError(`"${what}" expected ${KEY_LENGTH} bytes, got ${bytes.length}`);
  }
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}

class NodeScalar implements X25519Scalar {
  constructor(
    readonly key: KeyObject,
    readonly publicKey: Uint8Array,
  ) {}
}

class NodePoint implements X25519Point {
  constructor(
    readonly key: KeyObject,
    readonly u: Uint8Array,
  ) {}
}

/**
 * node:crypto. Keys go in as JWK: OpenSSL 3 decodes a PKCS#8 or SPKI DER key
 * about 5× slower than the JWK path, which hands the raw bytes straight to
 * EVP_PKEY_new_raw_{private,public}_key. Importing a private key computes its
 * public key there, which is exactly the share an ephemeral key needs.
 */
export const nodeX25519: X25519 = {
  name: "node:crypto",
  scalar(bytes) {
    checkLength(bytes, "scalar");
    // Node reads only `d` from a private OKP JWK and derives the public key
    // itself; `x` must be present as a string but is not consulted.
    const key = createPrivateKey({
      key: { kty: "OKP", crv: "X25519", d: base64url(bytes), x: "" },
      format: "jwk",
    });
    const x = key.export({ format: "jwk" }).x;
    if (x === undefined) throw new Error("node:crypto exported an X25519 key without x");
    return new NodeScalar(key, new Uint8Array(Buffer.from(x, "base64url")));
  },
  point(u) {
    checkLength(u, "u");
    const key = createPublicKey({
      key: { kty: "OKP", crv: "X25519", x: base64url(u) },
      format: "jwk",
    });
    return new NodePoint(key, Uint8Array.from(u));
  },
  multiply(scalar, point) {
    if (!(scalar instanceof NodeScalar) || !(point instanceof NodePoint)) {
      throw new TypeError("X25519 scalar and point must come from node:crypto");
    }
    try {
      return new Uint8Array(diffieHellman({ privateKey: scalar.key, publicKey: point.key }));
    } catch {
      // OpenSSL fails the derivation on an all-zero result (ERR_OSSL_FAILED_DURING_DERIVATION);
      // with valid X25519 KeyObjects that is the only way it fails.
      return null;
    }
  },
};

class NobleScalar implements X25519Scalar {
  #publicKey: Uint8Array | undefined;

  constructor(readonly bytes: Uint8Array) {}

  /** Computed on first use: a tweak scalar never needs its public key. */
  get publicKey(): Uint8Array {
    this.#publicKey ??= noble.getPublicKey(this.bytes);
    return this.#publicKey;
  }
}

/** @noble/curves: constant-time JavaScript, the fallback. */
export const nobleX25519: X25519 = {
  name: "@noble/curves",
  scalar(bytes) {
    checkLength(bytes, "scalar");
    return new NobleScalar(Uint8Array.from(bytes));
  },
  point(u) {
    checkLength(u, "u");
    return { u: Uint8Array.from(u) };
  },
  multiply(scalar, point) {
    if (!(scalar instanceof NobleScalar)) {
      throw new TypeError("X25519 scalar must come from @noble/curves");
    }
    try {
      return noble.getSharedSecret(scalar.bytes, point.u);
    } catch {
      // @noble throws "invalid private or public key received" on an all-zero result.
      return null;
    }
  },
};

let chosen: X25519 | undefined;

/** The backend to use: node:crypto if this Node can do X25519, decided on first call. */
export function x25519(): X25519 {
  chosen ??= nodeHasX25519() ? nodeX25519 : nobleX25519;
  return chosen;
}

function nodeHasX25519(): boolean {
  try {
    generateKeyPairSync("x25519");
    return true;
  } catch {
    return false;
  }
}
