/**
 * Encrypting to recipients and decrypting with identities, in memory, in the
 * binary age format. Encryption is encrypt.ts's one-pass writer. Decryption
 * checks the header MAC and the STREAM payload (age-encryption.org/v1, Header
 * MAC, Payload) in one pass for a payload of one chunk, and through
 * age-encryption's Decrypter for longer ones; our identities unwrap the file
 * key either way. Nothing here touches the disk.
 */

import { timingSafeEqual } from "node:crypto";
import type { Identity, Stanza } from "age-encryption";
import { KeyError, WgqtError } from "../errors.js";
import { CHUNK_SIZE, encryptSync, headerMac, PAYLOAD_NONCE_SIZE, TAG_SIZE } from "./encrypt.js";
import { openChaCha20Poly1305 } from "./file-key.js";
import { type AgeHeader, readHeader } from "./header.js";
import { hkdfSha256 } from "./hkdf.js";
import type { LoadedIdentity } from "./identity.js";
import type { ParsedRecipient } from "./recipients.js";
import { concatBytes } from "./ssh-wire.js";

/**
 * Encrypt `plaintext` to every recipient (duplicates by normalized form dropped).
 *
 * @returns The binary age file.
 * @throws {KeyError} when `recipients` is empty.
 */
export async function encryptTo(
  plaintext: Uint8Array,
  recipients: readonly ParsedRecipient[],
): Promise<Uint8Array> {
  return encryptToSync(plaintext, recipients);
}

/** encryptTo without the promise, for callers that encrypt thousands of small files. */
export function encryptToSync(
  plaintext: Uint8Array,
  recipients: readonly ParsedRecipient[],
): Uint8Array {
  if (recipients.length === 0)
    throw new KeyError("age/no-recipients", "cannot encrypt to no recipients");
  const unique = new Map<string, ParsedRecipient["recipient"]>();
  for (const recipient of recipients) {
    if (!unique.has(recipient.normalized)) unique.set(recipient.normalized, recipient.recipient);
  }
  return encryptSync(plaintext, [...unique.values()]);
}

/**
 * Decrypt an age file with the first identity that opens it. `source` names
 * the file in errors. Throws KeyError `<source>: no identity matches …` when
 * none of the identities is a recipient.
 *
 * @returns The plaintext.
 * @throws {KeyError} when no identity matches, or the file is not age or is damaged.
 */
export async function decryptWith(
  ciphertext: Uint8Array,
  identities: readonly LoadedIdentity[],
  source: string,
): Promise<Uint8Array> {
  if (identities.length === 0)
    throw new KeyError("age/no-identity", `${source}: no identities to decrypt with`);
  // The strict v1 grammar first (header.ts): clean errors, and nothing odd reaches typage.
  let header: AgeHeader;
  try {
    header = readHeader(ciphertext);
  } catch (error) {
    throw prefixed(error, source);
  }
  const noMatch = () => {
    const has = header.stanzas.map((s) =>
      s.type === "X25519" ? s.type : `${s.type} ${s.args[0]}`,
    );
    const tried = identities.map((i) => (i.tag ? `${i.kind} ${i.tag}` : i.kind));
    return new KeyError(
      "age/no-identity",
      `${source}: no identity matches (file is for ${has.join(", ")}; tried ${tried.join(", ")})`,
    );
  };
  const damaged = (reason: string) =>
    new KeyError("age/damaged", `${source}: damaged age file: ${reason}`);
  if (ciphertext.length - header.length > PAYLOAD_NONCE_SIZE + CHUNK_SIZE + TAG_SIZE) {
    return decryptStreamed(ciphertext, identities, noMatch, damaged, source);
  }
  let plaintext: Awaited<ReturnType<typeof openOneChunk>>;
  try {
    plaintext = await openOneChunk(ciphertext, header, identities);
  } catch (error) {
    throw prefixed(error, source);
  }
  if (plaintext === NO_MATCH) throw noMatch();
  if (typeof plaintext === "string") throw damaged(plaintext);
  return plaintext;
}

const NO_MATCH = Symbol("no identity matches");

/**
 * An age file whose payload is a single STREAM chunk (at most 64 KiB of
 * plaintext: every key file, and most files anywhere), opened in one pass with
 * node:crypto: unwrap the file key, check the header MAC, open the chunk with
 * the last-chunk flag set. The same checks age-encryption's Decrypter makes,
 * without its web streams, which cost more than the cryptography for a file
 * this small (a fleet's rekey opens thousands). Returns the plaintext, NO_MATCH
 * when no identity unwraps the file key, or why the file is damaged.
 */
async function openOneChunk(
  file: Uint8Array,
  header: AgeHeader,
  identities: readonly LoadedIdentity[],
): Promise<Uint8Array | string | typeof NO_MATCH> {
  const stanzas: Stanza[] = header.stanzas.map(({ type, args, body }) => ({
    args: [type, ...args],
    body,
  }));
  let fileKey: Uint8Array | null = null;
  for (const identity of identities) {
    fileKey = await identity.unwrapFileKey(stanzas);
    if (fileKey !== null) break;
  }
  if (fileKey === null) return NO_MATCH;
  // The MAC covers the header up to and including "---" (not the space, the
  // base64 MAC or the LF after it).
  const macInput = file.subarray(0, header.length - MAC_LINE_TAIL);
  if (!timingSafeEqual(headerMac(fileKey, macInput), header.mac)) return "invalid header HMAC";
  const payload = file.subarray(header.length);
  if (payload.length < PAYLOAD_NONCE_SIZE + TAG_SIZE) return "payload is truncated";
  const nonce = payload.subarray(0, PAYLOAD_NONCE_SIZE);
  const plaintext = openChaCha20Poly1305(
    hkdfSha256(fileKey, nonce, "payload"),
    LAST_CHUNK_NONCE,
    payload.subarray(PAYLOAD_NONCE_SIZE),
  );
  return plaintext ?? "payload does not authenticate (changed or truncated)";
}

/** The first STREAM chunk's nonce when it is also the last: counter 0, last-chunk flag 1. */
const LAST_CHUNK_NONCE = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
/** " " + 43 base64 characters of the 32-byte MAC + LF. */
const MAC_LINE_TAIL = 45;

/** Larger files: age-encryption's Decrypter reads the STREAM chunk by chunk. */
async function decryptStreamed(
  ciphertext: Uint8Array,
  identities: readonly LoadedIdentity[],
  noMatch: () => KeyError,
  damaged: (reason: string) => KeyError,
  source: string,
): Promise<Uint8Array> {
  // Record whether an identity claimed the file key, to tell "not for us" from
  // a file whose header MAC or payload is damaged.
  let matched = false;
  // Loaded here, not at start-up: only files of more than one chunk need it.
  const { Decrypter } = await import("age-encryption");
  const decrypter = new Decrypter();
  for (const identity of identities) {
    const tracking: Identity = {
      async unwrapFileKey(all: Stanza[]) {
        const fileKey = await identity.unwrapFileKey(all);
        if (fileKey !== null) matched = true;
        return fileKey;
      },
    };
    decrypter.addIdentity(tracking);
  }
  try {
    // Given a stream, the Decrypter hands back a stream, read here: given
    // bytes it reads its output through fetch's Response, and loading fetch
    // costs a command 20 ms.
    const input = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(ciphertext);
        controller.close();
      },
    });
    const chunks: Uint8Array[] = [];
    for await (const chunk of await decrypter.decrypt(input)) chunks.push(chunk);
    return chunks.length === 1 ? chunks[0]! : concatBytes(...chunks);
  } catch (error) {
    if (error instanceof WgqtError) throw prefixed(error, source);
    if (!matched) throw noMatch();
    throw damaged(error instanceof Error ? error.message : String(error));
  }
}

function prefixed(error: unknown, source: string): unknown {
  return error instanceof KeyError
    ? new KeyError(error.code, `${source}: ${error.message}`)
    : error;
}
