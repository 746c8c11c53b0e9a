/**
 * Reading the key store: `openKeyStore(dir)` gives every machine with its
 * public key, recipients and key files, and every PSK file, from the `.pub`
 * files and the manifest alone: no decryption, no config needed. Other tools
 * use it to populate machines and public keys.
 */
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { quote, StoreError } from "../errors.js";
import { decodeKey } from "../keys/wireguard.js";
import { readIfExists } from "./files.js";
import { MANIFEST_FILE, PRESHARED_DIR, parseVpnFile, VPN_DIR } from "./layout.js";
import { emptyManifest, type Manifest, parseManifest } from "./manifest.js";

export interface StoredMachine {
  name: string;
  /** Base64 WireGuard public key from `<name>.pub`, when present. */
  publicKey?: string;
  /** Absolute path of `<name>.age`, when present. */
  privateKeyFile?: string;
  /** Who can decrypt the private key, from the manifest. */
  recipients: string[];
  /** When the key in `<name>.age` was made (manifest), ISO 8601. */
  created?: string;
}

export interface StoredPresharedKey {
  /** The two machines, byte order. */
  machines: [string, string];
  /** Absolute path of the `.age` file. */
  file: string;
  recipients: string[];
  created?: string;
}

/** A VPN provider's key in `vpns/` (see `wgqt vpn import`). */
export interface StoredVpnKey {
  vpn: string;
  kind: "vpn-private-key" | "vpn-preshared-key";
  /** Absolute path of the `.age` file. */
  file: string;
  recipients: string[];
  created?: string;
  /** For the private key: the public key the provider knows it by (manifest). */
  publicKey?: string;
}

export interface KeyStore {
  /** Absolute store directory. */
  dir: string;
  manifest: Manifest;
  /** Whether `manifest.json` exists. */
  hasManifest: boolean;
  machines: Record<string, StoredMachine>;
  presharedKeys: Record<string, StoredPresharedKey>;
  /** VPN keys by store-relative path (`vpns/us-west.age`, `vpns/us-west.psk.age`). */
  vpnKeys: Record<string, StoredVpnKey>;
  /** Store-relative paths of every `.age` file present. */
  encryptedFiles: Set<string>;
  /** Store-relative paths of every `.pub` file present. */
  publicKeyFiles: Set<string>;
  /** Map of machine name to public key, for the planner and renderers. */
  publicKeys(): Record<string, string>;
}

/** Entries of a directory that must hold only regular files (and `preshared_keys/`, `vpns/`). */
async function listRegularFiles(dir: string, allowDirectory?: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return [];
    if (code === "ENOTDIR") throw new StoreError(`${dir}: expected a directory, found a file`);
    throw new StoreError(`${dir}: cannot read (${code ?? String(error)})`);
  }
  const files: string[] = [];
  for (const name of names.sort()) {
    if (!name.endsWith(".age") && !name.endsWith(".pub")) continue;
    const info = await lstat(join(dir, name));
    if (info.isSymbolicLink()) {
      throw new StoreError(
        `${join(dir, name)}: is a symlink; the key store holds only regular files`,
      );
    }
    if (info.isDirectory() && name !== allowDirectory) {
      throw new StoreError(`${join(dir, name)}: is a directory where a key file should be`);
    }
    if (info.isFile()) files.push(name);
  }
  return files;
}

/** Open the key store at `dir` (absolute). A missing directory is an empty store. */
export async function openKeyStore(dir: string): Promise<KeyStore> {
  const manifestBytes = await readIfExists(join(dir, MANIFEST_FILE)).catch(
    (error: NodeJS.ErrnoException) => {
      throw new StoreError(
        `${join(dir, MANIFEST_FILE)}: cannot read (${error.code ?? String(error)})`,
      );
    },
  );
  const manifest = manifestBytes
    ? parseManifest(manifestBytes.toString("utf8"), join(dir, MANIFEST_FILE))
    : emptyManifest();

  const machines: Record<string, StoredMachine> = {};
  const machineEntry = (name: string): StoredMachine => {
    machines[name] ??= { name, recipients: [] };
    return machines[name]!;
  };
  const encryptedFiles = new Set<string>();
  const publicKeyFiles = new Set<string>();

  for (const name of await listRegularFiles(dir)) {
    const machine = name.slice(0, -4);
    if (name.endsWith(".pub")) {
      publicKeyFiles.add(name);
      const text = (await readIfExists(join(dir, name)))!.toString("utf8").replace(/\r?\n$/, "");
      try {
        decodeKey(text, join(dir, name));
      } catch {
        throw new StoreError(`${join(dir, name)}: not a WireGuard public key (got ${quote(text)})`);
      }
      machineEntry(machine).publicKey = text;
    } else {
      encryptedFiles.add(name);
      machineEntry(machine).privateKeyFile = join(dir, name);
    }
  }

  const presharedKeys: Record<string, StoredPresharedKey> = {};
  for (const name of await listRegularFiles(join(dir, PRESHARED_DIR))) {
    if (!name.endsWith(".age")) continue;
    const file = `${PRESHARED_DIR}/${name}`;
    encryptedFiles.add(file);
    const parts = name.slice(0, -4).split("+");
    if (parts.length !== 2) continue; // orphan with a foreign name: `verify` reports it
    presharedKeys[file] = {
      machines: [parts[0]!, parts[1]!],
      file: join(dir, file),
      recipients: [],
    };
  }

  const vpnKeys: Record<string, StoredVpnKey> = {};
  for (const name of await listRegularFiles(join(dir, VPN_DIR))) {
    if (!name.endsWith(".age")) continue;
    const file = `${VPN_DIR}/${name}`;
    encryptedFiles.add(file);
    const parsed = parseVpnFile(file);
    if (parsed === undefined) continue; // orphan with a foreign name: `verify` reports it
    vpnKeys[file] = { ...parsed, file: join(dir, file), recipients: [] };
  }

  for (const [file, entry] of Object.entries(manifest.files)) {
    if (entry.kind === "private-key" && entry.machines[0] && encryptedFiles.has(file)) {
      const machine = machineEntry(entry.machines[0]);
      machine.recipients = [...entry.recipients];
      machine.created = entry.created;
    } else if (entry.kind === "preshared-key" && presharedKeys[file]) {
      presharedKeys[file].recipients = [...entry.recipients];
      presharedKeys[file].created = entry.created;
    } else if (vpnKeys[file]) {
      vpnKeys[file].recipients = [...entry.recipients];
      vpnKeys[file].created = entry.created;
      if (entry.public_key !== undefined) vpnKeys[file].publicKey = entry.public_key;
    }
  }

  return {
    dir,
    manifest,
    hasManifest: manifestBytes !== undefined,
    machines,
    presharedKeys,
    vpnKeys,
    encryptedFiles,
    publicKeyFiles,
    publicKeys() {
      const keys: Record<string, string> = {};
      for (const name of Object.keys(machines).sort()) {
        const key = machines[name]!.publicKey;
        if (key) keys[name] = key;
      }
      return keys;
    },
  };
}
