/**
 * What is wrong with the key store against `wgqt.toml`: the problems
 * `wgqt verify` fails on and `wgqt status` lists, and which files `wgqt rekey`
 * should re-encrypt. Pure.
 */
import { pairsOf } from "../../config/peers.js";
import type { Config } from "../../config/types.js";
import { byteOrder } from "../../order.js";
import { type ExpectedSecret, expectedFor, managedMachines } from "../expected.js";
import type { KeyStore } from "../keystore.js";
import {
  MANIFEST_FILE,
  PRESHARED_DIR,
  parseKeyFileName,
  parseVpnFile,
  privateKeyFile,
  publicKeyFile,
  VPN_DIR,
} from "../layout.js";
import { fileAccess } from "./access.js";
import { displayPath, labelled, ownersOf, shortRecipient } from "./names.js";
import type { FileInspection, Inspection } from "./read.js";

/** The kinds of {@link Problem} `status` and `verify` report. */
export type ProblemKind =
  | "missing-key"
  | "missing-public-key"
  | "missing-preshared-key"
  | "orphan"
  | "stale-recipients"
  | "manifest-mismatch"
  | "header-mismatch"
  | "checksum-mismatch"
  | "unreadable"
  | "public-key-mismatch"
  | "undecryptable"
  | "generated-outdated"
  | "temp-file"
  | "interrupted-change";

interface ProblemBase {
  /** Store-relative path of the file concerned. */
  file: string;
  /** One line for humans and CI logs, naming the file relative to wgqt.toml. */
  message: string;
}

/** Something `verify` fails on. */
export type Problem =
  | (ProblemBase & { kind: Exclude<ProblemKind, "stale-recipients"> })
  | (ProblemBase & {
      kind: "stale-recipients";
      /** Asked for by wgqt.toml, but cannot decrypt the file yet. */
      added: string[];
      /** No longer asked for, but can still decrypt the file. */
      removed: string[];
    });

/**
 * Why a present, expected file should be re-encrypted (`wgqt rekey`):
 * undefined when its recipients are exactly what wgqt.toml asks and the
 * manifest and header agree on it.
 */
export function staleness(
  inspection: FileInspection,
  secret: ExpectedSecret,
): { added: string[]; removed: string[]; untrusted?: string } | undefined {
  const entry = inspection.store.manifest.files[secret.file];
  const facts = inspection.files.get(secret.file);
  if (!facts) return undefined;
  if (!entry) return { added: [], removed: [], untrusted: "not recorded in manifest.json" };
  const { added, removed } = recipientChanges(entry.recipients, secret.recipients);
  let untrusted: string | undefined;
  if (facts.sha256 !== entry.sha256)
    untrusted = "changed since wgqt wrote it (sha256 differs from manifest.json)";
  else if (headerProblem(inspection, secret.file))
    untrusted = "header disagrees with manifest.json";
  if (added.length + removed.length === 0 && untrusted === undefined) return undefined;
  return untrusted === undefined ? { added, removed } : { added, removed, untrusted };
}

/** Recipients wgqt.toml asks for that the manifest does not list, and the other way round. */
function recipientChanges(
  listed: readonly string[],
  wanted: readonly string[],
): { added: string[]; removed: string[] } {
  // The usual case, every file of a store in line with wgqt.toml: the same
  // list in the same order, with nothing added or removed.
  if (listed.length === wanted.length && listed.every((recipient, i) => recipient === wanted[i]))
    return { added: [], removed: [] };
  const current = new Set(listed);
  const asked = new Set(wanted);
  return {
    added: wanted.filter((recipient) => !current.has(recipient)),
    removed: listed.filter((recipient) => !asked.has(recipient)),
  };
}

/** What the header says that the manifest does not, in words; undefined when they agree. */
function headerProblem(inspection: FileInspection, file: string): string | undefined {
  const facts = inspection.files.get(file);
  if (!facts?.stanzas || !inspection.store.manifest.files[file]) return undefined;
  const access = fileAccess(inspection, file);
  const details: string[] = [];
  for (const reader of access.readers) {
    if (reader.inManifest && reader.header === "absent")
      details.push(`${shortRecipient(reader.recipient)} listed but not in the header`);
    if (!reader.inManifest)
      details.push(`${shortRecipient(reader.recipient)} in the header but not listed`);
  }
  for (const stanza of access.unattributed) {
    details.push(
      stanza.tag === undefined
        ? `an unlisted ${stanza.type} stanza`
        : `an unknown ${stanza.type} stanza (key tag ${stanza.tag})`,
    );
  }
  const listed = inspection.store.manifest.files[file]!.recipients.length;
  if (details.length === 0 && access.stanzaCount !== listed) {
    details.push(`${access.stanzaCount} stanzas for ${listed} listed recipients`);
  }
  return details.length ? details.join("; ") : undefined;
}

/** Every problem, each once, sorted by file. Pure. */
export function findProblems(inspection: Inspection): Problem[] {
  const { config, store } = inspection;
  const problems: Problem[] = [];
  const at = (file: string) => displayPath(config, file);
  const add = (kind: Exclude<ProblemKind, "stale-recipients">, file: string, text: string) => {
    problems.push({ kind, file, message: `${at(file)}: ${text}` });
  };
  const expected = expectedFor(config);

  for (const name of managedMachines(config)) {
    const file = privateKeyFile(name);
    // A machine in no proxy has no peer to need its keypair yet (keygen makes it
    // when one does): a commit that only adds the machine is complete as it is.
    if (
      !store.encryptedFiles.has(file) &&
      !store.publicKeyFiles.has(publicKeyFile(name)) &&
      pairsOf(config, name).length === 0
    )
      continue;
    if (!store.encryptedFiles.has(file))
      add(
        "missing-key",
        file,
        `missing: no private key for ${name} (run wgqt keygen --machine ${name})`,
      );
    else if (!store.publicKeyFiles.has(publicKeyFile(name))) {
      add(
        "missing-public-key",
        publicKeyFile(name),
        `missing: ${name}'s public key (restore it from git, or wgqt rotate --machine ${name})`,
      );
    } else {
      const recorded = store.manifest.files[file]?.public_key;
      const actual = store.machines[name]?.publicKey;
      if (recorded !== undefined && recorded !== actual) {
        add(
          "public-key-mismatch",
          publicKeyFile(name),
          `differs from the public key recorded for ${at(file)} in manifest.json (an interrupted write? restore from git, or wgqt rotate --machine ${name})`,
        );
      }
    }
  }
  for (const name of Object.keys(config.machines).sort()) {
    const own = config.machines[name]!.publicKey;
    if (own === undefined) continue;
    const actual = store.machines[name]?.publicKey;
    if (actual === undefined)
      add(
        "missing-public-key",
        publicKeyFile(name),
        `missing: ${name}'s own public key from wgqt.toml (run wgqt keygen)`,
      );
    else if (actual !== own)
      add(
        "public-key-mismatch",
        publicKeyFile(name),
        `differs from machines.${name}.public_key in wgqt.toml (run wgqt keygen)`,
      );
  }
  for (const secret of expected.values()) {
    if (secret.kind === "preshared-key" && !store.encryptedFiles.has(secret.file)) {
      add(
        "missing-preshared-key",
        secret.file,
        `missing: no preshared key for ${secret.machines.join("+")} (run wgqt keygen)`,
      );
    }
  }
  for (const secret of expected.values()) {
    if (secret.vpn === undefined || store.encryptedFiles.has(secret.file)) continue;
    const how = `wgqt vpn import ${secret.vpn} --from FILE --machine ${secret.machines[0]}`;
    if (secret.kind === "vpn-private-key")
      add(
        "missing-key",
        secret.file,
        `missing: no provider key for VPN ${secret.vpn} (import the provider's file: ${how})`,
      );
    else
      add(
        "missing-preshared-key",
        secret.file,
        `missing: no preshared key for VPN ${secret.vpn}, though vpns.${secret.vpn}.preshared_key is true (re-import the provider's file: ${how})`,
      );
  }
  for (const file of orphanFiles(config, store))
    add("orphan", file, `orphaned: ${orphanReason(config, file)} (wgqt prune removes it)`);

  for (const [file, facts] of inspection.files) {
    const entry = store.manifest.files[file];
    if (facts.headerError !== undefined)
      add("unreadable", file, `not a readable age file: ${facts.headerError}`);
    if (!entry) {
      add(
        "manifest-mismatch",
        file,
        `not recorded in manifest.json (written outside wgqt? if it is yours: wgqt rekey --accept ${at(file)})`,
      );
      continue;
    }
    if (facts.sha256 !== entry.sha256)
      add(
        "checksum-mismatch",
        file,
        `changed outside wgqt: sha256 differs from manifest.json (restore it from git; if you changed it on purpose, e.g. with agenix -e: wgqt rekey --accept ${at(file)})`,
      );
    const disagreement = headerProblem(inspection, file);
    if (disagreement)
      add("header-mismatch", file, `header disagrees with manifest.json: ${disagreement}`);
    const secret = expected.get(file);
    // Recipients only: staleness() would judge the header a second time.
    const stale = secret && recipientChanges(entry.recipients, secret.recipients);
    if (stale && stale.added.length + stale.removed.length > 0) {
      const parts = [
        ...stale.removed.map(
          (recipient) =>
            `${labelled(config, recipient)}${ownersOf(config, recipient).length ? "" : " (no longer in wgqt.toml)"} removed but can still decrypt`,
        ),
        ...stale.added.map(
          (recipient) => `${labelled(config, recipient)} added but cannot decrypt yet`,
        ),
      ];
      problems.push({
        kind: "stale-recipients",
        file,
        message: `${at(file)}: recipients differ from wgqt.toml: ${parts.join("; ")} (run wgqt rekey)`,
        added: stale.added,
        removed: stale.removed,
      });
    }
  }
  for (const file of Object.keys(store.manifest.files).sort()) {
    if (!inspection.files.has(file))
      add("manifest-mismatch", file, `listed in manifest.json but the file is gone`);
  }
  if (!store.hasManifest && inspection.files.size > 0)
    add("manifest-mismatch", MANIFEST_FILE, "missing while encrypted files exist");
  for (const { file, current, expected: text } of inspection.generated) {
    if (current !== text)
      add(
        "generated-outdated",
        file,
        `${current === undefined ? "missing" : "out of date with wgqt.toml and the key store"} (run wgqt rekey, or wgqt keygen)`,
      );
  }
  for (const file of inspection.tempFiles)
    add(
      "temp-file",
      file,
      "leftover temp file from an interrupted write (wgqt prune, or any command that writes, removes it)",
    );
  if (inspection.pendingJournal !== undefined)
    add(
      "interrupted-change",
      inspection.pendingJournal,
      "an interrupted change is pending (run wgqt keygen, or any command that writes, to finish it)",
    );
  return problems.sort((a, b) => byteOrder(a.file, b.file) || byteOrder(a.kind, b.kind));
}

/** Store-relative `.age` and `.pub` files that nothing in wgqt.toml asks for, in byte order. */
export function orphanFiles(config: Config, store: KeyStore): string[] {
  const expected = expectedFor(config);
  const orphans = [...store.encryptedFiles].filter((file) => !expected.has(file));
  for (const file of store.publicKeyFiles)
    if (!config.machines[file.slice(0, -4)]) orphans.push(file);
  return orphans.sort();
}

function orphanReason(config: Config, file: string): string {
  if (file.endsWith(".pub")) return `machine ${file.slice(0, -4)} is not in wgqt.toml`;
  const parsed = parseKeyFileName(file);
  if (parsed?.kind === "preshared-key") {
    const gone = parsed.machines.filter((name) => !config.machines[name]);
    return gone.length
      ? `${gone.length === 1 ? "machine" : "machines"} ${gone.join(" and ")} ${gone.length === 1 ? "is" : "are"} not in wgqt.toml`
      : `${parsed.machines[0]} and ${parsed.machines[1]} are no longer peers in any network`;
  }
  if (file.startsWith(`${PRESHARED_DIR}/`)) return "not a preshared key name wgqt uses (a+b.age)";
  if (file.startsWith(`${VPN_DIR}/`)) {
    const parsed = parseVpnFile(file);
    if (parsed === undefined) return "not a VPN key name wgqt uses (NAME.age, NAME.psk.age)";
    if (!config.vpns?.[parsed.vpn]) return `VPN ${parsed.vpn} is not in wgqt.toml`;
    return `vpns.${parsed.vpn} has no preshared_key = true`;
  }
  const name = file.slice(0, -4);
  if (config.machines[name]?.publicKey !== undefined)
    return `${name} brings its own public_key, so wgqt keeps no private key for it`;
  return `machine ${name} is not in wgqt.toml`;
}
