/**
 * Our X25519 stanzas against the age spec's formula (computed here with
 * @noble), and against typage's own X25519 recipient and identity. `age -d`
 * and `age -e` interop is in crypt.test.ts.
 */

import { createCipheriv, randomBytes } from "node:crypto";
import { x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bech32 } from "@scure/base";
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from "age-encryption";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readHeader } from "../../src/age/header.js";
import { parseIdentities } from "../../src/age/identity.js";
import { X25519Identity, X25519Recipient } from "../../src/age/x25519-stanza.js";

const fileKey = new Uint8Array(16).fill(9);
const label = new TextEncoder().encode("age-encryption.org/v1/X25519");

/** age-encryption.org/v1, "The X25519 recipient type", step by step. */
function specWrap(recipient: Uint8Array, ephemeral: Uint8Array) {
  const share = x25519.getPublicKey(ephemeral);
  const secret = x25519.getSharedSecret(ephemeral, recipient);
  const wrapKey = hkdf(sha256, secret, new Uint8Array([...share, ...recipient]), label, 32);
  const cipher = createCipheriv("chacha20-poly1305", wrapKey, new Uint8Array(12), {
    authTagLength: 16,
  });
  const body = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
  const shareText = Buffer.from(share).toString("base64").replace(/=+$/, "");
  return { args: ["X25519", shareText], body: new Uint8Array(body) };
}

describe("X25519 stanzas", () => {
  it("are the spec's formula (property)", () => {
    const recipient = x25519.getPublicKey(x25519.utils.randomSecretKey());
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (ephemeral) => {
        const [stanza] = new X25519Recipient(recipient, () => ephemeral).wrapFileKey(fileKey);
        const expected = specWrap(recipient, ephemeral);
        expect(stanza!.args).toEqual(expected.args);
        expect(stanza!.body).toEqual(expected.body);
      }),
      { numRuns: 25 },
    );
  });

  it("round-trip with typage's X25519 recipient and identity", async () => {
    const secret = await generateX25519Identity();
    const recipient = await identityToRecipient(secret);
    const [ours] = parseIdentities(secret, "id");
    const plaintext = new Uint8Array(randomBytes(100));

    // Ours to typage's identity.
    const encrypter = new Encrypter();
    encrypter.addRecipient(new X25519Recipient(bech32.decodeToBytes(recipient).bytes));
    const file = await encrypter.encrypt(plaintext);
    expect(readHeader(file).stanzas.map((s) => s.type)).toEqual(["X25519"]);
    const theirs = new Decrypter();
    theirs.addIdentity(secret);
    expect(await theirs.decrypt(file)).toEqual(plaintext);

    // typage's recipient to ours.
    const typage = new Encrypter();
    typage.addRecipient(recipient);
    const mine = new Decrypter();
    mine.addIdentity(ours!);
    expect(await mine.decrypt(await typage.encrypt(plaintext))).toEqual(plaintext);
  });

  it("identity answers for its recipient and ignores stanzas it cannot open", async () => {
    const scalar = new Uint8Array(randomBytes(32));
    const identity = new X25519Identity(scalar);
    const publicKey = x25519.getPublicKey(scalar);
    expect(identity.recipient).toBe(bech32.encodeFromBytes("age", publicKey));
    const [stanza] = new X25519Recipient(publicKey).wrapFileKey(fileKey);
    expect(identity.unwrapFileKey([stanza!])).toEqual(fileKey);
    const stranger = x25519.getPublicKey(x25519.utils.randomSecretKey());
    const [other] = new X25519Recipient(stranger).wrapFileKey(fileKey);
    expect(identity.unwrapFileKey([other!])).toBeNull();
  });
});
