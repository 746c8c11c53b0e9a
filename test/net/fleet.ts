/**
 * The seed's fleet (000: proxies `finland` via lighthouse and `germany` via
 * tavern, clients nyaa, spark, archive) as a Config, with fixed fake but valid
 * WireGuard keys: private key = SHA-256("wgqt-test:<name>"), clamped by
 * X25519 as WireGuard does, public key derived from it.
 */
import { createHash } from "node:crypto";
import { x25519 } from "@noble/curves/ed25519.js";
import type { Config, MachineConfig, ProxyConfig } from "../../src/config/types.js";
import { presharedKeyFile, privateKeyFile } from "../../src/store/layout.js";

export const SEED_MACHINES = ["archive", "lighthouse", "nyaa", "spark", "tavern"] as const;

export function fakePrivateKey(name: string): string {
  return createHash("sha256").update(`wgqt-test:${name}`).digest("base64");
}

export function fakePublicKey(name: string): string {
  const secret = createHash("sha256").update(`wgqt-test:${name}`).digest();
  return Buffer.from(x25519.getPublicKey(secret)).toString("base64");
}

export function fakePresharedKey(a: string, b: string): string {
  return createHash("sha256")
    .update(`wgqt-test-psk:${presharedKeyFile(a, b)}`)
    .digest("base64");
}

interface FleetInput {
  machines: Record<string, Partial<Omit<MachineConfig, "name">>>;
  proxies: Record<string, Omit<ProxyConfig, "name">>;
  ipv4Start?: string;
  udpStart?: number;
}

export function makeConfig(input: FleetInput): Config {
  const machines: Record<string, MachineConfig> = {};
  for (const [name, machine] of Object.entries(input.machines)) {
    machines[name] = { name, recipients: [], ...machine };
  }
  const proxies: Record<string, ProxyConfig> = {};
  for (const [name, proxy] of Object.entries(input.proxies)) proxies[name] = { name, ...proxy };
  return {
    path: "/fleet/wgqt.toml",
    dir: "/fleet",
    keysDir: "/fleet/wireguard_keys",
    keysDirSetting: "wireguard_keys",
    ipv4Start: input.ipv4Start ?? "10.128.0.0",
    udpStart: input.udpStart ?? 16842,
    admins: [],
    machines,
    proxies,
  };
}

/** The seed fleet; endpoints overridable (the tunnel test uses TEST-NET addresses). */
export function seedConfig(endpoints: { lighthouse?: string; tavern?: string } = {}): Config {
  return makeConfig({
    machines: {
      lighthouse: { endpoint: endpoints.lighthouse ?? "lighthouse.example.org" },
      tavern: { endpoint: endpoints.tavern ?? "tavern.example.org" },
      nyaa: {},
      spark: {},
      archive: {},
    },
    proxies: {
      finland: { gateway: "lighthouse", clients: ["nyaa", "spark", "archive"] },
      germany: { gateway: "tavern", clients: ["nyaa", "spark", "archive"] },
    },
  });
}

export function seedPublicKeys(): Record<string, string> {
  return Object.fromEntries(SEED_MACHINES.map((name) => [name, fakePublicKey(name)]));
}

/** Every secret of the seed fleet, keyed by store file name (for `export`). */
export function seedSecrets(config: Config): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const name of Object.keys(config.machines))
    secrets[privateKeyFile(name)] = fakePrivateKey(name);
  for (const proxy of Object.values(config.proxies)) {
    for (const client of proxy.clients) {
      secrets[presharedKeyFile(proxy.gateway, client)] = fakePresharedKey(proxy.gateway, client);
    }
  }
  return secrets;
}
