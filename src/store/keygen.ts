/**
 * `wgqt keygen`: create what is missing (keypairs, and PSKs for peer pairs),
 * never overwriting an existing key. Planning is pure (`planKeygen`), so the
 * CLI can show and confirm it; `applyKeygen` does the writing.
 */
import { type Pair, pairsOf, peerPairs } from "../config/peers.js";
import { type Config, sortedNames } from "../config/types.js";
import { quote, UsageError } from "../errors.js";
import { type ApplyOptions, beginChange, finishChange, stageNewKeys } from "./apply.js";
import { managedMachines } from "./expected.js";
import type { KeyStore } from "./keystore.js";
import { presharedKeyFile, privateKeyFile, publicKeyFile } from "./layout.js";
import { missingPublicKey, writePublicKey } from "./write.js";

/**
 * What {@link applyKeygen} makes: new keypairs and PSKs, public keys from `wgqt.toml`, and what is kept.
 */
export interface KeygenPlan {
  /** Machines that get a new keypair. */
  keypairs: string[];
  /** Machines with their own `public_key` whose `.pub` is written or updated. */
  externalPublicKeys: string[];
  /** Pairs that get a new PSK. */
  presharedKeys: Pair[];
  /** What already exists and is kept. */
  kept: { keypairs: string[]; presharedKeys: Pair[] };
}

/**
 * What `keygen` would do for `machines` (all machines when empty): their
 * missing keypairs and the missing PSKs of pairs they belong to.
 *
 * @throws {UsageError} when a named machine is not in `wgqt.toml`.
 * @throws {StoreError} when a machine has a private key but no `.pub`.
 */
export function planKeygen(config: Config, store: KeyStore, machines: string[] = []): KeygenPlan {
  for (const name of machines) {
    if (!config.machines[name]) {
      throw new UsageError(
        "usage/unknown-name",
        `unknown machine ${quote(name)} (not in ${config.path})`,
        { field: "machines" },
      );
    }
  }
  const selected = new Set(machines.length ? machines : sortedNames(config.machines));
  const plan: KeygenPlan = {
    keypairs: [],
    externalPublicKeys: [],
    presharedKeys: [],
    kept: { keypairs: [], presharedKeys: [] },
  };

  for (const name of managedMachines(config)) {
    if (!selected.has(name)) continue;
    const hasPrivate = store.encryptedFiles.has(privateKeyFile(name));
    const hasPublic = store.publicKeyFiles.has(publicKeyFile(name));
    if (hasPrivate && !hasPublic) throw missingPublicKey(store.dir, name);
    // A .pub without its .age is a keypair whose private half was never
    // stored (an interrupted run): nothing can use it, so it is replaced.
    (hasPrivate ? plan.kept.keypairs : plan.keypairs).push(name);
  }
  for (const name of sortedNames(config.machines)) {
    const external = config.machines[name]!.publicKey;
    if (
      external !== undefined &&
      selected.has(name) &&
      store.machines[name]?.publicKey !== external
    ) {
      plan.externalPublicKeys.push(name);
    }
  }
  const pairs = machines.length
    ? dedupePairs(machines.flatMap((name) => pairsOf(config, name)))
    : peerPairs(config);
  for (const peers of pairs) {
    (store.encryptedFiles.has(presharedKeyFile(...peers))
      ? plan.kept.presharedKeys
      : plan.presharedKeys
    ).push(peers);
  }
  return plan;
}

function dedupePairs(pairs: Pair[]): Pair[] {
  const map = new Map(pairs.map((peers) => [peers.join("+"), peers]));
  return [...map.keys()].sort().map((key) => map.get(key)!);
}

/**
 * Whether a keygen plan makes nothing. Applying it still brings the generated files in line with `wgqt.toml`.
 */
export function keygenIsEmpty(plan: KeygenPlan): boolean {
  return plan.keypairs.length + plan.externalPublicKeys.length + plan.presharedKeys.length === 0;
}

/**
 * Carry out a keygen plan, all or nothing (see transaction.ts). Returns the
 * absolute paths of every file it changed.
 *
 * Run one writer at a time per fleet: the CLI holds `.wgqt.lock` beside `wgqt.toml` while it applies.
 *
 * @throws {StoreError} when a file cannot be written (nothing is changed then) or the store is inconsistent.
 * @throws {KeyError} when a recipient cannot be encrypted to.
 */
export async function applyKeygen(
  config: Config,
  store: KeyStore,
  plan: KeygenPlan,
  options: ApplyOptions,
): Promise<string[]> {
  const log = options.log ?? (() => {});
  const change = beginChange(config, store, options.afterApply);
  for (const name of plan.externalPublicKeys) {
    const key = config.machines[name]!.publicKey!;
    writePublicKey(store.dir, name, key, change.tx);
    change.publicKeys[name] = key;
    log(`public key of ${name} (its own, from wgqt.toml)`);
  }
  await stageNewKeys(config, change, plan, options);
  return finishChange(
    config,
    change,
    options.message ??
      `wgqt: keygen (${describeCounts(plan.keypairs.length, plan.presharedKeys.length)})`,
  );
}

/** `keypair + 3 preshared keys`, for messages and commit subjects. */
export function describeCounts(keypairs: number, presharedKeys: number): string {
  const parts: string[] = [];
  if (keypairs) parts.push(keypairs === 1 ? "keypair" : `${keypairs} keypairs`);
  if (presharedKeys)
    parts.push(presharedKeys === 1 ? "1 preshared key" : `${presharedKeys} preshared keys`);
  return parts.join(" + ") || "nothing";
}
