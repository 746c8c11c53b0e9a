import { Encrypter, generateX25519Identity, identityToRecipient } from "age-encryption";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type HeaderStanza,
  readHeader,
  readHeaderStanzas,
  writeHeader,
} from "../../src/age/header.js";
import { KeyError } from "../../src/errors.js";
import { ageEncrypt, ageKeygen, makeTempDir, sshKeygen, type TempDir } from "./helpers.js";

const encode = (text: string) => new TextEncoder().encode(text);

// The example header from age-encryption.org/v1, "Header".
const SPEC_HEADER = [
  "age-encryption.org/v1",
  "-> X25519 XEl0dJ6y3C7KZkgmgWUicg63EyXJiwBJW8PdYJ/cYBE",
  "qRS0AMjdjPvZ/WT08U2KL4G+PIooA3hy38SvLpvaC1E",
  "--- HK2NmOBN9Dpq0Gw6xMCuhFcQlQLvZ/wQUi/2scLG75s",
  "",
].join("\n");
const MAC_LINE = "--- HK2NmOBN9Dpq0Gw6xMCuhFcQlQLvZ/wQUi/2scLG75s";
const FULL_LINE = "A".repeat(64);

interface Edit {
  at: number;
  kind: "replace" | "insert" | "delete";
  byte: number;
}

/** One random edit of `valid`: a byte drawn from `bytes` replaced or inserted, or a byte deleted. */
const editOf = (valid: Uint8Array, bytes: number[]) =>
  fc.record<Edit>({
    at: fc.nat({ max: valid.length - 1 }),
    kind: fc.constantFrom("replace", "insert", "delete"),
    byte: fc.constantFrom(...bytes),
  });

/** `valid`'s bytes with `edits` made one after the other. */
function applyEdits(valid: Uint8Array, edits: readonly Edit[]): number[] {
  const bytes = [...valid];
  for (const { at, kind, byte } of edits) {
    const i = Math.min(at, bytes.length);
    if (kind === "replace") bytes[i] = byte;
    else if (kind === "insert") bytes.splice(i, 0, byte);
    else bytes.splice(i, 1);
  }
  return bytes;
}

describe("readHeader", () => {
  it("parses the spec's example header and stops at the payload", () => {
    const payload = new Uint8Array([0, 1, 2, 0x0a, 0xff]);
    const bytes = new Uint8Array([...encode(SPEC_HEADER), ...payload]);
    const header = readHeader(bytes);
    expect(header.length).toBe(encode(SPEC_HEADER).length);
    expect(header.stanzas).toHaveLength(1);
    const [stanza] = header.stanzas;
    expect(stanza?.type).toBe("X25519");
    expect(stanza?.args).toEqual(["XEl0dJ6y3C7KZkgmgWUicg63EyXJiwBJW8PdYJ/cYBE"]);
    expect(stanza?.body).toHaveLength(32);
    expect(header.mac).toHaveLength(32);
    expect(writeHeader(header.stanzas, header.mac)).toEqual(encode(SPEC_HEADER));
  });

  it("reads an empty body and a body that is a multiple of 48 bytes (both end in an empty line)", () => {
    const text = `age-encryption.org/v1\n-> empty\n\n-> full\n${FULL_LINE}\n\n${MAC_LINE}\n`;
    const header = readHeader(encode(text));
    expect(header.stanzas.map((s) => [s.type, s.body.length])).toEqual([
      ["empty", 0],
      ["full", 48],
    ]);
    expect(writeHeader(header.stanzas, header.mac)).toEqual(encode(text));
  });

  const v1 = "age-encryption.org/v1\n";
  const stanza =
    "-> X25519 XEl0dJ6y3C7KZkgmgWUicg63EyXJiwBJW8PdYJ/cYBE\nqRS0AMjdjPvZ/WT08U2KL4G+PIooA3hy38SvLpvaC1E\n";
  it.each([
    ["empty input", "", /not an age file/],
    ["another file", "hello world\n", /not an age file/],
    ["another version", "age-encryption.org/v2\n", /unsupported version/],
    ["an armored file", "-----BEGIN AGE ENCRYPTED FILE-----\n", /armored/],
    ["no stanzas", `${v1}${MAC_LINE}\n`, /no recipient stanzas/],
    ["no mac line", `${v1}${stanza}`, /before the "---" mac line/],
    ["a mac line without LF", `${v1}${stanza}${MAC_LINE}`, /before the "---" mac line/],
    ["a short mac", `${v1}${stanza}--- HK2NmOBN9Dpq0Gw6xMCuhFcQlQLvZ/wQUi/2scLG7\n`, /mac line/],
    [
      "a mac without space",
      `${v1}${stanza}---HK2NmOBN9Dpq0Gw6xMCuhFcQlQLvZ/wQUi/2scLG75s\n`,
      /mac line/,
    ],
    [
      "a padded mac",
      `${v1}${stanza}--- HK2NmOBN9Dpq0Gw6xMCuhFcQlQLvZ/wQUi/2scLG75s=\n`,
      /mac line/,
    ],
    ["a stanza without arguments", `${v1}-> \n\n${MAC_LINE}\n`, /empty stanza argument/],
    ["a doubled space", `${v1}->  X25519\n\n${MAC_LINE}\n`, /empty stanza argument/],
    ["a trailing space", `${v1}-> X25519 \n\n${MAC_LINE}\n`, /empty stanza argument/],
    ["a tab in arguments", `${v1}-> X25519\ta\n\n${MAC_LINE}\n`, /not printable/],
    ["an arrow without space", `${v1}->X25519\n\n${MAC_LINE}\n`, /neither a "-> " stanza/],
    ["CRLF line endings", SPEC_HEADER.replaceAll("\n", "\r\n"), /CRLF/],
    ["CR in a body line", `${v1}-> a\nAAAA\r\n${MAC_LINE}\n`, /not printable/],
    ["a 65-column body line", `${v1}-> a\n${FULL_LINE}A\n\n${MAC_LINE}\n`, /body line/],
    ["a body without final short line", `${v1}-> a\n${FULL_LINE}\n${MAC_LINE}\n`, /body line/],
    ["non-canonical base64 (stray bits)", `${v1}-> a\nAB\n${MAC_LINE}\n`, /body line/],
    ["padded base64", `${v1}-> a\nAA==\n${MAC_LINE}\n`, /body line/],
    ["an impossible base64 length", `${v1}-> a\nAAAAA\n${MAC_LINE}\n`, /body line/],
    ["non-ASCII bytes", `${v1}-> é\n\n${MAC_LINE}\n`, /not printable/],
  ])("refuses %s", (_name, text, message) => {
    expect(() => readHeader(encode(text))).toThrow(KeyError);
    expect(() => readHeader(encode(text))).toThrow(message);
  });

  it("never echoes header contents in errors", () => {
    const secret = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ";
    for (const text of [`${secret}\n`, `${v1}${secret}\n`, `${v1}-> a\n${secret}\n`]) {
      expect(() => readHeader(encode(text))).toThrow(KeyError);
      try {
        readHeader(encode(text));
      } catch (error) {
        expect((error as Error).message).not.toContain("SECRET");
      }
    }
  });

  it("throws only KeyError on arbitrary bytes", () => {
    const throwsOnlyKeyError = (bytes: Uint8Array) => {
      try {
        readHeader(bytes);
      } catch (error) {
        if (!(error instanceof KeyError)) throw error;
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), throwsOnlyKeyError), {
      numRuns: 2000,
    });
    // Past the version line, where the interesting parsing is.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (tail) =>
        throwsOnlyKeyError(new Uint8Array([...encode(v1), ...tail])),
      ),
      { numRuns: 2000 },
    );
  });

  it("throws only KeyError on near-valid headers (random edits of a real one)", () => {
    const valid = encode(`${SPEC_HEADER}`);
    const edit = editOf(valid, [0x0a, 0x20, 0x2d, 0x3e, 0x41, 0x2b, 0x3d, 0x00, 0xff, 0x0d]);
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        const bytes = applyEdits(valid, edits);
        try {
          const header = readHeader(new Uint8Array(bytes));
          // Whatever parses must re-encode to exactly the bytes it came from.
          expect(writeHeader(header.stanzas, header.mac)).toEqual(
            new Uint8Array(bytes.slice(0, header.length)),
          );
        } catch (error) {
          if (!(error instanceof KeyError)) throw error;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("round-trips any header through writeHeader and readHeader", () => {
    const argument = fc.stringMatching(/^[\x21-\x7e]{1,12}$/);
    const stanza: fc.Arbitrary<HeaderStanza> = fc.record({
      type: argument,
      args: fc.array(argument, { maxLength: 3 }),
      body: fc.uint8Array({ maxLength: 200 }),
    });
    fc.assert(
      fc.property(
        fc.array(stanza, { minLength: 1, maxLength: 5 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 64 }),
        (stanzas, mac, payload) => {
          const header = writeHeader(stanzas, mac);
          const parsed = readHeader(new Uint8Array([...header, ...payload]));
          expect(parsed.length).toBe(header.length);
          expect(parsed.stanzas).toEqual(stanzas);
          expect(parsed.mac).toEqual(mac);
        },
      ),
    );
  });
});

describe("readHeaderStanzas", () => {
  /** What readHeader makes of `bytes`: its stanzas without bodies, or its error's message. */
  const byReadHeader = (bytes: Uint8Array) => {
    try {
      return readHeader(bytes).stanzas.map(({ type, args }) => ({ type, args }));
    } catch (error) {
      if (!(error instanceof KeyError)) throw error;
      return error.message;
    }
  };
  const byStanzas = (bytes: Uint8Array) => {
    try {
      return readHeaderStanzas(bytes);
    } catch (error) {
      if (!(error instanceof KeyError)) throw error;
      return error.message;
    }
  };

  it("accepts and refuses exactly what readHeader does, with the same stanzas and messages", () => {
    const valid = encode(
      `age-encryption.org/v1\n-> a b\n${FULL_LINE}\nAAA\n${SPEC_HEADER.slice(22)}`,
    );
    const edit = editOf(valid, [0x0a, 0x20, 0x2d, 0x3e, 0x41, 0x42, 0x2b, 0x3d, 0x00, 0xff, 0x0d]);
    fc.assert(
      fc.property(fc.array(edit, { maxLength: 4 }), (edits) => {
        const bytes = applyEdits(valid, edits);
        const input = new Uint8Array(bytes);
        expect(byStanzas(input)).toEqual(byReadHeader(input));
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (tail) => {
        const input = new Uint8Array([...encode("age-encryption.org/v1\n"), ...tail]);
        expect(byStanzas(input)).toEqual(byReadHeader(input));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("readHeader on files written by the age CLI and age-encryption", () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await dir.remove();
  });

  it("reads X25519, ssh-ed25519, ssh-rsa-2048 and ssh-rsa-3072 stanzas and re-encodes them byte for byte", async () => {
    const ageKey = await ageKeygen(dir.path, "age.txt");
    const ed = await sshKeygen(dir.path, "ed", ["-t", "ed25519"]);
    const rsa2048 = await sshKeygen(dir.path, "rsa2048", ["-t", "rsa", "-b", "2048"]);
    // A 3072-bit key wraps to 384 = 8 × 48 bytes: the body ends in an empty line.
    const rsa3072 = await sshKeygen(dir.path, "rsa3072", ["-t", "rsa", "-b", "3072"]);
    const flags = ["-r", ageKey.recipient, "-R", ed.publicPath];
    flags.push("-R", rsa2048.publicPath, "-R", rsa3072.publicPath);
    const file = ageEncrypt(flags, encode("payload"));
    const header = readHeader(file);
    expect(header.stanzas.map((s) => s.type).sort()).toEqual([
      "X25519",
      "ssh-ed25519",
      "ssh-rsa",
      "ssh-rsa",
    ]);
    const bodyLengths = header.stanzas
      .filter((s) => s.type === "ssh-rsa")
      .map((s) => s.body.length);
    expect(bodyLengths.sort()).toEqual([256, 384]);
    expect(writeHeader(header.stanzas, header.mac)).toEqual(file.subarray(0, header.length));
  });

  it("reads headers age-encryption writes", async () => {
    const recipients = await Promise.all(
      [1, 2, 3].map(async () => identityToRecipient(await generateX25519Identity())),
    );
    const encrypter = new Encrypter();
    for (const r of recipients) encrypter.addRecipient(r);
    const file = await encrypter.encrypt("payload");
    const header = readHeader(file);
    expect(header.stanzas).toHaveLength(3);
    expect(writeHeader(header.stanzas, header.mac)).toEqual(file.subarray(0, header.length));
  });
});

describe("writeHeader", () => {
  it("refuses what it cannot encode", () => {
    const mac = new Uint8Array(32);
    expect(() => writeHeader([], mac)).toThrow(KeyError);
    expect(() => writeHeader([{ type: "a b", args: [], body: new Uint8Array() }], mac)).toThrow(
      KeyError,
    );
    expect(() => writeHeader([{ type: "a", args: [""], body: new Uint8Array() }], mac)).toThrow(
      KeyError,
    );
    expect(() =>
      writeHeader([{ type: "a", args: [], body: new Uint8Array() }], new Uint8Array(31)),
    ).toThrow(KeyError);
  });
});
