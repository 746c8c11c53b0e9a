/**
 * The whole picture `wgqt status` prints, and its `--json` shape.
 */
import { vpnsOf } from "../../config/types.js";
import { type ExpectedSecret, expectedFor, type SecretKind } from "../expected.js";
import {
  PRESHARED_DIR,
  parseVpnFile,
  privateKeyFile,
  vpnKeyFile,
  vpnPresharedKeyFile,
} from "../layout.js";
import { type FileReader, fileAccess } from "./access.js";
import { displayPath } from "./names.js";
import { findProblems, type Problem, type ProblemKind } from "./problems.js";
import type { Inspection, StanzaSummary } from "./read.js";

/**
 * `wgqt status --json`, version 1. Fields are only ever added; paths are
 * relative to the key store, times are ISO 8601 UTC, lists are in byte order.
 *
 * ```jsonc
 * {
 *   "version": 1,
 *   "keysDir": "wireguard_keys",            // relative to wgqt.toml
 *   "machines": [{
 *     "name": "tavern",
 *     "publicKey": "base64…" | null,        // from tavern.pub; null before keygen
 *     "ownPublicKey": false,                // true: public_key from wgqt.toml, no private key kept
 *     "recipients": ["ssh-ed25519 AAAA…"],  // the host's recipients in wgqt.toml
 *     "privateKey": { "file": "tavern.age", "created": "2025-01-01T00:00:00Z" | null } | null,
 *     "presharedKeys": [{ "peer": "nyaa", "file": "preshared_keys/nyaa+tavern.age",
 *                         "present": true, "created": "…" | null }]
 *   }],
 *   "vpns": [{                              // [vpns.*] in wgqt.toml
 *     "name": "us-west", "id": 1, "machines": ["nyaa"],
 *     "privateKey": { "file": "vpns/us-west.age", "created": "…" | null } | null,
 *     "presharedKey": { "file": "vpns/us-west.psk.age", "created": "…" | null } | null,
 *     "publicKey": "base64…" | null         // this end's public key, as the provider knows it
 *   }],
 *   "files": [{                             // every .age file present
 *     "file": "tavern.age",
 *     "kind": "private-key" | "preshared-key" | "vpn-private-key" | "vpn-preshared-key",
 *     "machines": ["tavern"],
 *     "created": "…" | null,                // when the secret inside was made (kept by rekey)
 *     "stanzas": 2 | null,                  // recipient stanzas in the header; null: unreadable
 *     "readers": [{                         // who can decrypt it
 *       "recipient": "ssh-ed25519 AAAA…",
 *       "kind": "x25519" | "ssh-ed25519" | "ssh-rsa",
 *       "owners": ["tavern"],               // machines and/or "admin" in wgqt.toml; [] if gone
 *       "inManifest": true,
 *       "header": "present" | "absent" | "unattributable",   // X25519 stanzas name nobody
 *       "canDecrypt": true | false | null   // null: fewer X25519 stanzas than listed, cannot tell which
 *     }],
 *     "unattributed": [{ "type": "ssh-rsa", "tag": "AbCdEf" }],  // stanzas matching no known key
 *     "expectedRecipients": ["…"] | null,   // what wgqt.toml asks; null for an orphan
 *     "problems": ["stale-recipients"]      // kinds, see "problems"
 *   }],
 *   "problems": [{ "kind": "stale-recipients", "file": "nyaa.age", "message": "…",
 *                  "added": ["…"], "removed": ["…"] }]   // added/removed: stale-recipients only
 * }
 * ```
 */
export interface StoreStatus {
  version: 1;
  keysDir: string;
  machines: MachineStatus[];
  vpns: VpnStatus[];
  files: FileStatus[];
  problems: Problem[];
}

/** One machine's keys in {@link StoreStatus}. */
export interface MachineStatus {
  name: string;
  publicKey: string | null;
  ownPublicKey: boolean;
  recipients: string[];
  privateKey: { file: string; created: string | null } | null;
  presharedKeys: { peer: string; file: string; present: boolean; created: string | null }[];
}

/** One VPN's keys in {@link StoreStatus}. */
export interface VpnStatus {
  name: string;
  id: number;
  machines: string[];
  privateKey: { file: string; created: string | null } | null;
  presharedKey: { file: string; created: string | null } | null;
  publicKey: string | null;
}

/** One encrypted file in {@link StoreStatus}: who reads it and what is wrong. */
export interface FileStatus {
  file: string;
  kind: SecretKind;
  machines: string[];
  created: string | null;
  stanzas: number | null;
  readers: FileReader[];
  unattributed: StanzaSummary[];
  expectedRecipients: string[] | null;
  problems: ProblemKind[];
}

/**
 * The whole picture `wgqt status` prints. Pure.
 *
 * @param problems - Defaults to {@link findProblems} of `inspection`.
 * @returns The shape `wgqt status --json` prints.
 */
export function storeStatus(
  inspection: Inspection,
  problems: Problem[] = findProblems(inspection),
): StoreStatus {
  const { config, store } = inspection;
  const expected = expectedFor(config);
  // Indexed once: looked up per machine and per file, a scan of every secret
  // or every problem each time would grow with their product.
  const presharedByMachine = new Map<string, ExpectedSecret[]>();
  for (const secret of expected.values()) {
    if (secret.kind !== "preshared-key") continue;
    for (const machine of new Set(secret.machines)) {
      const list = presharedByMachine.get(machine);
      if (list === undefined) presharedByMachine.set(machine, [secret]);
      else list.push(secret);
    }
  }
  const problemKinds = new Map<string, Set<ProblemKind>>();
  for (const problem of problems) {
    const kinds = problemKinds.get(problem.file);
    if (kinds === undefined) problemKinds.set(problem.file, new Set([problem.kind]));
    else kinds.add(problem.kind);
  }
  const machines: MachineStatus[] = Object.keys(config.machines)
    .sort()
    .map((name) => {
      const machine = config.machines[name]!;
      const privateFile = privateKeyFile(name);
      return {
        name,
        publicKey: store.machines[name]?.publicKey ?? null,
        ownPublicKey: machine.publicKey !== undefined,
        recipients: [...machine.recipients],
        privateKey: store.encryptedFiles.has(privateFile)
          ? { file: privateFile, created: store.manifest.files[privateFile]?.created ?? null }
          : null,
        presharedKeys: (presharedByMachine.get(name) ?? []).map((secret) => ({
          peer: secret.machines[0] === name ? secret.machines[1]! : secret.machines[0]!,
          file: secret.file,
          present: store.encryptedFiles.has(secret.file),
          created: store.manifest.files[secret.file]?.created ?? null,
        })),
      };
    });
  const present = (file: string) =>
    store.encryptedFiles.has(file)
      ? { file, created: store.manifest.files[file]?.created ?? null }
      : null;
  const vpns: VpnStatus[] = vpnsOf(config).map((vpn) => ({
    name: vpn.name,
    id: vpn.id,
    machines: [...vpn.machines].sort(),
    privateKey: present(vpnKeyFile(vpn.name)),
    presharedKey: vpn.presharedKey ? present(vpnPresharedKeyFile(vpn.name)) : null,
    publicKey: store.manifest.files[vpnKeyFile(vpn.name)]?.public_key ?? null,
  }));
  const files: FileStatus[] = [...inspection.files.keys()].map((file) => {
    const entry = store.manifest.files[file];
    const secret = expected.get(file);
    const access = fileAccess(inspection, file);
    // What its name says: only for a file neither the manifest nor wgqt.toml knows.
    const named = () => {
      const vpnFile = parseVpnFile(file);
      const inPresharedDir = file.startsWith(`${PRESHARED_DIR}/`);
      return {
        kind: vpnFile?.kind ?? (inPresharedDir ? "preshared-key" : "private-key"),
        machines: vpnFile
          ? [...(config.vpns?.[vpnFile.vpn]?.machines ?? [])].sort()
          : inPresharedDir
            ? file.slice(PRESHARED_DIR.length + 1, -4).split("+")
            : [file.slice(0, -4)],
      } as const;
    };
    return {
      file,
      kind: entry?.kind ?? secret?.kind ?? named().kind,
      machines: entry?.machines ?? secret?.machines ?? named().machines,
      created: entry?.created ?? null,
      stanzas: access.stanzaCount ?? null,
      readers: access.readers,
      unattributed: access.unattributed,
      expectedRecipients: secret ? [...secret.recipients] : null,
      problems: [...(problemKinds.get(file) ?? [])],
    };
  });
  return { version: 1, keysDir: displayPath(config, "."), machines, vpns, files, problems };
}
