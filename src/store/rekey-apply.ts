/**
 * Carrying out a rekey plan (see rekey.ts): decrypt every file to re-encrypt
 * before anything is written, then re-encrypt and record them in one change.
 */
import { decryptWith } from "../age/index.js";
import type { Config } from "../config/types.js";
import { KeyError, StoreError } from "../errors.js";
import { parseKeyFileContent, publicKeyOf } from "../keys/wireguard.js";
import { type ApplyOptions, beginChange, finishChange, timestamp } from "./apply.js";
import type { ExpectedSecret } from "./expected.js";
import type { LoadedIdentities } from "./identities.js";
import { displayPath } from "./inspect/names.js";
import type { FileInspection } from "./inspect/read.js";
import type { KeyStore } from "./keystore.js";
import { publicKeyFile } from "./layout.js";
import { checkRecipients } from "./recipients-check.js";
import { describeRekey, type RekeyFile, type RekeyPlan, rekeyRefusal } from "./rekey.js";
import { BATCH_SIZE, type MadeSecret, type SecretJob, secretPool } from "./secrets.js";
import { missingPublicKey, stageSecret } from "./write.js";

/**
 * How {@link applyRekey} runs: like {@link ApplyOptions}, plus the files accepted as changed on purpose.
 */
export interface RekeyOptions extends Pick<ApplyOptions, "now" | "log" | "afterApply"> {
  /** Store-relative files changed outside wgqt on purpose, to re-encrypt and record (see rekeyRefusal). */
  accept?: ReadonlySet<string>;
  /** Called once per file decrypted (a progress bar). */
  onProgress?: (done: number) => void;
}

/**
 * The WireGuard key in a store file (base64), decrypted with the first
 * identity that opens it; a private key must match its machine's `.pub`, and
 * a VPN's the public key recorded for it unless the file is `accepted`.
 */
async function decryptKey(
  config: Config,
  store: KeyStore,
  identities: LoadedIdentities,
  secret: ExpectedSecret,
  bytes: Uint8Array,
  accepted: boolean,
): Promise<string> {
  const where = displayPath(config, secret.file);
  let plaintext: Uint8Array;
  try {
    plaintext = await decryptWith(bytes, identities.identities, where);
  } catch (error) {
    if (!(error instanceof KeyError)) throw error;
    throw new KeyError(
      error.code,
      `${error.message}; identities from ${identities.sources.map((source) => source.file).join(", ")} (pass --identity with an admin's key)`,
    );
  }
  let key: string;
  try {
    key = parseKeyFileContent(plaintext, where);
  } catch {
    // The decoder's message would quote the plaintext.
    throw new KeyError(
      "key/invalid",
      `${where}: decrypts, but not to a WireGuard key; not re-encrypting it`,
    );
  }
  if (secret.kind === "private-key") {
    // The key must be the one the fleet knows this machine by: a private key
    // swapped in from another machine's file would otherwise be re-encrypted
    // to this machine.
    const machine = secret.machines[0]!;
    const publicKey = store.machines[machine]?.publicKey;
    if (publicKey === undefined) throw missingPublicKey(store.dir, machine);
    if (publicKeyOf(key, where) !== publicKey) {
      throw new KeyError(
        "key/mismatch",
        `${where}: holds the private key of another public key than ${publicKeyFile(machine)} (swapped with another machine's file? restore it from git, or wgqt rotate --machine ${machine}); nothing was written`,
      );
    }
  }
  if (secret.kind === "vpn-private-key" && !accepted) {
    const recorded = store.manifest.files[secret.file]?.public_key;
    if (recorded !== undefined && publicKeyOf(key, where) !== recorded) {
      throw new KeyError(
        "key/mismatch",
        `${where}: holds a private key whose public key is not the one manifest.json records for VPN ${secret.vpn}; nothing was written`,
      );
    }
  }
  return key;
}

/**
 * Re-encrypt the planned files to the recipients wgqt.toml asks for. Every
 * file is decrypted first, so a file no identity opens stops the run before
 * anything is written. The manifest keeps each secret's `created` time.
 * Returns the absolute paths of every file changed.
 *
 * @throws {StoreError} when a file changed outside wgqt (and is not in `accept`), or a file cannot be written; nothing is changed then.
 * @throws {KeyError} when no identity decrypts a file, or it does not hold the key it should.
 */
export async function applyRekey(
  config: Config,
  store: KeyStore,
  inspection: FileInspection,
  plan: RekeyPlan,
  identities: LoadedIdentities,
  options: RekeyOptions,
): Promise<string[]> {
  const accept = options.accept ?? new Set<string>();
  const refusal = rekeyRefusal(inspection, plan, accept);
  if (refusal !== undefined) throw new StoreError("store/unvouched", refusal);
  const { made, vpnPublicKeys } = await reencrypt(config, store, inspection, plan.files, {
    identities,
    accept,
    onProgress: options.onProgress,
  });
  const log = options.log ?? (() => {});
  const change = beginChange(config, store, options.afterApply);
  for (const [index, { secret }] of plan.files.entries()) {
    const previous = change.manifest.files[secret.file];
    const created = previous?.created ?? timestamp(options.now);
    // A private key was checked against its `.pub` when it was decrypted.
    const publicKey =
      secret.kind === "private-key"
        ? store.machines[secret.machines[0]!]?.publicKey
        : secret.kind === "vpn-private-key"
          ? (vpnPublicKeys.get(secret.file) ?? previous?.public_key)
          : undefined;
    change.manifest.files[secret.file] = stageSecret(
      store.dir,
      secret,
      made[index]!.ciphertext,
      created,
      change.tx,
      publicKey,
    );
    log(`re-encrypted ${displayPath(config, secret.file)}`);
  }
  return finishChange(config, change, `wgqt: rekey (${describeRekey(plan)})`);
}

/**
 * Decrypt `files` with `options.identities` (see decryptKey) and re-encrypt
 * them to their recipients on the workers. Returns the new ciphertexts, in
 * order, and the public keys of the accepted VPN keys, taken from the keys
 * themselves. Nothing is written.
 */
async function reencrypt(
  config: Config,
  store: KeyStore,
  inspection: FileInspection,
  files: readonly RekeyFile[],
  options: {
    identities: LoadedIdentities;
    accept: ReadonlySet<string>;
    onProgress?: (done: number) => void;
  },
): Promise<{ made: MadeSecret[]; vpnPublicKeys: Map<string, string> }> {
  const { identities, accept, onProgress } = options;
  const vpnPublicKeys = new Map<string, string>();
  checkRecipients(
    config,
    files.map(({ secret }) => secret),
  );
  // Decrypted keys go to the workers (on all cores when there are many: an
  // admin added to a fleet re-encrypts every file) a batch at a time, so they
  // re-encrypt one batch while this thread decrypts the next.
  const pool = secretPool(files.map(({ secret }) => secret));
  const parts: Promise<MadeSecret[]>[] = [];
  const handOver = (jobs: SecretJob[]) => {
    const part = pool.make(jobs);
    part.catch(() => {}); // awaited below; refused when a later file stops the run
    parts.push(part);
  };
  try {
    let batch: SecretJob[] = [];
    for (const { secret } of files) {
      const { bytes } = inspection.files.get(secret.file)!;
      const accepted = accept.has(secret.file);
      const key = await decryptKey(config, store, identities, secret, bytes, accepted);
      onProgress?.(1);
      if (accepted && secret.kind === "vpn-private-key")
        vpnPublicKeys.set(secret.file, publicKeyOf(key, secret.file));
      batch.push({ kind: "re-encrypt", key, recipients: secret.recipients });
      if (batch.length === BATCH_SIZE) {
        handOver(batch);
        batch = [];
        // Let the workers' answers in, so they get their next batches.
        await new Promise(setImmediate);
      }
    }
    handOver(batch);
    return { made: (await Promise.all(parts)).flat(), vpnPublicKeys };
  } finally {
    await pool.close();
  }
}
