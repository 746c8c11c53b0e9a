/** X25519 from node:crypto and from @noble agree with RFC 7748 and with each other. */
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nobleX25519, nodeX25519, type X25519, x25519 } from "../../src/keys/x25519.js";

const hex = (text: string) => new Uint8Array(Buffer.from(text, "hex"));
const toHex = (bytes: Uint8Array | null) =>
  bytes === null ? null : Buffer.from(bytes).toString("hex");
const multiply = (curve: X25519, scalar: Uint8Array, u: Uint8Array) =>
  curve.multiply(curve.scalar(scalar), curve.point(u));

/** u as 32 little-endian bytes. */
function littleEndian(value: bigint): Uint8Array {
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) bytes[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return bytes;
}
const P = 2n ** 255n - 19n;

describe.each([nodeX25519, nobleX25519])("X25519 with $name", (curve) => {
  it("matches RFC 7748 §5.2's test vectors", () => {
    // The second vector's u has its top bit set (…a493): X25519 must mask it.
    const vectors = [
      [
        "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
        "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
      ],
      [
        "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
        "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
        "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
      ],
    ];
    for (const [scalar, u, out] of vectors) {
      expect(toHex(multiply(curve, hex(scalar!), hex(u!)))).toBe(out);
    }
  });

  it("matches RFC 7748 §6.1's Diffie-Hellman", () => {
    const alice = curve.scalar(
      hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
    );
    const bob = curve.scalar(
      hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
    );
    expect(toHex(alice.publicKey)).toBe(
      "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
    );
    expect(toHex(bob.publicKey)).toBe(
      "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
    );
    const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    expect(toHex(curve.multiply(alice, curve.point(bob.publicKey)))).toBe(shared);
    expect(toHex(curve.multiply(bob, curve.point(alice.publicKey)))).toBe(shared);
  });

  it("gives null for low-order points (an all-zero result)", () => {
    const scalar = new Uint8Array(randomBytes(32));
    for (const u of [0n, 1n, P - 1n, P, P + 1n]) {
      expect(multiply(curve, scalar, littleEndian(u))).toBeNull();
    }
    // A point of order 8 (cr.yp.to/ecdh.html lists the curve's low-order points).
    const order8 = hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
    expect(multiply(curve, scalar, order8)).toBeNull();
  });

  it("checks lengths at the boundary", () => {
    expect(() => curve.scalar(new Uint8Array(31))).toThrow(/"scalar" expected 32 bytes, got 31/);
    expect(() => curve.point(new Uint8Array(33))).toThrow(/"u" expected 32 bytes, got 33/);
  });
});

describe("X25519 backends", () => {
  it("node:crypto is picked when this Node has X25519", () => {
    expect(x25519()).toBe(nodeX25519);
  });

  it("agree on any scalar and any u, canonical or not (property)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.oneof(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          // u ≥ p and u with the top bit set: non-canonical encodings.
          fc.bigInt({ min: P, max: 2n ** 256n - 1n }).map(littleEndian),
        ),
        (scalar, u) => {
          const fromNode = multiply(nodeX25519, scalar, u);
          expect(toHex(fromNode)).toBe(toHex(multiply(nobleX25519, scalar, u)));
          expect(toHex(nodeX25519.scalar(scalar).publicKey)).toBe(
            toHex(nobleX25519.scalar(scalar).publicKey),
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it("refuse a scalar from the other backend", () => {
    const scalar = new Uint8Array(32).fill(1);
    expect(() => nodeX25519.multiply(nobleX25519.scalar(scalar), nodeX25519.point(scalar))).toThrow(
      TypeError,
    );
    expect(() =>
      nobleX25519.multiply(nodeX25519.scalar(scalar), nobleX25519.point(scalar)),
    ).toThrow(TypeError);
  });
});
