/**
 * `wgqt verify --identity`: what only decrypting shows, for the files the
 * given identities open.
 */
import { decryptWith, type LoadedIdentity } from "../../age/index.js";
import { WgqtError } from "../../errors.js";
import { parseKeyFileContent, publicKeyOf } from "../../keys/wireguard.js";
import { parseKeyFileName, parseVpnFile, publicKeyFile } from "../layout.js";
import { fileAccess } from "./access.js";
import { displayPath, shortRecipient } from "./names.js";
import type { Problem } from "./problems.js";
import type { Inspection } from "./read.js";

/**
 * With identities in hand: decrypt every file one of them opens, check the
 * plaintext is a key and that each private key matches its `.pub`. Returns the
 * problems and which files were checked (the others are for other people).
 *
 * Failures to decrypt or to parse are reported as problems, not thrown.
 */
export async function checkWithIdentities(
  inspection: Inspection,
  identities: readonly LoadedIdentity[],
): Promise<{ problems: Problem[]; checked: string[] }> {
  const { config, store } = inspection;
  const problems: Problem[] = [];
  const checked: string[] = [];
  for (const [file, facts] of inspection.files) {
    if (facts.headerError !== undefined) continue; // already reported as unreadable
    const access = fileAccess(inspection, file);
    const ours = identities.filter((identity) =>
      identity.kind === "x25519"
        ? facts.stanzas!.some((stanza) => stanza.type === "X25519")
        : access.readers.some(
            (reader) => reader.recipient === identity.recipient && reader.header === "present",
          ),
    );
    if (ours.length === 0) continue;
    const where = displayPath(config, file);
    let plaintext: Uint8Array;
    try {
      plaintext = await decryptWith(facts.bytes, ours, where);
    } catch (error) {
      if (!(error instanceof WgqtError)) throw error;
      // X25519 stanzas name nobody, so "not ours" is only a problem when the
      // manifest says one of these identities can decrypt the file.
      const listed = ours.filter((identity) =>
        access.readers.some((reader) => reader.recipient === identity.recipient),
      );
      if (
        ours.every((identity) => identity.kind === "x25519") &&
        error.code === "age/no-identity"
      ) {
        if (listed.length === 0) continue;
        problems.push({
          kind: "undecryptable",
          file,
          message: `${where}: manifest.json lists ${listed.map((identity) => shortRecipient(identity.recipient)).join(", ")}, but it cannot decrypt the file`,
        });
        continue;
      }
      problems.push({
        kind: "undecryptable",
        file,
        message: error.message.startsWith(where) ? error.message : `${where}: ${error.message}`,
      });
      continue;
    }
    let key: string;
    try {
      key = parseKeyFileContent(plaintext, where);
    } catch {
      // The decoder's error would quote the plaintext: say what is wrong without it.
      problems.push({
        kind: "undecryptable",
        file,
        message: `${where}: decrypts, but not to a WireGuard key (44 characters of base64 and a newline)`,
      });
      continue;
    }
    checked.push(file);
    const vpnFile = parseVpnFile(file);
    const providerKnows = store.manifest.files[file]?.public_key;
    if (
      vpnFile?.kind === "vpn-private-key" &&
      providerKnows !== undefined &&
      publicKeyOf(key, where) !== providerKnows
    ) {
      problems.push({
        kind: "public-key-mismatch",
        file,
        message: `${where}: its public key is not the one recorded in manifest.json (re-import the provider's file with wgqt vpn import ${vpnFile.vpn})`,
      });
    }
    const parsed = parseKeyFileName(file);
    const machine = parsed?.kind === "private-key" ? parsed.machine : undefined;
    const publicKey = machine === undefined ? undefined : store.machines[machine]?.publicKey;
    if (publicKey !== undefined && publicKeyOf(key, where) !== publicKey) {
      problems.push({
        kind: "public-key-mismatch",
        file: publicKeyFile(machine!),
        message: `${displayPath(config, publicKeyFile(machine!))}: not the public key of the private key in ${displayPath(config, file)} (wgqt rotate --machine ${machine} makes a new pair)`,
      });
    }
  }
  return { problems, checked };
}
