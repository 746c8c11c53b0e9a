import {
  generateHybridIdentity,
  generateX25519Identity,
  identityToRecipient,
  Stanza,
} from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseIdentities } from "../../src/age/identity.js";
import { KeyError } from "../../src/errors.js";
import {
  type AgeKeyFile,
  ageKeygen,
  makeTempDir,
  type SshKeyFiles,
  sshKeygen,
  type TempDir,
} from "./helpers.js";

let dir: TempDir;
let ageKey: AgeKeyFile;
let ageKey2: AgeKeyFile;
let ed: SshKeyFiles;
let rsa: SshKeyFiles;

beforeAll(async () => {
  dir = await makeTempDir();
  [ageKey, ageKey2, ed, rsa] = await Promise.all([
    ageKeygen(dir.path, "age.txt"),
    ageKeygen(dir.path, "age2.txt"),
    sshKeygen(dir.path, "ed", ["-t", "ed25519"]),
    sshKeygen(dir.path, "rsa", ["-t", "rsa", "-b", "2048"]),
  ]);
});
afterAll(async () => {
  await dir.remove();
});

/** The AGE-SECRET-KEY-1… line of an age-keygen file. */
const secretLine = (key: AgeKeyFile) => key.text.split("\n").find((l) => l.startsWith("AGE-"))!;

function refusal(text: string, message: RegExp): string {
  try {
    parseIdentities(text, "id.txt");
  } catch (error) {
    expect(error).toBeInstanceOf(KeyError);
    expect((error as Error).message).toMatch(message);
    return (error as Error).message;
  }
  throw new Error("accepted");
}

describe("parseIdentities", () => {
  it("reads an age-keygen file; the recipient agrees with age-keygen -y and age-encryption", async () => {
    expect(ageKey.text).toMatch(/^# created: /);
    const [identity, ...rest] = parseIdentities(ageKey.text, ageKey.path);
    expect(rest).toEqual([]);
    expect(identity?.kind).toBe("x25519");
    expect(identity?.recipient).toBe(ageKey.recipient);
    expect(identity?.recipient).toBe(await identityToRecipient(secretLine(ageKey)));
    expect(identity?.tag).toBeUndefined();
  });

  it("reads several identities with comments, blank lines and CRLF", async () => {
    const third = await generateX25519Identity();
    const text = `${ageKey.text}\r\n\r\n# another\r\n${secretLine(ageKey2)}\r\n  ${third}  \n`;
    const identities = parseIdentities(text, "ids");
    expect(identities.map((i) => i.recipient)).toEqual([
      ageKey.recipient,
      ageKey2.recipient,
      await identityToRecipient(third),
    ]);
  });

  it("reads SSH private keys", () => {
    expect(parseIdentities(ed.privateText, ed.privatePath).map((i) => i.kind)).toEqual([
      "ssh-ed25519",
    ]);
    expect(parseIdentities(rsa.privateText, rsa.privatePath).map((i) => i.kind)).toEqual([
      "ssh-rsa",
    ]);
  });

  it("refuses what age 1.1 hosts cannot use, or what is not an identity", async () => {
    refusal("", /^id\.txt: no identities found$/);
    refusal("# only a comment\n\n", /no identities found/);
    refusal(await generateHybridIdentity(), /line 1: post-quantum identities are not supported/);
    refusal(`# c\nAGE-PLUGIN-YUBIKEY-1QQQQQQ`, /line 2: plugin identities are not supported/);
    refusal(ageKey.recipient, /line 1: is a public key/);
    refusal(ed.publicText, /line 1: is a public key/);
    refusal("hello", /line 1: not an age identity/);
    refusal("age-encryption.org/v1\n-> scrypt", /passphrase-encrypted identity files/);
    refusal("-----BEGIN AGE ENCRYPTED FILE-----\n", /passphrase-encrypted identity files/);
    const encrypted = await sshKeygen(dir.path, "ed-enc", ["-t", "ed25519"], "secret");
    refusal(encrypted.privateText, /ssh key is encrypted with a passphrase/);
  });

  it("names the line of a damaged identity without echoing it", () => {
    const line = secretLine(ageKey);
    const damaged = `${line.slice(0, 30)}${line[30] === "Q" ? "P" : "Q"}${line.slice(31)}`;
    const message = refusal(`# first\n${damaged}\n`, /^id\.txt: line 2: invalid age identity/);
    expect(message).not.toContain(line.slice(16, 40));
    const mixedCase = refusal(`${line.slice(0, 20)}${line.slice(20).toLowerCase()}`, /line 1/);
    expect(mixedCase.toLowerCase()).not.toContain(line.slice(20).toLowerCase());
  });

  it("keeps secrets out of enumerable properties", () => {
    const [identity] = parseIdentities(ageKey.text, "id");
    expect(Object.keys(identity!).sort()).toEqual(["kind", "recipient"]);
    expect(JSON.stringify(identity)).not.toContain(secretLine(ageKey).slice(16));
  });
});

describe("X25519 identity stanzas", () => {
  it("ignores other types, returns null for other keys' X25519 stanzas, throws on malformed ones", async () => {
    const [identity] = parseIdentities(ageKey.text, "id");
    const share = "XEl0dJ6y3C7KZkgmgWUicg63EyXJiwBJW8PdYJ/cYBE";
    const body = new Uint8Array(32);
    expect(
      await identity!.unwrapFileKey([new Stanza(["ssh-ed25519", "abc", share], body)]),
    ).toBeNull();
    expect(await identity!.unwrapFileKey([new Stanza(["X25519", share], body)])).toBeNull();
    for (const stanza of [
      new Stanza(["X25519"], body),
      new Stanza(["X25519", share, "extra"], body),
      new Stanza(["X25519", `${share}=`], body),
      new Stanza(["X25519", share], new Uint8Array(31)),
      // u = 0, a low-order share: the spec says abort on an all-zero shared secret.
      new Stanza(["X25519", "A".repeat(43)], body),
    ]) {
      await expect(async () => identity!.unwrapFileKey([stanza])).rejects.toThrow(
        /invalid X25519 stanza/,
      );
    }
  });
});
