/**
 * Encrypting to recipients and decrypting with identities, in memory, in the
 * binary age format. Encryption is encrypt.ts's one-pass writer; for
 * decryption, age-encryption's Decrypter checks the header MAC and the STREAM
 * payload (age-encryption.org/v1, Header MAC, Payload) while our identities
 * unwrap the file key. Nothing here touches the disk.
 */

import type { Identity, Stanza } from "age-encryption";
import { KeyError, WgqtError } from "../errors.js";
import { encryptSync } from "./encrypt.js";
import { readHeader } from "./header.js";
import type { LoadedIdentity } from "./identity.js";
import type { ParsedRecipient } from "./recipients.js";
import { concatBytes } from "./ssh-wire.js";

/** Encrypt `plaintext` to every recipient (duplicates by normalized form dropped). */
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
  if (recipients.length === 0) throw new KeyError("cannot encrypt to no recipients");
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
 */
export async function decryptWith(
  ciphertext: Uint8Array,
  identities: readonly LoadedIdentity[],
  source: string,
): Promise<Uint8Array> {
  if (identities.length === 0) throw new KeyError(`${source}: no identities to decrypt with`);
  // The strict v1 grammar first (header.ts): clean errors, and nothing odd reaches typage.
  let stanzas: { type: string; args: string[] }[];
  try {
    stanzas = readHeader(ciphertext).stanzas;
  } catch (error) {
    throw prefixed(error, source);
  }

  // Record whether an identity claimed the file key, to tell "not for us" from
  // a file whose header MAC or payload is damaged.
  let matched = false;
  // Loaded here, not at start-up: commands that only encrypt never need it.
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
    if (!matched) {
      const has = stanzas.map((s) => (s.type === "X25519" ? s.type : `${s.type} ${s.args[0]}`));
      const tried = identities.map((i) => (i.tag ? `${i.kind} ${i.tag}` : i.kind));
      throw new KeyError(
        `${source}: no identity matches (file is for ${has.join(", ")}; tried ${tried.join(", ")})`,
      );
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw new KeyError(`${source}: damaged age file: ${reason}`);
  }
}

function prefixed(error: unknown, source: string): unknown {
  return error instanceof KeyError ? new KeyError(`${source}: ${error.message}`) : error;
}
