/**
 * Interoperability with the reference age CLI (1.1.x): what we encrypt, `age -d`
 * decrypts with the intended identity and only with it; what `age -e` encrypts,
 * we decrypt with the same key files.
 */

import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decryptWith, encryptTo } from "../../src/age/crypt.js";
import { readHeader } from "../../src/age/header.js";
import { parseIdentities } from "../../src/age/identity.js";
import { parseRecipient, recipientMatchesStanza } from "../../src/age/recipients.js";
import { KeyError } from "../../src/errors.js";
import {
  type AgeKeyFile,
  ageDecrypt,
  ageEncrypt,
  ageKeygen,
  makeTempDir,
  type SshKeyFiles,
  sshKeygen,
  type TempDir,
} from "./helpers.js";

/** A key pair as the tests see it: where the CLI reads it, and its two texts. */
interface TestKey {
  name: string;
  identityPath: string;
  identityText: string;
  /** What wgqt.toml would hold. */
  recipient: string;
  /** age CLI flags that encrypt to it. */
  cliFlags: string[];
}

const fromSsh = (name: string, key: SshKeyFiles): TestKey => ({
  name,
  identityPath: key.privatePath,
  identityText: key.privateText,
  recipient: key.publicText,
  cliFlags: ["-R", key.publicPath],
});
const fromAge = (name: string, key: AgeKeyFile): TestKey => ({
  name,
  identityPath: key.path,
  identityText: key.text,
  recipient: key.recipient,
  cliFlags: ["-r", key.recipient],
});

let dir: TempDir;
let keys: TestKey[];
let strangers: TestKey[];

beforeAll(async () => {
  dir = await makeTempDir();
  const d = dir.path;
  const [ed, rsa, rsaPem, rsaPkcs8, age, otherEd, otherRsa, otherAge] = await Promise.all([
    sshKeygen(d, "ed", ["-t", "ed25519"]),
    sshKeygen(d, "rsa", ["-t", "rsa", "-b", "2048"]),
    sshKeygen(d, "rsa-pem", ["-t", "rsa", "-b", "2048", "-m", "PEM"]),
    sshKeygen(d, "rsa-pkcs8", ["-t", "rsa", "-b", "2048", "-m", "PKCS8"]),
    ageKeygen(d, "age.txt"),
    sshKeygen(d, "other-ed", ["-t", "ed25519"]),
    sshKeygen(d, "other-rsa", ["-t", "rsa", "-b", "2048"]),
    ageKeygen(d, "other-age.txt"),
  ]);
  keys = [
    fromSsh("ssh-ed25519", ed),
    fromSsh("ssh-rsa (openssh)", rsa),
    fromSsh("ssh-rsa (PKCS#1 PEM)", rsaPem),
    fromSsh("ssh-rsa (PKCS#8 PEM)", rsaPkcs8),
    fromAge("x25519", age),
  ];
  strangers = [
    fromSsh("other ssh-ed25519", otherEd),
    fromSsh("other ssh-rsa", otherRsa),
    fromAge("other x25519", otherAge),
  ];
});
afterAll(async () => {
  await dir.remove();
});

const secret = () => new Uint8Array(randomBytes(32));
const identitiesOf = (key: TestKey) => parseIdentities(key.identityText, key.identityPath);

describe("encryptTo, decrypted by age -d", () => {
  it("works for every recipient type", async () => {
    for (const key of keys) {
      const plaintext = secret();
      const file = await encryptTo(plaintext, [parseRecipient(key.recipient)]);
      const result = ageDecrypt(key.identityPath, file);
      expect(result.stderr, key.name).toBe("");
      expect(new Uint8Array(result.stdout), key.name).toEqual(plaintext);
    }
  });

  it("works for a file encrypted to several recipients, each decrypting alone", async () => {
    const plaintext = secret();
    const recipients = keys.map((k) => parseRecipient(k.recipient));
    const file = await encryptTo(plaintext, recipients);
    const { stanzas } = readHeader(file);
    expect(stanzas).toHaveLength(keys.length);
    for (const recipient of recipients) {
      expect(stanzas.filter((s) => recipientMatchesStanza(recipient, s))).toHaveLength(1);
    }
    for (const key of keys) {
      expect(new Uint8Array(ageDecrypt(key.identityPath, file).stdout), key.name).toEqual(
        plaintext,
      );
      expect(await decryptWith(file, identitiesOf(key), key.name)).toEqual(plaintext);
    }
  });

  it("handles empty and multi-chunk (> 64 KiB) plaintexts", async () => {
    const [ed, , , , age] = keys;
    for (const plaintext of [new Uint8Array(0), new Uint8Array(randomBytes(200_000))]) {
      const file = await encryptTo(plaintext, [
        parseRecipient(ed!.recipient),
        parseRecipient(age!.recipient),
      ]);
      expect(new Uint8Array(ageDecrypt(ed!.identityPath, file).stdout)).toEqual(plaintext);
      expect(new Uint8Array(ageDecrypt(age!.identityPath, file).stdout)).toEqual(plaintext);
    }
  });

  it("is not decryptable by anyone else", async () => {
    const file = await encryptTo(
      secret(),
      keys.map((k) => parseRecipient(k.recipient)),
    );
    for (const stranger of strangers) {
      const result = ageDecrypt(stranger.identityPath, file);
      expect(result.status, stranger.name).not.toBe(0);
      expect(result.stdout).toHaveLength(0);
      await expect(decryptWith(file, identitiesOf(stranger), "tavern.age")).rejects.toMatchObject({
        code: "age/no-identity",
        message: expect.stringMatching(/^tavern\.age: /),
      });
    }
  });

  it("writes one stanza per distinct recipient", async () => {
    const [ed] = keys;
    const recipient = parseRecipient(ed!.recipient);
    const again = parseRecipient(`${ed!.recipient.trim()} another comment`);
    const file = await encryptTo(secret(), [recipient, again]);
    expect(readHeader(file).stanzas).toHaveLength(1);
  });
});

describe("age -e, decrypted by decryptWith", () => {
  it("works for every identity type", async () => {
    for (const key of keys) {
      const plaintext = secret();
      const file = ageEncrypt(key.cliFlags, plaintext);
      expect(await decryptWith(file, identitiesOf(key), key.name), key.name).toEqual(plaintext);
    }
  });

  it("works for a file age encrypted to several recipients", async () => {
    const plaintext = secret();
    const file = ageEncrypt(
      keys.flatMap((k) => k.cliFlags),
      plaintext,
    );
    for (const key of keys) {
      expect(await decryptWith(file, identitiesOf(key), key.name), key.name).toEqual(plaintext);
    }
    // All identities at once, the strangers first: the right one is still found.
    const everyone = [...strangers, ...keys].flatMap(identitiesOf);
    expect(await decryptWith(file, everyone, "all")).toEqual(plaintext);
  });

  it("reports no match for the wrong identities, naming the file's recipients", async () => {
    const [ed, rsa, , , age] = keys;
    const file = ageEncrypt([...ed!.cliFlags, ...rsa!.cliFlags, ...age!.cliFlags], secret());
    const wrong = strangers.flatMap(identitiesOf);
    const attempt = decryptWith(file, wrong, "psk.age");
    await expect(attempt).rejects.toThrow(KeyError);
    const edTag = parseRecipient(ed!.recipient).tag!;
    await expect(decryptWith(file, wrong, "psk.age")).rejects.toThrow(
      new RegExp(
        `^psk\\.age: no identity matches \\(file is for .*ssh-ed25519 ${escapeRegExp(edTag)}`,
      ),
    );
    for (const stranger of strangers) {
      expect(ageDecrypt(stranger.identityPath, file).status).not.toBe(0);
    }
  });
});

describe("decryptWith on damaged input", () => {
  it("refuses a tampered payload or header, as age does", async () => {
    const [ed, , , , age] = keys;
    const plaintext = secret();
    const file = await encryptTo(plaintext, [
      parseRecipient(ed!.recipient),
      parseRecipient(age!.recipient),
    ]);
    const { length } = readHeader(file);

    const payload = file.slice();
    payload[payload.length - 1]! ^= 1;
    // The MAC is the last base64 character before the header's final LF.
    const mac = file.slice();
    mac[length - 2] = mac[length - 2] === 0x41 ? 0x42 : 0x41;

    for (const [name, damaged] of [
      ["payload", payload],
      ["mac", mac],
    ] as const) {
      for (const key of [ed!, age!]) {
        await expect(decryptWith(damaged, identitiesOf(key), name), name).rejects.toMatchObject({
          code: expect.stringMatching(/^age\/(damaged|bad-header)$/),
          message: expect.stringMatching(new RegExp(`^${name}: `)),
        });
        expect(ageDecrypt(key.identityPath, damaged).status, name).not.toBe(0);
      }
    }
  });

  it("opens or refuses every one-chunk file exactly as age-encryption's Decrypter does", async () => {
    // decryptWith opens a payload of one STREAM chunk itself; the Decrypter
    // (which reads every size) is the reference for each cut, extension and
    // bit flip of files from age -e and from us, empty plaintext included.
    const [ed, , , , age] = keys;
    const { Decrypter } = await import("age-encryption");
    const reference = async (file: Uint8Array, key: TestKey) => {
      const decrypter = new Decrypter();
      for (const identity of identitiesOf(key)) decrypter.addIdentity(identity);
      try {
        return await decrypter.decrypt(file);
      } catch {
        return null;
      }
    };
    const ours = async (file: Uint8Array, key: TestKey) => {
      try {
        return await decryptWith(file, identitiesOf(key), "f.age");
      } catch (error) {
        expect(error, "only KeyErrors").toBeInstanceOf(KeyError);
        expect((error as Error).message).toMatch(/^f\.age: /);
        return null;
      }
    };
    const files = [
      ageEncrypt(ed!.cliFlags, new Uint8Array(0)),
      ageEncrypt(age!.cliFlags, secret()),
      await encryptTo(new Uint8Array(randomBytes(45)), [
        parseRecipient(ed!.recipient),
        parseRecipient(age!.recipient),
      ]),
    ];
    const mutation = fc.oneof(
      fc.record({ cut: fc.nat() }),
      fc.record({ extra: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
      fc.record({ flip: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...files.keys()),
        mutation,
        fc.constantFrom(ed!, age!),
        async (index, change, key) => {
          const file = files[index]!;
          let damaged: Uint8Array;
          if ("cut" in change) damaged = file.subarray(0, change.cut % file.length);
          else if ("extra" in change) damaged = new Uint8Array([...file, ...change.extra]);
          else {
            damaged = file.slice();
            damaged[change.flip % file.length]! ^= 1 << change.bit;
          }
          expect(await ours(damaged, key)).toEqual(await reference(damaged, key));
        },
      ),
      { numRuns: 300 },
    );
    // Unchanged, each opens with both keys it is for (the first with ed only).
    expect(await ours(files[0]!, ed!)).toEqual(new Uint8Array(0));
    expect(await ours(files[2]!, age!)).toEqual(await reference(files[2]!, age!));
  });

  it("refuses a one-chunk file cut short or extended, as age -d does", async () => {
    const [, , , , age] = keys;
    const file = ageEncrypt(age!.cliFlags, secret());
    const { length } = readHeader(file);
    for (const [name, damaged] of [
      ["one byte short", file.subarray(0, file.length - 1)],
      ["no payload", file.subarray(0, length)],
      ["nonce only", file.subarray(0, length + 16)],
      ["one byte more", new Uint8Array([...file, 0])],
    ] as const) {
      await expect(decryptWith(damaged, identitiesOf(age!), "f.age"), name).rejects.toThrow(
        /^f\.age: damaged age file: /,
      );
      expect(ageDecrypt(age!.identityPath, damaged).status, name).not.toBe(0);
    }
  });

  it("gives KeyErrors naming the source for garbage, and for empty inputs", async () => {
    const identities = identitiesOf(keys[0]!);
    await expect(
      decryptWith(new TextEncoder().encode("hello"), identities, "x.age"),
    ).rejects.toThrow(/^x\.age: age header: not an age file/);
    await expect(decryptWith(new Uint8Array(), [], "x.age")).rejects.toMatchObject({
      code: "age/no-identity",
    });
    await expect(encryptTo(secret(), [])).rejects.toMatchObject({ code: "age/no-recipients" });
  });

  it("prefixes a broken stanza of ours with the source", async () => {
    const [ed] = keys;
    const file = ageEncrypt(ed!.cliFlags, secret());
    const { stanzas, length } = readHeader(file);
    const share = stanzas[0]!.args[1]!;
    // Same tag, a different (valid) share: the stanza is ours but does not open.
    const text = new TextDecoder("latin1").decode(file.subarray(0, length));
    const other = share.startsWith("A") ? `B${share.slice(1)}` : `A${share.slice(1)}`;
    const tampered = new Uint8Array([
      ...new TextEncoder().encode(text.replace(share, other)),
      ...file.subarray(length),
    ]);
    await expect(decryptWith(tampered, identitiesOf(ed!), "f.age")).rejects.toThrow(
      /^f\.age: (ssh-ed25519 stanza for this key does not decrypt|invalid ssh-ed25519 stanza)/,
    );
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
