import { bech32 } from "@scure/base";
import {
  generateHybridIdentity,
  generateX25519Identity,
  identityToRecipient,
} from "age-encryption";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readHeader } from "../../src/age/header.js";
import { normalizeRecipient } from "../../src/age/recipient-text.js";
import { parseRecipient, recipientMatchesStanza } from "../../src/age/recipients.js";
import { parseSshPublicKeyLine } from "../../src/age/ssh-public-key.js";
import { X25519Recipient } from "../../src/age/x25519-stanza.js";
import { KeyError } from "../../src/errors.js";
import { smallOrderEd25519Key } from "../helpers/ssh-keys.js";
import {
  type AgeKeyFile,
  ageEncrypt,
  ageKeygen,
  makeTempDir,
  type SshKeyFiles,
  sshKeygen,
  type TempDir,
} from "./helpers.js";

let dir: TempDir;
let ageKey: AgeKeyFile;
let ed: SshKeyFiles;
let ed2: SshKeyFiles;
let rsa: SshKeyFiles;

beforeAll(async () => {
  dir = await makeTempDir();
  [ageKey, ed, ed2, rsa] = await Promise.all([
    ageKeygen(dir.path, "age.txt"),
    sshKeygen(dir.path, "ed", ["-t", "ed25519"]),
    sshKeygen(dir.path, "ed2", ["-t", "ed25519"]),
    sshKeygen(dir.path, "rsa", ["-t", "rsa", "-b", "2048"]),
  ]);
});
afterAll(async () => {
  await dir.remove();
});

/** Expect a KeyError whose message matches, and return the message. */
function refusal(text: string, message: RegExp): string {
  try {
    parseRecipient(text);
  } catch (error) {
    expect(error).toBeInstanceOf(KeyError);
    expect((error as Error).message).toMatch(message);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(text)}`);
}

describe("parseRecipient", () => {
  it("accepts age-keygen's X25519 recipient as is", () => {
    const parsed = parseRecipient(` ${ageKey.recipient}\n`);
    expect(parsed.kind).toBe("x25519");
    expect(parsed.normalized).toBe(ageKey.recipient);
    expect(parsed.recipient).toBeInstanceOf(X25519Recipient);
    expect((parsed.recipient as X25519Recipient).publicKey).toEqual(
      bech32.decodeToBytes(ageKey.recipient).bytes,
    );
    expect(parsed.tag).toBeUndefined();
  });

  it("remembers what it parsed: the same frozen object for the same text", () => {
    for (const text of [ageKey.recipient, ed.publicText, rsa.publicText]) {
      const first = parseRecipient(text);
      expect(parseRecipient(text)).toBe(first);
      expect(Object.isFrozen(first)).toBe(true);
    }
    // And for its normalized form, which is how wgqt.toml's recipients are kept.
    const withComment = parseRecipient(ed.publicText);
    expect(withComment.normalized).not.toBe(ed.publicText.trim());
    expect(parseRecipient(withComment.normalized)).toBe(withComment);
    // Keyed by the exact text: another spelling parses to an equal, separate object.
    const spaced = parseRecipient(` ${ageKey.recipient}`);
    expect(spaced).not.toBe(parseRecipient(ageKey.recipient));
    expect(spaced.normalized).toBe(parseRecipient(ageKey.recipient).normalized);
    // Refusals are not remembered: every call throws again.
    for (let i = 0; i < 2; i++) refusal("hello", /unrecognized recipient/);
  });

  it("accepts ssh-ed25519 and ssh-rsa keys, normalized without comment and with their tag", () => {
    for (const key of [ed, rsa]) {
      const parsed = parseRecipient(key.publicText);
      const [type, blob] = key.publicText.split(" ");
      expect(parsed.kind).toBe(type);
      expect(parsed.normalized).toBe(`${type} ${blob}`);
      expect(parsed.tag).toMatch(/^[A-Za-z0-9+/]{6}$/);
      expect(typeof parsed.recipient).toBe("object");
    }
  });

  it("refuses post-quantum, tag and plugin recipients", async () => {
    const pq = await identityToRecipient(await generateHybridIdentity());
    expect(pq.startsWith("age1pq1")).toBe(true);
    refusal(pq, /post-quantum recipient "age1pq1[a-z0-9]+… is not supported: age 1\.1 on hosts/);
    refusal(`age1tag1${"q".repeat(58)}`, /tag recipient .* is not supported/);
    refusal(`age1tagpq1${"q".repeat(58)}`, /tag recipient .* is not supported/);
    const plugin = bech32.encode("age1yubikey", bech32.toWords(new Uint8Array(33).fill(3)), false);
    refusal(plugin, /plugin recipient "age1yubikey1.*" \(age-plugin-yubikey\) is not supported/);
  });

  it("refuses malformed age1 recipients, quoting them", async () => {
    const good = ageKey.recipient;
    const flipped = `${good.slice(0, -1)}${good.endsWith("q") ? "p" : "q"}`;
    refusal(flipped, /invalid age recipient "age1.*": bad bech32/);
    refusal(`${good}x`, /bad bech32/);
    refusal(good.toUpperCase(), /unrecognized recipient "AGE1/);
    refusal(`${good} trailing`, /has text after the key/);
    refusal(`${good}\n${good}`, /has text after the key/);
    const short = bech32.encodeFromBytes("age", new Uint8Array(31).fill(9));
    refusal(short, /not an X25519 public key/);
    // u = 0 is a low-order point: the "shared secret" would be all zeros.
    refusal(bech32.encodeFromBytes("age", new Uint8Array(32)), /not an X25519 public key/);
  });

  it("refuses other ssh key types and garbage", async () => {
    const ecdsa = await sshKeygen(dir.path, "ecdsa", ["-t", "ecdsa"]);
    refusal(ecdsa.publicText, /unsupported ssh key type "ecdsa-sha2-nistp256"/);
    refusal(
      "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIEX/dQ0v4127bEo8eeG1EV0ApO2lWbSQK+JrDXNtw6hfAAAABHNzaDo= key",
      /unsupported ssh key type "sk-ssh-ed25519@openssh.com"/,
    );
    refusal("ssh-dss AAAA", /unsupported ssh key type "ssh-dss"/);
    refusal("", /empty recipient/);
    refusal("hello", /unrecognized recipient "hello"; expected age1…/);
    refusal(`${ed.publicText.trim()}\nssh-ed25519 AAAA`, /must be one line/);
    const long = refusal("x".repeat(500), /unrecognized recipient/);
    expect(long.length).toBeLessThan(200);
  });

  it("never echoes a secret key given as a recipient", async () => {
    const secret = await generateX25519Identity();
    for (const text of [secret, secret.toLowerCase(), ed.privateText]) {
      const message = refusal(text, /secret key|private key/);
      expect(message).not.toContain(secret.slice(16, 30));
      expect(message.toLowerCase()).not.toContain(secret.slice(16, 30).toLowerCase());
      expect(message).not.toContain(ed.privateText.split("\n")[1]!.slice(0, 20));
    }
  });
});

describe("recipientMatchesStanza", () => {
  it("matches SSH recipients by type and tag, X25519 recipients by type only", () => {
    const file = ageEncrypt(
      ["-r", ageKey.recipient, "-R", ed.publicPath, "-R", rsa.publicPath],
      new TextEncoder().encode("x"),
    );
    const { stanzas } = readHeader(file);
    const mine = (text: string) =>
      stanzas.filter((s) => recipientMatchesStanza(parseRecipient(text), s)).map((s) => s.type);
    expect(mine(ageKey.recipient)).toEqual(["X25519"]);
    expect(mine(ed.publicText)).toEqual(["ssh-ed25519"]);
    expect(mine(rsa.publicText)).toEqual(["ssh-rsa"]);
    expect(mine(ed2.publicText)).toEqual([]);
  });
});

describe("normalizeRecipient", () => {
  const smallOrder = () => smallOrderEd25519Key("comment");

  it("gives parseRecipient's normalized text for every kind", () => {
    for (const text of [ageKey.recipient, ed.publicText, rsa.publicText, ` ${ed.publicText}\n`])
      expect(normalizeRecipient(text)).toBe(parseRecipient(text).normalized);
  });

  it("refuses what parseRecipient refuses, except a curve point it leaves to encryption", () => {
    for (const text of ["", "hello", "ssh-dss AAAA", ed.privateText, `${ageKey.recipient}x`]) {
      expect(() => normalizeRecipient(text)).toThrow(KeyError);
    }
    const useless = smallOrder();
    expect(normalizeRecipient(useless)).toBe(useless.split(" ").slice(0, 2).join(" "));
    expect(() => parseRecipient(useless)).toThrow(/not a usable curve point/);
    // A low-order age1 key (u = 0): well-formed, refused by the X25519 probe only.
    const zero = bech32.encodeFromBytes("age", new Uint8Array(32));
    expect(normalizeRecipient(zero)).toBe(zero);
    expect(() => parseRecipient(zero)).toThrow(/not an X25519 public key/);
  });

  it("reads an ssh-ed25519 line as parseSshPublicKeyLine does, however it is written or broken (property)", () => {
    const blob = (key: Uint8Array) =>
      Buffer.concat([
        Buffer.from([0, 0, 0, 11]),
        Buffer.from("ssh-ed25519"),
        Buffer.from([0, 0, 0, 32]),
        key,
      ]).toString("base64");
    const outcome = (read: () => string) => {
      try {
        return read();
      } catch (error) {
        expect(error).toBeInstanceOf(KeyError);
        return "refused";
      }
    };
    const base64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \t\r\n";
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.constantFrom("", " ", "\t", " root@host", "\tcomment with spaces", "\n", "\r\nx", "="),
        fc.constantFrom("", " ", "\n", "\t "),
        fc.option(fc.tuple(fc.nat(90), fc.constantFrom(...base64)), { nil: undefined }),
        (key, comment, padding, change) => {
          let line = `ssh-ed25519 ${blob(key)}${comment}`;
          if (change !== undefined) {
            const [at, char] = change;
            line = line.slice(0, at % line.length) + char + line.slice((at % line.length) + 1);
          }
          const text = `${padding}${line}${padding}`;
          expect(outcome(() => normalizeRecipient(text))).toBe(
            outcome(() => parseSshPublicKeyLine(text.trim()).normalized),
          );
        },
      ),
      { numRuns: 3000 },
    );
  });
});
