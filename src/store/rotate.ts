/**
 * `wgqt rotate`: new keys replacing existing ones. A new keypair breaks every
 * tunnel to that machine until its peers get the new public key, and a new PSK
 * breaks the pair's tunnel until both ends have it, so the plan says which
 * machines must be redeployed. Planning is pure (`planRotate`); `applyRotate`
 * makes every key in memory and checks every recipient list before it writes.
 */
import { type Pair, pair, pairsOf, peerPairs } from "../config/peers.js";
import { type Config, vpnsOf } from "../config/types.js";
import { quote, StoreError, UsageError } from "../errors.js";
import { byteOrder } from "../order.js";
import { type ApplyOptions, beginChange, finishChange, stageNewKeys } from "./apply.js";
import { expectedFor, managedMachines } from "./expected.js";
import { describeCounts } from "./keygen.js";
import type { KeyStore } from "./keystore.js";
import { presharedKeyFile, privateKeyFile } from "./layout.js";

/** What to rotate, as the user asked for it. */
export interface RotateRequest {
  /** Machines that get a new keypair (and, unless `keepPresharedKeys`, new PSKs for all their pairs). */
  machines?: string[];
  /** Pairs that get a new PSK. */
  pairs?: (readonly [string, string])[];
  /** Every keypair and every PSK. */
  all?: boolean;
  /** With `machines` or `all`: renew keypairs only. */
  keepPresharedKeys?: boolean;
  /** VPN keys: always refused, with what to do instead (they are the provider's). */
  vpns?: string[];
}

/**
 * Why wgqt cannot rotate a VPN's key, and what to do instead: the key pair
 * is the provider's (its server knows the public key), so a new one must come
 * from the provider.
 */
export function providerKeyMessage(config: Config, vpn: string): string {
  const machine = config.vpns?.[vpn]?.machines[0] ?? "MACHINE";
  return `${vpn} is a VPN: its key is the provider's (their server knows its public key), so wgqt cannot rotate it; make a new key at the provider, download its wg-quick file and run: wgqt vpn import ${vpn} --from FILE --machine ${machine} --yes`;
}

/** A machine whose deployed configuration a rotation makes stale, and why. */
export interface Redeploy {
  machine: string;
  /** Why, e.g. `new keypair`, `new public key of tavern`, `new preshared key nyaa+tavern`. */
  reasons: string[];
}

/** What {@link applyRotate} renews, and which machines must be redeployed. */
export interface RotatePlan {
  /** Machines getting a new keypair, byte order. */
  keypairs: string[];
  /** Pairs getting a new PSK, byte order. */
  presharedKeys: Pair[];
  /** Every machine whose deployed configuration goes stale, byte order. */
  redeploy: Redeploy[];
  /** `tavern`, `nyaa+tavern`, `all`: what the user named, for messages. */
  subject: string;
}

/**
 * Validate a request against the config and work out every key it renews. Pure.
 *
 * @throws {UsageError} for an unknown machine or VPN, a VPN's key (the provider's), or options that do not go together.
 */
export function planRotate(config: Config, request: RotateRequest): RotatePlan {
  for (const vpn of request.vpns ?? []) {
    if (!config.vpns?.[vpn])
      throw new UsageError(
        "usage/unknown-name",
        `unknown VPN ${quote(vpn)} (not in ${config.path})`,
        {
          field: "vpns",
        },
      );
    throw new UsageError("usage/no-private-key", providerKeyMessage(config, vpn));
  }
  const machines = [...new Set(request.machines ?? [])];
  const requestedPairs = request.pairs ?? [];
  if (request.all && (machines.length || requestedPairs.length)) {
    throw new UsageError(
      "rotate/all-with-selection",
      "all renews everything: give it without machines or pairs",
    );
  }
  if (!request.all && machines.length + requestedPairs.length === 0) {
    throw new UsageError(
      "rotate/nothing-selected",
      "nothing to rotate: give machines, pairs or all",
    );
  }
  if (request.keepPresharedKeys && !request.all && machines.length === 0) {
    throw new UsageError("rotate/keep-psks-alone", "keepPresharedKeys goes with machines or all");
  }
  const managed = new Set(managedMachines(config));
  for (const name of machines) {
    if (!config.machines[name] && config.vpns?.[name])
      throw new UsageError("usage/no-private-key", providerKeyMessage(config, name));
    if (!config.machines[name])
      throw new UsageError(
        "usage/unknown-name",
        `unknown machine ${quote(name)} (not in ${config.path})`,
        { field: "machines" },
      );
    if (!managed.has(name)) {
      throw new UsageError(
        "usage/no-private-key",
        `${name} brings its own public_key in wgqt.toml, so wgqt holds no private key to rotate (renew its preshared keys with --pair)`,
        { field: "machines" },
      );
    }
  }
  // Every pair of the fleet, as a set: only needed to check the pairs asked for.
  const peers = requestedPairs.length
    ? new Set(peerPairs(config).map((peers) => peers.join("+")))
    : new Set<string>();
  const pairs: Pair[] = [];
  for (const [a, b] of requestedPairs) {
    for (const name of [a, b]) {
      if (!config.machines[name])
        throw new UsageError(
          "usage/unknown-name",
          `unknown machine ${quote(name)} (not in ${config.path})`,
          { field: "pairs" },
        );
    }
    if (a === b)
      throw new UsageError(
        "usage/bad-value",
        `give two different machines, got ${quote(a)} twice`,
        { field: "pairs" },
      );
    const peersOfPair = pair(a, b);
    if (!peers.has(peersOfPair.join("+"))) {
      throw new UsageError(
        "usage/bad-value",
        `${a} and ${b} are not peers in any network, so they share no preshared key`,
        { field: "pairs" },
      );
    }
    pairs.push(peersOfPair);
  }

  const keypairs = request.all ? [...managed] : machines;
  const renewed = new Map<string, Pair>(
    pairs.map((peersOfPair) => [peersOfPair.join("+"), peersOfPair]),
  );
  if (!request.keepPresharedKeys) {
    const owning = request.all
      ? peerPairs(config)
      : keypairs.flatMap((name) => pairsOf(config, name));
    for (const peersOfPair of owning) renewed.set(peersOfPair.join("+"), peersOfPair);
  }
  const presharedKeys = [...renewed.values()].sort(
    (x, y) => byteOrder(x[0], y[0]) || byteOrder(x[1], y[1]),
  );
  keypairs.sort(byteOrder);

  const reasons = new Map<string, string[]>();
  const because = (machine: string, reason: string) => {
    reasons.set(machine, [...(reasons.get(machine) ?? []), reason]);
  };
  for (const name of keypairs) because(name, "new keypair");
  for (const name of keypairs) {
    for (const [a, b] of pairsOf(config, name))
      because(a === name ? b : a, `new public key of ${name}`);
  }
  for (const peersOfPair of presharedKeys) {
    for (const name of peersOfPair) because(name, `new preshared key ${peersOfPair.join("+")}`);
  }
  const redeploy = [...reasons.keys()]
    .sort(byteOrder)
    .map((machine) => ({ machine, reasons: reasons.get(machine)! }));
  const subject = request.all
    ? "all"
    : [...machines, ...pairs.map((peersOfPair) => peersOfPair.join("+"))].join(" ");
  return { keypairs, presharedKeys, redeploy, subject };
}

/** VPNs whose keys `--all` leaves alone (they are the providers'), byte order. */
export function unrotatableVpns(config: Config): string[] {
  return vpnsOf(config).map((vpn) => vpn.name);
}

/** `keypair + 3 preshared keys`. */
export function describeRotation(plan: RotatePlan): string {
  return describeCounts(plan.keypairs.length, plan.presharedKeys.length);
}

/** The commit subject: `wgqt: rotate tavern (keypair + 3 preshared keys)`. */
export function rotateCommitMessage(plan: RotatePlan): string {
  return `wgqt: rotate ${plan.subject} (${describeRotation(plan)})`;
}

/**
 * Carry out a rotation: all new keys are made in memory and every file's
 * recipients checked before anything is staged; the new files are then
 * written all or nothing (see transaction.ts), so an interrupted run never
 * leaves a new `.age` beside an old `.pub`. Returns the absolute paths of
 * every file changed.
 *
 * @throws {StoreError} when a key has nobody to encrypt to or a file cannot be written; nothing is changed then.
 * @throws {KeyError} when a recipient cannot be encrypted to.
 */
export async function applyRotate(
  config: Config,
  store: KeyStore,
  plan: RotatePlan,
  options: ApplyOptions,
): Promise<string[]> {
  const expected = expectedFor(config);
  const secrets = [
    ...plan.keypairs.map((name) => expected.get(privateKeyFile(name))!),
    ...plan.presharedKeys.map((peers) => expected.get(presharedKeyFile(...peers))!),
  ];
  for (const secret of secrets) {
    if (secret.recipients.length === 0) {
      throw new StoreError(
        "store/no-recipients",
        `${secret.file}: nobody to encrypt to (no recipients for ${secret.machines.join(" or ")}, no admins); nothing was rotated`,
      );
    }
  }
  // Every new key is made and encrypted first, as keygen does (on all cores
  // when there are many: `--all` renews every file of the fleet).
  const change = beginChange(config, store, options.afterApply);
  await stageNewKeys(config, change, plan, options, "new ");
  return finishChange(config, change, rotateCommitMessage(plan));
}
