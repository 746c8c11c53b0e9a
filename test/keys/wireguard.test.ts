/** WireGuard keys agree with `wg` and RFC 7748, and parse strictly. */
import { x25519 } from "@noble/curves/ed25519.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KeyError } from "../../src/errors.js";
import {
  decodeKey,
  generateKeyPair,
  generatePresharedKey,
  publicKeyOf,
} from "../../src/keys/wireguard.js";
import { ok } from "../helpers/run.js";

describe("WireGuard keys", () => {
  it("agree with `wg pubkey` for keys we make", () => {
    for (let i = 0; i < 20; i++) {
      const { privateKey, publicKey } = generateKeyPair();
      expect(ok("wg", ["pubkey"], { input: `${privateKey}\n` }).trim()).toBe(publicKey);
    }
  });

  it("derive the same public key as `wg pubkey` for keys `wg genkey` makes", () => {
    for (let i = 0; i < 10; i++) {
      const privateKey = ok("wg", ["genkey"]).trim();
      expect(publicKeyOf(privateKey)).toBe(
        ok("wg", ["pubkey"], { input: `${privateKey}\n` }).trim(),
      );
    }
  });

  it("are clamped as wg genkey clamps them (RFC 7748 §5)", () => {
    const bytes = decodeKey(generateKeyPair(() => new Uint8Array(32).fill(0xff)).privateKey);
    expect(bytes[0]! & 7).toBe(0);
    expect(bytes[31]! & 0x80).toBe(0);
    expect(bytes[31]! & 0x40).toBe(0x40);
  });

  it("match RFC 7748 §6.1's Alice", () => {
    const alice = Buffer.from(
      "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
      "hex",
    );
    const expected = Buffer.from(
      "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
      "hex",
    );
    expect(publicKeyOf(alice.toString("base64"))).toBe(expected.toString("base64"));
    expect(Buffer.from(x25519.getPublicKey(alice)).equals(expected)).toBe(true);
  });

  it("use the injected randomness", () => {
    const fixed = () => new Uint8Array(32).fill(7);
    expect(generatePresharedKey(fixed)).toBe(Buffer.alloc(32, 7).toString("base64"));
    expect(generateKeyPair(fixed)).toEqual(generateKeyPair(fixed));
  });

  it.each([
    ["too short", "abc"],
    ["43 characters", "a".repeat(43)],
    ["no padding", `${"A".repeat(43)}A`],
    ["non-canonical padding bits", `${"A".repeat(42)}B=`],
    ["url-safe alphabet", `${"-".repeat(42)}A=`],
    ["trailing newline", `${"A".repeat(43)}=\n`],
    ["white space", ` ${"A".repeat(42)}A=`],
  ])("reject %s, quoting the value", (_what, text) => {
    expect(() => decodeKey(text, "machines.tavern.public_key")).toThrow(KeyError);
    expect(() => decodeKey(text, "machines.tavern.public_key")).toThrow(
      /^machines\.tavern\.public_key: not a WireGuard key/,
    );
  });

  it("accept exactly the canonical encodings of 32 bytes (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const text = Buffer.from(bytes).toString("base64");
        expect(Buffer.from(decodeKey(text)).equals(Buffer.from(bytes))).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        let accepted: boolean;
        try {
          decodeKey(text);
          accepted = true;
        } catch (error) {
          expect(error).toBeInstanceOf(KeyError);
          accepted = false;
        }
        const canonical =
          /^[A-Za-z0-9+/]{43}=$/.test(text) &&
          Buffer.from(Buffer.from(text, "base64")).toString("base64") === text;
        expect(accepted).toBe(canonical);
      }),
    );
  });
});
