import { createCipheriv, createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { Stanza } from "age-encryption";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readHeader } from "../../src/age/header.js";
import {
  parseSshIdentity,
  parseSshPublicKey,
  SshEd25519Recipient,
  SshRsaRecipient,
} from "../../src/age/ssh.js";
import { KeyError } from "../../src/errors.js";
import { ageEncrypt, makeTempDir, type SshKeyFiles, sshKeygen, type TempDir } from "./helpers.js";

let dir: TempDir;
let ed: SshKeyFiles;
let ed2: SshKeyFiles;
let rsa: SshKeyFiles;
let rsaPem: SshKeyFiles;
let rsaPkcs8: SshKeyFiles;

beforeAll(async () => {
  dir = await makeTempDir();
  [ed, ed2, rsa, rsaPem, rsaPkcs8] = await Promise.all([
    sshKeygen(dir.path, "ed", ["-t", "ed25519"]),
    sshKeygen(dir.path, "ed2", ["-t", "ed25519"]),
    sshKeygen(dir.path, "rsa", ["-t", "rsa", "-b", "2048"]),
    sshKeygen(dir.path, "rsa-pem", ["-t", "rsa", "-b", "2048", "-m", "PEM"]),
    sshKeygen(dir.path, "rsa-pkcs8", ["-t", "rsa", "-b", "2048", "-m", "PKCS8"]),
  ]);
});
afterAll(async () => {
  await dir.remove();
});

/** `"<type> <base64>"` of a .pub line, the comment dropped. */
const firstTwoFields = (line: string) => line.trim().split(" ").slice(0, 2).join(" ");
const blobOf = (line: string) => new Uint8Array(Buffer.from(line.trim().split(" ")[1]!, "base64"));
/** Independent tag computation with node:crypto: base64(SHA-256(blob)[:4]) without padding. */
const nodeTag = (blob: Uint8Array) =>
  createHash("sha256").update(blob).digest().subarray(0, 4).toString("base64").replace(/=+$/, "");
/** Build a public key line from a wire blob. */
const line = (type: string, wire: Uint8Array) => `${type} ${Buffer.from(wire).toString("base64")}`;
/** RFC 4251 string. */
const sshString = (bytes: Uint8Array | string) => {
  const b = typeof bytes === "string" ? Buffer.from(bytes) : Buffer.from(bytes);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(b.length);
  return Buffer.concat([length, b]);
};

describe("parseSshPublicKey", () => {
  it("parses ssh-keygen's ed25519 and rsa keys, dropping the comment", () => {
    for (const key of [ed, rsa, rsaPem, rsaPkcs8]) {
      const parsed = parseSshPublicKey(key.publicText);
      expect(parsed.normalized).toBe(firstTwoFields(key.publicText));
      expect(parsed.type).toBe(key.publicText.split(" ")[0]);
      expect(parsed.wire).toEqual(blobOf(key.publicText));
      expect(parsed.tag).toBe(nodeTag(parsed.wire));
      expect(parsed.tag).toMatch(/^[A-Za-z0-9+/]{6}$/);
    }
  });

  it("accepts keys without comment and with extra whitespace", () => {
    const normalized = firstTwoFields(ed.publicText);
    expect(parseSshPublicKey(normalized).normalized).toBe(normalized);
    expect(parseSshPublicKey(`  ${normalized.replace(" ", "\t ")}  a b c \n`).normalized).toBe(
      normalized,
    );
  });

  it("computes the same tag age writes in its stanzas", () => {
    for (const key of [ed, rsa]) {
      const file = ageEncrypt(["-R", key.publicPath], new TextEncoder().encode("x"));
      const [stanza] = readHeader(file).stanzas;
      const parsed = parseSshPublicKey(key.publicText);
      expect(stanza?.type).toBe(parsed.type);
      expect(stanza?.args[0]).toBe(parsed.tag);
    }
  });

  it("refuses unsupported key types by name", async () => {
    const ecdsa = await sshKeygen(dir.path, "ecdsa", ["-t", "ecdsa"]);
    expect(() => parseSshPublicKey(ecdsa.publicText)).toThrow(
      /unsupported ssh key type "ecdsa-sha2-nistp256"/,
    );
    const sk =
      "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIEX/dQ0v4127bEo8eeG1EV0ApO2lWbSQK+JrDXNtw6hfAAAABHNzaDo= me@key";
    expect(() => parseSshPublicKey(sk)).toThrow(
      /unsupported ssh key type "sk-ssh-ed25519@openssh.com" \(security-key/,
    );
    expect(() => parseSshPublicKey("ssh-dss AAAAB3NzaC1kc3MAAACBAP== x")).toThrow(
      /unsupported ssh key type "ssh-dss"/,
    );
    expect(() => parseSshPublicKey("garbage")).toThrow(/unsupported ssh key type "garbage"/);
    for (const text of [ecdsa.publicText, sk, "garbage"]) {
      expect(() => parseSshPublicKey(text)).toThrow(KeyError);
    }
  });

  it("is strict about the key blob", () => {
    const edWire = blobOf(ed.publicText);
    const rsaWire = blobOf(rsa.publicText);
    const cases: [string, RegExp][] = [
      ["ssh-ed25519", /has no key data/],
      [`ssh-ed25519 ${ed.publicText.split(" ")[1]!.slice(0, -2)}`, /not canonical base64/],
      [`ssh-ed25519 ${ed.publicText.split(" ")[1]}=`, /not canonical base64/],
      [line("ssh-rsa", edWire), /says ssh-rsa but holds a ssh-ed25519 key/],
      [line("ssh-ed25519", rsaWire), /says ssh-ed25519 but holds a ssh-rsa key/],
      [line("ssh-ed25519", Buffer.concat([edWire, Buffer.from([0])])), /trailing bytes/],
      [line("ssh-rsa", Buffer.concat([rsaWire, sshString("x")])), /trailing bytes/],
      [line("ssh-ed25519", edWire.subarray(0, 40)), /not 32 bytes/],
      [line("ssh-ed25519", Buffer.concat([sshString("ssh-dss"), sshString("x")])), /"ssh-dss"/],
      // The identity point (y = 1) has small order: useless for key agreement.
      [
        line("ssh-ed25519", Buffer.concat([sshString("ssh-ed25519"), sshString(identityPoint())])),
        /not a usable curve point/,
      ],
      [`${firstTwoFields(ed.publicText)}\nssh-ed25519 AAAA`, /must be one line/],
    ];
    for (const [text, message] of cases) {
      expect(() => parseSshPublicKey(text), text).toThrow(KeyError);
      expect(() => parseSshPublicKey(text), text).toThrow(message);
    }
  });

  it("is strict about rsa fields", () => {
    const e = Buffer.from([0x01, 0x00, 0x01]);
    const n2048 = Buffer.concat([Buffer.from([0x00, 0xc0]), randomBytes(254), Buffer.from([1])]);
    const rsaLine = (exponent: Buffer, modulus: Buffer) =>
      line(
        "ssh-rsa",
        Buffer.concat([sshString("ssh-rsa"), sshString(exponent), sshString(modulus)]),
      );
    expect(parseSshPublicKey(rsaLine(e, n2048)).type).toBe("ssh-rsa");
    const cases: [string, RegExp][] = [
      // A leading zero the sign does not need: re-encoding would change the blob and its tag.
      [rsaLine(Buffer.concat([Buffer.from([0]), e]), n2048), /malformed/],
      [rsaLine(e, Buffer.concat([Buffer.from([0]), n2048])), /malformed/],
      [rsaLine(e, n2048.subarray(1)), /malformed/], // high bit set: negative
      [
        rsaLine(e, Buffer.concat([Buffer.from([0x40]), randomBytes(62), Buffer.from([1])])),
        /has 511 bits/,
      ],
      [rsaLine(Buffer.from([2]), n2048), /exponent/],
      [rsaLine(Buffer.from([1]), n2048), /exponent/],
      [rsaLine(Buffer.from([0x01, 0, 0, 1]), n2048), /exponent/],
      [rsaLine(e, Buffer.concat([n2048.subarray(0, -1), Buffer.from([2])])), /even/],
    ];
    for (const [text, message] of cases) {
      expect(() => parseSshPublicKey(text)).toThrow(message);
    }
  });
});

describe("parseSshIdentity", () => {
  it("reads OpenSSH ed25519 and rsa keys and PKCS#1 / PKCS#8 PEM rsa keys", () => {
    expect(rsaPem.privateText).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    expect(rsaPkcs8.privateText).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    for (const key of [ed, rsa, rsaPem, rsaPkcs8]) {
      const identity = parseSshIdentity(key.privateText, key.privatePath);
      const publicKey = parseSshPublicKey(key.publicText);
      expect(identity.recipient).toBe(publicKey.normalized);
      expect(identity.type).toBe(publicKey.type);
      expect(identity.kind).toBe(publicKey.type);
      expect(identity.tag).toBe(publicKey.tag);
    }
  });

  it("keeps secrets out of enumerable properties", () => {
    const identity = parseSshIdentity(ed.privateText, "ed");
    expect(JSON.stringify(identity)).not.toMatch(/secret|seed|scalar/i);
    expect(Object.keys(identity).sort()).toEqual(["kind", "recipient", "tag", "type"]);
  });

  it("refuses passphrase-protected keys with a clear error", async () => {
    const keys = await Promise.all([
      sshKeygen(dir.path, "ed-enc", ["-t", "ed25519"], "secret"),
      sshKeygen(dir.path, "rsa-enc", ["-t", "rsa", "-b", "2048"], "secret"),
      sshKeygen(dir.path, "rsa-pem-enc", ["-t", "rsa", "-b", "2048", "-m", "PEM"], "secret"),
      sshKeygen(dir.path, "rsa-p8-enc", ["-t", "rsa", "-b", "2048", "-m", "PKCS8"], "secret"),
    ]);
    for (const key of keys) {
      const attempt = () => parseSshIdentity(key.privateText, key.privatePath);
      expect(attempt).toThrow(KeyError);
      expect(attempt).toThrow(
        `${key.privatePath}: ssh key is encrypted with a passphrase; wgqt cannot use it`,
      );
    }
  });

  it("refuses unsupported private key types", async () => {
    const ecdsa = await sshKeygen(dir.path, "ecdsa-id", ["-t", "ecdsa"]);
    expect(() => parseSshIdentity(ecdsa.privateText, "ecdsa")).toThrow(
      /ecdsa: unsupported ssh key type "ecdsa-sha2-nistp256"/,
    );
    const ecdsaPem = await sshKeygen(dir.path, "ecdsa-pem", ["-t", "ecdsa", "-m", "PEM"]);
    expect(() => parseSshIdentity(ecdsaPem.privateText, "ecdsa")).toThrow(/unsupported/);
    const edPkcs8 = generateKeyPairSync("ed25519").privateKey.export({
      format: "pem",
      type: "pkcs8",
    });
    expect(() => parseSshIdentity(edPkcs8.toString(), "p8")).toThrow(
      /p8: unsupported key type "ed25519" in PEM/,
    );
  });

  it("refuses damaged keys without echoing key material", () => {
    const body = ed.privateText.split("\n").slice(1, -2);
    const damaged = [
      "not a key at all",
      ed.privateText.replace(body[1]!, body[1]!.slice(0, -4)), // truncated base64
      ed.privateText.replace(body[2]!, `${body[2]!.slice(0, 10)}AAAA${body[2]!.slice(14)}`),
      `${ed.privateText}\n${rsa.privateText}`,
    ];
    for (const text of damaged) {
      let message = "";
      try {
        parseSshIdentity(text, "damaged");
      } catch (error) {
        expect(error).toBeInstanceOf(KeyError);
        message = (error as Error).message;
      }
      expect(message).toMatch(/^damaged: /);
      for (const keyLine of body) expect(message).not.toContain(keyLine.slice(0, 12));
    }
  });
});

describe("parseSshIdentity on random damage", () => {
  it("throws only KeyError when bytes of a real key are changed", () => {
    for (const key of [ed, rsa]) {
      const body = Buffer.from(key.privateText.split("\n").slice(1, -2).join(""), "base64");
      const edit = fc.record({
        at: fc.nat({ max: body.length - 1 }),
        byte: fc.integer({ min: 0, max: 255 }),
      });
      fc.assert(
        fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
          const damaged = Buffer.from(body);
          for (const { at, byte } of edits) damaged[at] = byte;
          const text = `-----BEGIN OPENSSH PRIVATE KEY-----\n${damaged.toString("base64")}\n-----END OPENSSH PRIVATE KEY-----\n`;
          try {
            parseSshIdentity(text, "damaged");
          } catch (error) {
            if (!(error instanceof KeyError)) throw error;
          }
        }),
        { numRuns: 300 },
      );
    }
  });
});

describe("ssh stanzas and the Identity contract", () => {
  const fileKey = new Uint8Array(16).fill(7);

  it("round-trips a file key through our own ed25519 and rsa stanzas", async () => {
    for (const key of [ed, rsa]) {
      const publicKey = parseSshPublicKey(key.publicText);
      const recipient =
        publicKey.type === "ssh-ed25519"
          ? new SshEd25519Recipient(publicKey)
          : new SshRsaRecipient(publicKey);
      const stanzas = recipient.wrapFileKey(fileKey);
      expect(stanzas[0]?.args.slice(0, 2)).toEqual([publicKey.type, publicKey.tag]);
      const identity = parseSshIdentity(key.privateText, key.privatePath);
      expect(await identity.unwrapFileKey(stanzas)).toEqual(fileKey);
    }
  });

  it("is deterministic with injected randomness", () => {
    const publicKey = parseSshPublicKey(ed.publicText);
    const fixed = (n: number) => new Uint8Array(n).fill(42);
    const a = new SshEd25519Recipient(publicKey, fixed).wrapFileKey(fileKey);
    const b = new SshEd25519Recipient(publicKey, fixed).wrapFileKey(fileKey);
    expect(a).toEqual(b);
  });

  it("writes the stanza agessh's formula gives, tweak last (property)", () => {
    const publicKey = parseSshPublicKey(ed.publicText);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (ephemeral) => {
        const [stanza] = new SshEd25519Recipient(publicKey, () => ephemeral).wrapFileKey(fileKey);
        const expected = agesshWrap(publicKey.wire, ephemeral, fileKey);
        expect(stanza!.args).toEqual(["ssh-ed25519", publicKey.tag, expected.share]);
        expect(stanza!.body).toEqual(expected.body);
      }),
      { numRuns: 25 },
    );
  });

  it("converts every ed25519 key to its Montgomery form as agessh does (property over keys)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (seed, ephemeral) => {
          const edKey = ed25519.getPublicKey(seed);
          const wire = Buffer.concat([sshString("ssh-ed25519"), sshString(edKey)]);
          const publicKey = parseSshPublicKey(line("ssh-ed25519", wire));
          const [stanza] = new SshEd25519Recipient(publicKey, () => ephemeral).wrapFileKey(fileKey);
          const expected = agesshWrap(wire, ephemeral, fileKey);
          expect(stanza!.args).toEqual(["ssh-ed25519", publicKey.tag, expected.share]);
          expect(stanza!.body).toEqual(expected.body);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("starts from another recipient's X25519 form with the same stanzas (agessh's formula)", () => {
    const publicKey = parseSshPublicKey(ed.publicText);
    const form = structuredClone(new SshEd25519Recipient(publicKey).x25519Form());
    const copy = { ...publicKey, wire: Uint8Array.from(publicKey.wire) };
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (ephemeral) => {
        const recipient = SshEd25519Recipient.withX25519Form(copy, form, () => ephemeral);
        const [stanza] = recipient.wrapFileKey(fileKey);
        const expected = agesshWrap(publicKey.wire, ephemeral, fileKey);
        expect(stanza!.args).toEqual(["ssh-ed25519", publicKey.tag, expected.share]);
        expect(stanza!.body).toEqual(expected.body);
      }),
      { numRuns: 10 },
    );
  });

  it("encrypts with the X25519 form it is given, not one it computes again", async () => {
    // ed's key with ed2's form: only ed2's identity opens the stanza (under ed's tag).
    const form = new SshEd25519Recipient(parseSshPublicKey(ed2.publicText)).x25519Form();
    const mixed = SshEd25519Recipient.withX25519Form(parseSshPublicKey(ed.publicText), form);
    const [stanza] = mixed.wrapFileKey(fileKey);
    const own = parseSshIdentity(ed.privateText, "ed");
    await expect(async () => own.unwrapFileKey([stanza!])).rejects.toThrow(/does not decrypt/);
    expect(() =>
      SshEd25519Recipient.withX25519Form(parseSshPublicKey(rsa.publicText), form),
    ).toThrow(/invalid ssh-ed25519 key/);
    expect(() =>
      SshEd25519Recipient.withX25519Form(parseSshPublicKey(ed.publicText), {
        montgomery: form.montgomery,
        tweaked: new Uint8Array(31),
      }),
    ).toThrow(/invalid ssh-ed25519 key/);
  });

  it("refuses keys that are not curve points, also when built by hand", () => {
    // The first y that decodes to no point (x² has no root), and p itself (not canonical).
    let notOnCurve: Uint8Array | undefined;
    for (let y = 2; notOnCurve === undefined; y++) {
      const bytes = new Uint8Array(32);
      bytes[0] = y;
      try {
        ed25519.Point.fromBytes(bytes);
      } catch {
        notOnCurve = bytes;
      }
    }
    const p = new Uint8Array(32).fill(0xff);
    p[0] = 0xed;
    p[31] = 0x7f;
    for (const bad of [notOnCurve, p, identityPoint()]) {
      const wire = Buffer.concat([sshString("ssh-ed25519"), sshString(bad)]);
      expect(() => parseSshPublicKey(line("ssh-ed25519", wire))).toThrow(
        /not a usable curve point/,
      );
      const handMade = {
        type: "ssh-ed25519" as const,
        wire,
        tag: "AAAAAA",
        normalized: line("ssh-ed25519", wire),
      };
      expect(() => new SshEd25519Recipient(handMade)).toThrow(/invalid ssh-ed25519 key/);
    }
  });

  it("returns null for stanzas of other keys and other types", async () => {
    const identity = parseSshIdentity(ed.privateText, "ed");
    const other = new SshEd25519Recipient(parseSshPublicKey(ed2.publicText)).wrapFileKey(fileKey);
    const rsaStanzas = new SshRsaRecipient(parseSshPublicKey(rsa.publicText)).wrapFileKey(fileKey);
    const x25519 = new Stanza(["X25519", "AAAA"], new Uint8Array(32));
    expect(await identity.unwrapFileKey([...other, ...rsaStanzas, x25519])).toBeNull();
    // Malformed stanzas for another tag are not ours to judge.
    const foreign = new Stanza(["ssh-ed25519", "AAAAAA"], new Uint8Array(5));
    expect(await identity.unwrapFileKey([foreign])).toBeNull();
    const rsaIdentity = parseSshIdentity(rsa.privateText, "rsa");
    expect(await rsaIdentity.unwrapFileKey([...other, x25519])).toBeNull();
  });

  it("throws for its own stanza when it is broken", async () => {
    for (const key of [ed, rsa]) {
      const publicKey = parseSshPublicKey(key.publicText);
      const identity = parseSshIdentity(key.privateText, "key");
      const recipient =
        publicKey.type === "ssh-ed25519"
          ? new SshEd25519Recipient(publicKey)
          : new SshRsaRecipient(publicKey);
      const [good] = recipient.wrapFileKey(fileKey);
      const flipped = good!.body.slice();
      flipped[0]! ^= 1;
      const broken = [
        new Stanza(good!.args, flipped),
        new Stanza(good!.args, good!.body.subarray(1)),
        new Stanza([...good!.args, "extra"], good!.body),
      ];
      for (const stanza of broken) {
        await expect(async () => identity.unwrapFileKey([stanza])).rejects.toThrow(KeyError);
      }
      // A good stanza for us still wins over nothing else being wrong.
      expect(await identity.unwrapFileKey([good!])).toEqual(fileKey);
    }
  });
});

/** The Ed25519 identity point, y = 1 (little-endian). */
function identityPoint(): Uint8Array {
  const bytes = new Uint8Array(32);
  bytes[0] = 1;
  return bytes;
}

/**
 * agessh's ssh-ed25519 Wrap, step by step as filippo.io/age/agessh writes it,
 * with @noble/curves: share = X25519(e, 9), s = X25519(e, P), s = X25519(tweak, s),
 * wrap key = HKDF-SHA-256(s, share || P, label), body = ChaCha20-Poly1305(zero nonce).
 */
function agesshWrap(wire: Uint8Array, ephemeral: Uint8Array, fileKey: Uint8Array) {
  const label = new TextEncoder().encode("age-encryption.org/v1/ssh-ed25519");
  const montgomery = ed25519.utils.toMontgomery(wire.subarray(wire.length - 32));
  const share = x25519.getPublicKey(ephemeral);
  const tweak = hkdf(sha256, new Uint8Array(0), wire, label, 32);
  const secret = x25519.getSharedSecret(tweak, x25519.getSharedSecret(ephemeral, montgomery));
  const wrapKey = hkdf(sha256, secret, new Uint8Array([...share, ...montgomery]), label, 32);
  const cipher = createCipheriv("chacha20-poly1305", wrapKey, new Uint8Array(12), {
    authTagLength: 16,
  });
  const body = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
  return {
    share: Buffer.from(share).toString("base64").replace(/=+$/, ""),
    body: new Uint8Array(body),
  };
}
