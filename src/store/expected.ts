/**
 * What the key store should hold for a config: every encrypted file and the
 * recipients it must be encrypted to. Pure; `keygen`, `rekey`, `verify` and
 * `secrets.nix` all derive from this one function.
 */
import { peerPairs } from "../config/peers.js";
import { type Config, sortedNames, type VpnConfig, vpnsOf } from "../config/types.js";
import {
  type Pair,
  presharedKeyFile,
  privateKeyFile,
  vpnKeyFile,
  vpnPresharedKeyFile,
} from "./layout.js";

/** What an encrypted store file holds. */
export type SecretKind = "private-key" | "preshared-key" | "vpn-private-key" | "vpn-preshared-key";

/** An encrypted file `wgqt.toml` asks for, and whom it must be encrypted to. */
export interface ExpectedSecret {
  /** Path relative to the store, '/'-separated. */
  file: string;
  kind: SecretKind;
  /** The machine (private key), the pair (PSK), or the machines using a VPN, in byte order. */
  machines: string[];
  /** For VPN keys: the VPN's name. */
  vpn?: string;
  /** Normalised recipients in encryption order: the machines' own, then the admins; no duplicates. */
  recipients: string[];
}

/**
 * The lists joined in order, each recipient once. Lists are a few entries
 * long and a fleet has one per file, so a scan beats building a Set.
 */
function unique(...lists: readonly (readonly string[] | undefined)[]): string[] {
  const out: string[] = [];
  for (const list of lists) {
    for (const item of list ?? []) if (!out.includes(item)) out.push(item);
  }
  return out;
}

export function privateKeyRecipients(config: Config, machine: string): string[] {
  return unique(config.machines[machine]?.recipients, config.admins);
}

export function presharedKeyRecipients(config: Config, [a, b]: Pair): string[] {
  return unique(config.machines[a]?.recipients, config.machines[b]?.recipients, config.admins);
}

/** A VPN's keys go to every machine that uses it, and the admins. */
export function vpnRecipients(config: Config, vpn: VpnConfig): string[] {
  return unique(
    ...vpn.machines.map((machine) => config.machines[machine]?.recipients),
    config.admins,
  );
}

/** Machines whose private key wgqt keeps (all but those with their own `public_key`). */
export function managedMachines(config: Config): string[] {
  return sortedNames(config.machines).filter(
    (name) => config.machines[name]!.publicKey === undefined,
  );
}

/** Every encrypted file the config asks for, keyed by file, in byte order. */
export function expectedSecrets(config: Config): Map<string, ExpectedSecret> {
  const secrets: ExpectedSecret[] = [];
  for (const machine of managedMachines(config)) {
    secrets.push({
      file: privateKeyFile(machine),
      kind: "private-key",
      machines: [machine],
      recipients: privateKeyRecipients(config, machine),
    });
  }
  for (const peers of peerPairs(config)) {
    secrets.push({
      file: presharedKeyFile(...peers),
      kind: "preshared-key",
      machines: [...peers],
      recipients: presharedKeyRecipients(config, peers),
    });
  }
  for (const vpn of vpnsOf(config)) {
    const machines = [...vpn.machines].sort();
    const recipients = vpnRecipients(config, vpn);
    secrets.push({
      file: vpnKeyFile(vpn.name),
      kind: "vpn-private-key",
      machines,
      vpn: vpn.name,
      recipients,
    });
    if (vpn.presharedKey) {
      secrets.push({
        file: vpnPresharedKeyFile(vpn.name),
        kind: "vpn-preshared-key",
        machines: [...machines],
        vpn: vpn.name,
        recipients: [...recipients],
      });
    }
  }
  secrets.sort((x, y) => (x.file < y.file ? -1 : x.file > y.file ? 1 : 0));
  return new Map(secrets.map((secret) => [secret.file, secret]));
}

/**
 * `expectedSecrets(config)`, worked out once per config (a config is never
 * changed after it is parsed): inspecting, planning and writing each need it,
 * and it has an entry for every file of the fleet. Callers must not change it.
 */
const expectedCache = new WeakMap<Config, ReadonlyMap<string, ExpectedSecret>>();

export function expectedFor(config: Config): ReadonlyMap<string, ExpectedSecret> {
  let expected = expectedCache.get(config);
  if (expected === undefined) {
    expected = expectedSecrets(config);
    expectedCache.set(config, expected);
  }
  return expected;
}
