/**
 * Reading the key store: `openKeyStore(dir)` gives every machine with its
 * public key, recipients and key files, and every PSK file, from the `.pub`
 * files and the manifest alone: no decryption, no config needed. Other tools
 * use it to populate machines and public keys.
 */
import { type Dirent, lstatSync, readdirSync } from "node:fs";
import { join, sep } from "node:path";
import { quote, StoreError } from "../errors.js";
import { decodeKey } from "../keys/encoding.js";
import { byteOrder } from "../order.js";
import { readStoreFileSync } from "./files.js";
import { MANIFEST_FILE, PRESHARED_DIR, parseKeyFileName, parseVpnFile, VPN_DIR } from "./layout.js";
import { emptyManifest, type Manifest, readManifest } from "./manifest.js";

/** A machine's keys as the store holds them. */
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

/** A pair's preshared key as the store holds it. */
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

/** An opened key store: the files present and the public keys, the manifest read on first use. */
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

/**
 * Entries of a directory that must hold only regular files (and
 * `preshared_keys/`, `vpns/`), in byte order. The entry types come with the
 * listing (d_type; Node falls back to lstat where a file system does not give
 * them), so a store of thousands of files costs no system call per file.
 */
function listRegularFiles(dir: string, allowDirectory?: string): string[] {
  // The directory itself: a symlink here would list (and let wgqt write) files anywhere.
  if (lstatSync(dir, { throwIfNoEntry: false })?.isSymbolicLink()) {
    throw new StoreError(
      "store/unsafe-path",
      `${dir}: is a symlink; the key store holds only regular files and directories, never a link out of it`,
    );
  }
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return [];
    if (code === "ENOTDIR")
      throw new StoreError("store/unsafe-path", `${dir}: expected a directory, found a file`);
    throw new StoreError("store/io", `${dir}: cannot read (${code ?? String(error)})`);
  }
  const files: string[] = [];
  const misplaced: Dirent[] = [];
  for (const entry of entries) {
    const { name } = entry;
    if (!name.endsWith(".age") && !name.endsWith(".pub")) continue;
    if (entry.isSymbolicLink() || (entry.isDirectory() && name !== allowDirectory))
      misplaced.push(entry);
    else if (entry.isFile()) files.push(name);
  }
  // The first offender in byte order is the one reported.
  const [first] = misplaced.sort((a, b) => byteOrder(a.name, b.name));
  if (first?.isSymbolicLink()) {
    throw new StoreError(
      "store/unsafe-path",
      `${join(dir, first.name)}: is a symlink; the key store holds only regular files`,
    );
  }
  if (first) {
    throw new StoreError(
      "store/unsafe-path",
      `${join(dir, first.name)}: is a directory where a key file should be`,
    );
  }
  return files.sort();
}

/**
 * Open the key store at `dir` (absolute). A missing directory is an empty store.
 *
 * The listing and the `.pub` files are read at once; manifest.json (8 MB
 * for a fleet of 400) only when something asks for what it holds: the
 * manifest itself, `machines`, `presharedKeys` or `vpnKeys`. Planning and
 * rendering need only the public keys (`publicKeys()`) and never read it.
 *
 * @throws {StoreError} when the store cannot be listed or read, holds a symlink or a directory where a key file belongs, or a `.pub` is not a WireGuard public key. A `manifest.json` that does not parse throws StoreError when it is first used.
 */
export async function openKeyStore(dir: string): Promise<KeyStore> {
  const manifestPath = join(dir, MANIFEST_FILE);
  const cannotRead = (error: unknown) =>
    new StoreError(
      "store/io",
      `${manifestPath}: cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  let hasManifest: boolean;
  try {
    hasManifest = lstatSync(manifestPath, { throwIfNoEntry: false }) !== undefined;
  } catch (error) {
    throw cannotRead(error);
  }
  const readManifestFile = (): Manifest => {
    if (!hasManifest) return emptyManifest();
    // One read of a file of megabytes, instead of one thread-pool round trip per chunk.
    let bytes: Buffer | undefined;
    try {
      bytes = readStoreFileSync(manifestPath);
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw cannotRead(error);
    }
    return bytes ? readManifest(bytes, manifestPath) : emptyManifest();
  };

  const machines: Record<string, StoredMachine> = {};
  const machineEntry = (name: string): StoredMachine => {
    machines[name] ??= { name, recipients: [] };
    return machines[name]!;
  };
  const encryptedFiles = new Set<string>();
  const publicKeyFiles = new Set<string>();

  for (const name of listRegularFiles(dir)) {
    const machine = name.slice(0, -4);
    if (name.endsWith(".pub")) {
      publicKeyFiles.add(name);
      // Read synchronously: hundreds of one-line files, where a thread-pool
      // round trip per open, read and close costs more than the reads.
      // join(dir, name) for a name from the listing, without normalising a path per machine.
      const text = (readStoreFileSync(`${dir}${sep}${name}`) ?? Buffer.alloc(0))
        .toString("utf8")
        .replace(/\r?\n$/, "");
      try {
        decodeKey(text, join(dir, name));
      } catch {
        throw new StoreError(
          "store/corrupt",
          `${join(dir, name)}: not a WireGuard public key (got ${quote(text)})`,
        );
      }
      machineEntry(machine).publicKey = text;
    } else {
      encryptedFiles.add(name);
      machineEntry(machine).privateKeyFile = join(dir, name);
    }
  }

  const presharedDir = join(dir, PRESHARED_DIR);
  const presharedNames: string[] = [];
  for (const name of listRegularFiles(presharedDir)) {
    if (!name.endsWith(".age")) continue;
    encryptedFiles.add(`${PRESHARED_DIR}/${name}`);
    presharedNames.push(name);
  }
  /**
   * One object per pair of the fleet, which no command needs (they go by
   * `encryptedFiles` and the manifest): made when first asked for.
   */
  const presharedKeysOf = (): Record<string, StoredPresharedKey> => {
    const presharedKeys: Record<string, StoredPresharedKey> = {};
    for (const name of presharedNames) {
      const file = `${PRESHARED_DIR}/${name}`;
      const parsed = parseKeyFileName(file);
      if (parsed?.kind !== "preshared-key") continue; // orphan with a foreign name: `verify` reports it
      const stored: StoredPresharedKey = {
        machines: [...parsed.machines],
        // join(dir, file) for a name from the listing, without normalising thousands of paths.
        file: `${presharedDir}${sep}${name}`,
        recipients: [],
      };
      const { files } = loaded();
      const entry = Object.hasOwn(files, file) ? files[file] : undefined;
      if (entry?.kind === "preshared-key") {
        stored.recipients = [...entry.recipients];
        stored.created = entry.created;
      }
      presharedKeys[file] = stored;
    }
    return presharedKeys;
  };
  let presharedKeys: Record<string, StoredPresharedKey> | undefined;

  const vpnKeys: Record<string, StoredVpnKey> = {};
  for (const name of listRegularFiles(join(dir, VPN_DIR))) {
    if (!name.endsWith(".age")) continue;
    const file = `${VPN_DIR}/${name}`;
    encryptedFiles.add(file);
    const parsed = parseVpnFile(file);
    if (parsed === undefined) continue; // orphan with a foreign name: `verify` reports it
    vpnKeys[file] = { ...parsed, file: join(dir, file), recipients: [] };
  }

  /** The manifest, read on first use, with what it says filled into `machines` and `vpnKeys`. */
  let manifest: Manifest | undefined;
  const loaded = (): Manifest => {
    if (manifest !== undefined) return manifest;
    manifest = readManifestFile();
    for (const file in manifest.files) {
      const entry = manifest.files[file]!;
      if (entry.kind === "private-key" && entry.machines[0] && encryptedFiles.has(file)) {
        const machine = machineEntry(entry.machines[0]);
        machine.recipients = [...entry.recipients];
        machine.created = entry.created;
      } else if (vpnKeys[file]) {
        // Preshared keys' entries are read by presharedKeysOf (none is under vpns/).
        vpnKeys[file].recipients = [...entry.recipients];
        vpnKeys[file].created = entry.created;
        if (entry.public_key !== undefined) vpnKeys[file].publicKey = entry.public_key;
      }
    }
    return manifest;
  };

  return {
    dir,
    get manifest() {
      return loaded();
    },
    hasManifest,
    get machines() {
      loaded();
      return machines;
    },
    get presharedKeys() {
      presharedKeys ??= presharedKeysOf();
      return presharedKeys;
    },
    get vpnKeys() {
      loaded();
      return vpnKeys;
    },
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
