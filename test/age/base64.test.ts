import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeBase64NoPad, encodeBase64NoPad } from "../../src/age/base64.js";

/** The definition: decode leniently, and accept only if encoding gives the text back. */
function byReencoding(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*$/.test(text) || text.length % 4 === 1) return null;
  const bytes = new Uint8Array(Buffer.from(text, "base64"));
  return encodeBase64NoPad(bytes) === text ? bytes : null;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

describe("decodeBase64NoPad", () => {
  it("decodes what encodeBase64NoPad writes, for every length", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        expect(decodeBase64NoPad(encodeBase64NoPad(bytes))).toEqual(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it("accepts and refuses exactly what re-encoding accepts and refuses", () => {
    // Texts over the alphabet (where stray bits in the last character are the
    // one way to be non-canonical), with now and then a padding, space or junk character.
    const digit = fc.constantFrom(...ALPHABET, ...ALPHABET, ...ALPHABET, "=", " ", "-", "_", "\n");
    fc.assert(
      fc.property(fc.array(digit, { maxLength: 12 }), (digits) => {
        const text = digits.join("");
        expect(decodeBase64NoPad(text)).toEqual(byReencoding(text));
      }),
      { numRuns: 20_000 },
    );
  });

  it.each([
    ["", []],
    ["AA", [0]],
    ["AAA", [0, 0]],
    ["AAAA", [0, 0, 0]],
    ["/w", [255]],
    ["//8", [255, 255]],
  ])("decodes %j", (text, bytes) => {
    expect(decodeBase64NoPad(text)).toEqual(new Uint8Array(bytes));
  });

  it.each([
    ["AB", "stray bits after 1 byte"],
    ["AAB", "stray bits after 2 bytes"],
    ["/x", "stray bits after 1 byte"],
    ["AAAAA", "an impossible length"],
    ["AA==", "padding"],
    ["AA A", "a space"],
    ["AA-_", "the URL-safe alphabet"],
  ])("refuses %j (%s)", (text) => {
    expect(decodeBase64NoPad(text)).toBeNull();
  });
});
