/**
 * The one-pass age writer (src/age/encrypt.ts) and its HKDF, against the
 * reference `age` CLI and age-encryption's Decrypter: every chunk boundary of
 * the STREAM payload, tampering, and the randomness it draws.
 */

import { hkdfSync, randomBytes } from "node:crypto";
import { Decrypter } from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decryptWith, encryptToSync } from "../../src/age/crypt.js";
import { encryptSync } from "../../src/age/encrypt.js";
import { readHeader } from "../../src/age/header.js";
import { hkdfSha256 } from "../../src/age/hkdf.js";
import { parseIdentities } from "../../src/age/identity.js";
import { parseRecipient } from "../../src/age/recipients.js";
import { KeyError } from "../../src/errors.js";
import { secureRandom } from "../../src/keys/wireguard.js";
import {
  type AgeKeyFile,
  ageDecrypt,
  ageKeygen,
  makeTempDir,
  type SshKeyFiles,
  sshKeygen,
  type TempDir,
} from "./helpers.js";

let dir: TempDir;
let ed: SshKeyFiles;
let age: AgeKeyFile;

beforeAll(async () => {
  dir = await makeTempDir();
  [ed, age] = await Promise.all([
    sshKeygen(dir.path, "ed", ["-t", "ed25519"]),
    ageKeygen(dir.path, "age"),
  ]);
});
afterAll(async () => dir?.remove());

const CHUNK = 64 * 1024;

describe("encryptSync", () => {
  it("writes every payload size age reads back, across chunk boundaries", async () => {
    const recipients = [parseRecipient(ed.publicText), parseRecipient(age.recipient)];
    const typage = new Decrypter();
    for (const identity of parseIdentities(age.text, age.path)) typage.addIdentity(identity);
    for (const size of [0, 1, 45, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 17]) {
      const plaintext = new Uint8Array(randomBytes(size));
      const file = encryptToSync(plaintext, recipients);
      // Header, 16-byte nonce, then one 16-byte tag per chunk (at least one).
      const chunks = Math.max(1, Math.ceil(size / CHUNK));
      expect(file.length - readHeader(file).length, `size ${size}`).toBe(16 + size + 16 * chunks);
      for (const identity of [ed.privatePath, age.path]) {
        const result = ageDecrypt(identity, file);
        expect(result.stderr, `size ${size}`).toBe("");
        expect(new Uint8Array(result.stdout), `size ${size}`).toEqual(plaintext);
      }
      expect(await typage.decrypt(file), `size ${size}`).toEqual(plaintext);
      const identities = parseIdentities(age.text, age.path);
      expect(await decryptWith(file, identities, "f"), `size ${size}`).toEqual(plaintext);
    }
  });

  it("makes files age rejects when any byte of the MAC or payload changes", () => {
    const file = encryptToSync(new Uint8Array(randomBytes(45)), [parseRecipient(age.recipient)]);
    const { length } = readHeader(file);
    // The MAC's first base64 character, the nonce, the ciphertext, the tag.
    for (const offset of [length - 44, length + 3, length + 20, file.length - 1]) {
      const tampered = Uint8Array.from(file);
      tampered[offset]! ^= offset === length - 44 ? 0x02 : 0x01;
      expect(ageDecrypt(age.path, tampered).status, `offset ${offset}`).not.toBe(0);
    }
  });

  it("draws the file key and the payload nonce from the random source it is given", () => {
    const draws: number[] = [];
    const counting = (length: number) => {
      draws.push(length);
      return secureRandom(length);
    };
    const file = encryptSync(
      new Uint8Array(45),
      [parseRecipient(age.recipient).recipient],
      counting,
    );
    expect(draws).toEqual([16, 16]);
    expect(new Uint8Array(ageDecrypt(age.path, file).stdout)).toEqual(new Uint8Array(45));
  });

  it("refuses to encrypt to nobody", () => {
    expect(() => encryptSync(new Uint8Array(1), [])).toThrow(KeyError);
  });
});

describe("hkdfSha256", () => {
  it("equals node:crypto's HKDF for 32-byte keys", () => {
    for (let i = 0; i < 200; i++) {
      const ikm = randomBytes(i % 65);
      const salt = randomBytes((i * 7) % 80);
      const info = randomBytes(i % 40);
      expect(Buffer.from(hkdfSha256(ikm, salt, info))).toEqual(
        Buffer.from(hkdfSync("sha256", ikm, salt, info, 32)),
      );
    }
    expect(Buffer.from(hkdfSha256(new Uint8Array(0), new Uint8Array(0), "header"))).toEqual(
      Buffer.from(hkdfSync("sha256", new Uint8Array(0), new Uint8Array(0), "header", 32)),
    );
  });
});

describe("secureRandom", () => {
  it("hands out the requested lengths and never the same bytes twice", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const length = [16, 32, 12, 600, 1][i % 5]!;
      const bytes = secureRandom(length);
      expect(bytes).toHaveLength(length);
      if (length >= 12) {
        const hex = Buffer.from(bytes).toString("hex");
        expect(seen.has(hex)).toBe(false);
        seen.add(hex);
      }
    }
  });
});
