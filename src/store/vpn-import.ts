/**
 * `wgqt vpn import`: a provider's wg-quick file becomes a `[vpns.<name>]` table
 * in wgqt.toml and the provider's keys in the store (`vpns/<name>.age`, and
 * `vpns/<name>.psk.age` when the file has a PresharedKey), encrypted to the
 * machines that use the VPN and the admins. Planning is pure
 * (`planVpnImport`: what the table becomes, and whether this adds a VPN,
 * replaces its key, or shares its key with one more machine); `applyVpnImport`
 * writes it all in one transaction, so a failed import writes nothing.
 *
 * A provider key identifies one device: the provider's server has one peer
 * entry (one endpoint) per public key, so two machines using one key at the
 * same time knock each other off. One import per machine and VPN name is the
 * normal case; sharing a key between machines is allowed only by importing the
 * very same file again (checked by its public key), for machines that are
 * never connected at once.
 */
import { join } from "node:path";
import { appendVpn, type NewVpn, replaceVpn } from "../config/edit.js";
import { parseConfig } from "../config/load.js";
import { interfaceNameProblem } from "../config/names.js";
import type { ProviderVpn } from "../config/provider.js";
import type { Config } from "../config/types.js";
import { DEFAULT_ALLOWED_IPS, MAX_VPN_ID, MIN_VPN_ID } from "../config/vpn.js";
import { quote, StoreError, UsageError } from "../errors.js";
import { publicKeyOf } from "../keys/wireguard.js";
import { type ApplyOptions, timestamp } from "./apply.js";
import { expectedFor } from "./expected.js";
import type { KeyStore } from "./keystore.js";
import { vpnKeyFile, vpnPresharedKeyFile } from "./layout.js";
import { copyManifest } from "./manifest.js";
import { Transaction } from "./transaction.js";
import { PUBLIC_MODE, writeGeneratedFiles, writeSecret } from "./write.js";

/** What to import: a provider's file for one machine, under a VPN name. */
export interface VpnImportRequest {
  /** The VPN's name: its interface name. */
  name: string;
  /** The machine the provider's file is for. */
  machine: string;
  /** `--id`; a new VPN gets the lowest free id without it, an existing one keeps its id. */
  id?: number;
  provider: ProviderVpn;
}

/**
 * What {@link applyVpnImport} writes: the `[vpns.<name>]` table, the new `wgqt.toml` and the keys.
 */
export interface VpnImportPlan {
  name: string;
  machine: string;
  /**
   * `new`: a new `[vpns.<name>]`; `replace`: the VPN's key (and settings)
   * replaced by a new file from the provider; `share`: the same key, one more
   * machine.
   */
  action: "new" | "replace" | "share";
  /** The table as it will be written. */
  vpn: NewVpn;
  /** wgqt.toml after the import (validated). */
  configText: string;
  config: Config;
  /** This end's public key (derived from the imported private key): the device at the provider. */
  publicKey: string;
  /** The public key the store held before, for `replace`. */
  previousPublicKey?: string;
  provider: ProviderVpn;
}

/**
 * What the import does, without writing. Throws UsageError for what the user must change.
 *
 * @throws {ConfigError} when `wgqt.toml` with the import would not validate.
 */
export function planVpnImport(
  config: Config,
  store: KeyStore,
  configText: string,
  request: VpnImportRequest,
): VpnImportPlan {
  const { name, machine, provider } = request;
  const nameProblem = interfaceNameProblem(name);
  if (nameProblem)
    throw new UsageError(
      "usage/bad-value",
      `vpn import: ${nameProblem} (the VPN's name is its interface name)`,
    );
  if (config.proxies[name] || config.meshes?.[name])
    throw new UsageError(
      "usage/conflict",
      `vpn import: ${quote(name)} is already a ${config.proxies[name] ? "proxy" : "mesh"}'s name; choose another`,
    );
  const host = config.machines[machine];
  if (host === undefined)
    throw new UsageError(
      "usage/unknown-name",
      `unknown machine ${quote(machine)} (not in ${config.path})`,
      { field: "machine" },
    );
  if (host.recipients.length === 0) {
    throw new UsageError(
      "usage/missing",
      `${machine} has no recipients in wgqt.toml, so the VPN key could not be encrypted to it`,
      { field: "machine" },
    );
  }
  if (
    request.id !== undefined &&
    (!Number.isInteger(request.id) || request.id < MIN_VPN_ID || request.id > MAX_VPN_ID)
  ) {
    throw new UsageError(
      "usage/bad-value",
      `expected a whole number ${MIN_VPN_ID}…${MAX_VPN_ID}, got ${quote(request.id)}`,
      { field: "id" },
    );
  }
  const vpns = config.vpns ?? {};
  const existing = vpns[name];
  const takenBy = (id: number) =>
    Object.values(vpns).find((other) => other.id === id && other.name !== name)?.name;
  if (request.id !== undefined && takenBy(request.id) !== undefined) {
    throw new UsageError(
      "usage/conflict",
      `${request.id} is already the id of vpns.${takenBy(request.id)}`,
      { field: "id" },
    );
  }
  const publicKey = publicKeyOf(provider.privateKey, "the provider file's PrivateKey");
  const previousPublicKey = store.vpnKeys[vpnKeyFile(name)]?.publicKey;

  let action: VpnImportPlan["action"] = "new";
  let machines = [machine];
  let id = request.id;
  if (existing !== undefined) {
    id ??= existing.id;
    if (existing.machines.includes(machine)) {
      action = "replace";
      machines = [...existing.machines];
    } else if (previousPublicKey !== undefined && previousPublicKey === publicKey) {
      action = "share";
      machines = [...existing.machines, machine];
    } else {
      const other = `${name}-${machine}`.slice(0, 15).replace(/[-_]+$/, "");
      throw new UsageError(
        "usage/conflict",
        `vpns.${name} holds the provider key of ${existing.machines.join(", ")}, not the key in this file; a provider key belongs to one device, so import ${machine}'s own file under its own name (wgqt vpn import ${other} --from FILE --machine ${machine}); only the very same file can be shared, by machines never connected at once`,
      );
    }
  } else {
    for (let candidate = MIN_VPN_ID; id === undefined && candidate <= MAX_VPN_ID; candidate++) {
      if (takenBy(candidate) === undefined) id = candidate;
    }
    if (id === undefined)
      throw new UsageError(
        "usage/conflict",
        `vpn import: every VPN id ${MIN_VPN_ID}…${MAX_VPN_ID} is taken`,
      );
  }

  const vpn: NewVpn = {
    name,
    machines,
    id: id!,
    endpoint: provider.endpoint,
    publicKey: provider.publicKey,
    address: provider.address,
    ...(provider.address6 === undefined ? {} : { address6: provider.address6 }),
    dns: [...provider.dns],
    presharedKey: provider.presharedKey !== undefined,
  };
  if (provider.mtu !== undefined) vpn.mtu = provider.mtu;
  if (provider.keepalive !== undefined) vpn.keepalive = provider.keepalive;
  // Not the provider's to decide: a new file must not switch the kill switch back on.
  if (existing?.killswitch !== undefined) vpn.killswitch = existing.killswitch;
  const allowed = provider.allowedIPs;
  if (allowed.length !== DEFAULT_ALLOWED_IPS.length || allowed[0] !== DEFAULT_ALLOWED_IPS[0])
    vpn.allowedIPs = [...allowed];
  const nextText =
    existing === undefined ? appendVpn(configText, vpn) : replaceVpn(configText, vpn, config.path);
  const plan: VpnImportPlan = {
    name,
    machine,
    action,
    vpn,
    configText: nextText,
    config: parseConfig(nextText, config.path),
    publicKey,
    provider,
  };
  if (previousPublicKey !== undefined) plan.previousPublicKey = previousPublicKey;
  return plan;
}

/** The commit subject: `wgqt: vpn import us-west for nyaa`. */
export function vpnImportMessage(plan: VpnImportPlan): string {
  const what =
    plan.action === "new"
      ? ""
      : plan.action === "share"
        ? ` (sharing its key with ${plan.vpn.machines.filter((m) => m !== plan.machine).join(", ")})`
        : plan.previousPublicKey === plan.publicKey
          ? " (same key, settings updated)"
          : " (new provider key)";
  return `wgqt: vpn import ${plan.name} for ${plan.machine}${what}`;
}

/**
 * Write the import: wgqt.toml, the encrypted keys, the manifest and the
 * generated files, all or nothing. A re-import without a PresharedKey removes
 * the old PSK file. Returns the absolute paths changed.
 *
 * @throws {StoreError} when there is nobody to encrypt to or a file cannot be written; nothing is changed then.
 */
export async function applyVpnImport(
  config: Config,
  store: KeyStore,
  plan: VpnImportPlan,
  options: ApplyOptions,
): Promise<string[]> {
  const created = timestamp(options.now);
  const expected = expectedFor(plan.config);
  const keyFile = vpnKeyFile(plan.name);
  const pskFile = vpnPresharedKeyFile(plan.name);
  const keySecret = expected.get(keyFile)!;
  if (keySecret.recipients.length === 0)
    throw new StoreError(
      "store/no-recipients",
      `${keyFile}: nobody to encrypt to; nothing was imported`,
    );
  const manifest = copyManifest(store.manifest);
  const existing = new Set(store.encryptedFiles);
  const tx = new Transaction(config.dir, options.afterApply);
  tx.write(config.path, plan.configText, PUBLIC_MODE);
  manifest.files[keyFile] = await writeSecret(
    store.dir,
    keySecret,
    plan.provider.privateKey,
    created,
    tx,
    plan.publicKey,
  );
  existing.add(keyFile);
  if (plan.provider.presharedKey !== undefined) {
    manifest.files[pskFile] = await writeSecret(
      store.dir,
      expected.get(pskFile)!,
      plan.provider.presharedKey,
      created,
      tx,
    );
    existing.add(pskFile);
  } else if (existing.has(pskFile) || manifest.files[pskFile]) {
    tx.remove(join(store.dir, pskFile));
    delete manifest.files[pskFile];
    existing.delete(pskFile);
  }
  writeGeneratedFiles(plan.config, store.dir, manifest, store.publicKeys(), existing, tx);
  return tx.commit(options.message ?? vpnImportMessage(plan));
}
