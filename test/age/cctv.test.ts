/**
 * The age project's shared test vectors (C2SP CCTV, the `cctv-age` package),
 * run through wgqt's decryptor: every vector for X25519 identities must
 * decrypt to exactly its payload, or be refused when the vector says the file
 * is broken. Vectors for what wgqt does not read (armor, passphrases,
 * post-quantum identities) are sorted out by name with their reason, and the
 * counts are pinned so a package update that drops or adds vectors is seen.
 */

import { createHash } from "node:crypto";
import { inflateSync } from "node:zlib";
import * as vectors from "cctv-age";
import { describe, expect, it } from "vitest";
import { decryptWith } from "../../src/age/crypt.js";
import { readHeader } from "../../src/age/header.js";
import { parseIdentities } from "../../src/age/identity.js";
import { KeyError } from "../../src/errors.js";

type Expect =
  | "success"
  | "no match"
  | "HMAC failure"
  | "header failure"
  | "payload failure"
  | "armor failure";

interface Vector {
  name: string;
  expect: Expect;
  /** SHA-256 of the plaintext, hex (for failures: of what decrypted before the error). */
  payload?: string;
  identities: string[];
  passphrases: string[];
  armored: boolean;
  comment?: string;
  /** The age file itself, decompressed. */
  file: Uint8Array;
}

/** The vector format: `key: value` lines, an empty line, then the age file (maybe zlib'd). */
function parseVector(name: string, bytes: Uint8Array): Vector {
  const split = Buffer.from(bytes).indexOf("\n\n");
  if (split < 0) throw new Error(`${name}: no blank line after the vector's header`);
  const fields = new Map<string, string[]>();
  for (const line of Buffer.from(bytes.subarray(0, split)).toString("utf8").split("\n")) {
    const colon = line.indexOf(": ");
    if (colon < 0) throw new Error(`${name}: header line ${JSON.stringify(line)}`);
    const key = line.slice(0, colon);
    fields.set(key, [...(fields.get(key) ?? []), line.slice(colon + 2)]);
  }
  const one = (key: string) => fields.get(key)?.[0];
  const body = bytes.subarray(split + 2);
  return {
    name,
    expect: one("expect") as Expect,
    payload: one("payload"),
    identities: fields.get("identity") ?? [],
    passphrases: fields.get("passphrase") ?? [],
    armored: one("armored") === "yes",
    comment: one("comment"),
    file: one("compressed") === "zlib" ? new Uint8Array(inflateSync(body)) : body,
  };
}

const all = Object.entries(vectors as unknown as Record<string, Uint8Array>)
  .filter(([, bytes]) => bytes instanceof Uint8Array)
  .map(([name, bytes]) => parseVector(name, bytes))
  .sort((a, b) => (a.name < b.name ? -1 : 1));

const isPostQuantum = (identity: string) => identity.startsWith("AGE-SECRET-KEY-PQ-");

/** Why wgqt does not run a vector through its decryptor, or undefined when it does. */
function skipReason(vector: Vector): string | undefined {
  // The store and every host file are binary age; wgqt never writes or reads armor.
  if (vector.armored) return "armored";
  // wgqt decrypts with identity files only: host keys and admin keys, never a passphrase.
  if (vector.identities.length === 0 && vector.passphrases.length > 0) return "passphrase";
  // Hosts run age 1.1, which has no ML-KEM hybrid recipients; wgqt refuses their identities.
  if (vector.identities.some(isPostQuantum)) return "post-quantum";
  return undefined;
}

const withIdentity = all.filter((v) => !skipReason(v) && v.identities.length > 0);
const withoutIdentity = all.filter((v) => !skipReason(v) && v.identities.length === 0);
const skipped = (reason: string) => all.filter((v) => skipReason(v) === reason);

describe("cctv-age vectors", () => {
  it("are sorted into what wgqt runs and what it does not read, by reason", () => {
    expect(all).toHaveLength(143);
    // 66 X25519 vectors, plus scrypt_and_x25519: an X25519 identity opens it,
    // so wgqt must refuse it (an scrypt stanza must be alone) on its own.
    expect(withIdentity).toHaveLength(67);
    expect(withIdentity.filter((v) => v.passphrases.length === 0)).toHaveLength(66);
    expect(withoutIdentity.map((v) => v.name)).toEqual(["empty"]);
    expect(skipped("armored")).toHaveLength(33);
    expect(skipped("passphrase")).toHaveLength(24);
    expect(skipped("post-quantum")).toHaveLength(18);
    expect(withIdentity.length + withoutIdentity.length + 33 + 24 + 18).toBe(all.length);
  });

  describe.each(withIdentity)("$name ($expect)", (vector) => {
    it("decrypts to the payload, or is refused as the vector expects", async () => {
      const identities = parseIdentities(vector.identities.join("\n"), vector.name);
      const result = await decryptWith(vector.file, identities, vector.name).then(
        (plaintext) => ({ plaintext }),
        (error: unknown) => ({ error }),
      );
      if (vector.expect === "success") {
        if (!("plaintext" in result)) throw result.error;
        expect(sha256(result.plaintext)).toBe(vector.payload);
        return;
      }
      // wgqt releases nothing of a file that fails, so there is no partial
      // payload to compare: a refusal, with a message telling which failure.
      expect("error" in result, `${vector.name} decrypted but should fail`).toBe(true);
      const { error } = result as { error: unknown };
      expect(error).toBeInstanceOf(KeyError);
      const message = (error as KeyError).message;
      expect(message.startsWith(`${vector.name}: `), message).toBe(true);
      expect(message).toMatch(refusal(vector));
    });
  });

  it.each(withoutIdentity)("$name ($expect): the header is refused", (vector) => {
    expect(vector.expect).toBe("header failure");
    expect(() => readHeader(vector.file)).toThrow(KeyError);
  });

  it("armored files are refused: the store is binary age only", async () => {
    const identities = parseIdentities(
      "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0",
      "identity",
    );
    for (const vector of skipped("armored")) {
      await expect(decryptWith(vector.file, identities, vector.name), vector.name).rejects.toThrow(
        KeyError,
      );
    }
  });

  it("post-quantum identities are refused by name, not misread", () => {
    for (const vector of skipped("post-quantum")) {
      const identity = vector.identities.find(isPostQuantum)!;
      expect(() => parseIdentities(identity, vector.name), vector.name).toThrow(
        /post-quantum identities are not supported/,
      );
    }
  });
});

/** How wgqt words its refusal of each kind of failure the vectors name. */
function refusal(vector: Vector): RegExp {
  switch (vector.expect) {
    case "no match":
      return /: no identity matches /;
    case "HMAC failure":
      return /: damaged age file: invalid header HMAC$/;
    case "payload failure":
      return /: damaged age file: /;
    case "header failure":
      // age reads the payload's 16-byte nonce with the header; wgqt's header
      // ends at the MAC line, so a missing nonce is a truncated payload.
      if (/^stream_(no|short)_nonce$/.test(vector.name))
        return /: damaged age file: payload is truncated$/;
      return /^(?!.*damaged age file)/;
    default:
      throw new Error(`${vector.name}: expect "${vector.expect}" is not a decryption result`);
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
