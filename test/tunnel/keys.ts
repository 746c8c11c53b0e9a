/**
 * The tunnel tests' one source of keys: the real key store. Each machine gets
 * its own identity (age X25519, ssh-ed25519 or ssh-rsa, made by the reference
 * tools), `wgqt keygen` makes every key into a fresh store, and each secret
 * is decrypted by the `age` CLI with the identity of the host that uses it:
 * exactly what agenix does on a real host.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../../src/config/types.js";
import {
  type IdentityKind,
  makeIdentity,
  makeTempDir,
  type TestIdentity,
} from "../helpers/fleet.js";
import { runCommand } from "../helpers/netns.js";
import { ageDecrypt, ok, wgqt } from "../helpers/run.js";

export interface TunnelKeys {
  /** Machine → WireGuard public key, for the planner. */
  publicKeys: Record<string, string>;
  /** The plaintext of a store file (`nyaa.age`, `preshared_keys/a+b.age`) as `host` decrypts it. */
  secret(host: string, storeFile: string): Promise<string>;
}

const KINDS: IdentityKind[] = ["x25519", "ssh-ed25519", "ssh-rsa"];

/** A wgqt.toml for `config`'s machines, proxies and meshes, each machine with its own identity. */
function configText(config: Config, identities: Record<string, TestIdentity>): string {
  const lines: string[] = [];
  for (const [name, machine] of Object.entries(config.machines)) {
    lines.push(
      `[machines.${name}]`,
      `recipients = [${JSON.stringify(identities[name]!.recipient)}]`,
    );
    if (machine.endpoint !== undefined)
      lines.push(`endpoint = ${JSON.stringify(machine.endpoint)}`);
    if (machine.uplink !== undefined) lines.push(`uplink = ${JSON.stringify(machine.uplink)}`);
    if (machine.routes !== undefined) lines.push(`routes = ${JSON.stringify(machine.routes)}`);
    if (machine.masqueradeRoutes) lines.push("masquerade_routes = true");
    lines.push("");
  }
  for (const [name, proxy] of Object.entries(config.proxies)) {
    lines.push(`[proxies.${name}]`, `gateway = ${JSON.stringify(proxy.gateway)}`);
    lines.push(`clients = [${proxy.clients.map((client) => JSON.stringify(client)).join(", ")}]`);
    if (proxy.default !== undefined) lines.push(`default = ${proxy.default}`);
    lines.push("");
  }
  for (const [name, mesh] of Object.entries(config.meshes ?? {})) {
    lines.push(`[meshes.${name}]`, `members = ${JSON.stringify(mesh.members)}`);
    if (mesh.relay !== undefined) lines.push(`relay = ${JSON.stringify(mesh.relay)}`);
    lines.push("");
  }
  return lines.join("\n");
}

/** A keyed store in a temp directory: wgqt.toml, `wgqt keygen`'s keys, each host's identity. */
export interface TunnelStore extends TunnelKeys {
  /** The directory holding wgqt.toml (not a git repository). */
  dir: string;
  identities: Record<string, TestIdentity>;
}

export async function generateKeys(config: Config): Promise<TunnelKeys> {
  return makeTunnelStore(config);
}

/** Stores made so far and not yet removed. */
const stores = new Set<string>();

/**
 * Remove every store made so far: a suite's afterAll (a test process can be
 * ended without its exit handlers running, so those are only a fallback).
 */
export function removeTunnelStores(): void {
  for (const dir of stores) rmSync(dir, { recursive: true, force: true });
  stores.clear();
}

export async function makeTunnelStore(config: Config): Promise<TunnelStore> {
  const dir = makeTempDir("wgqt-tunnel-store-");
  stores.add(dir);
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const identities: Record<string, TestIdentity> = {};
  Object.keys(config.machines).forEach((name, index) => {
    identities[name] = makeIdentity(dir, name, KINDS[index % KINDS.length]!);
  });
  writeFileSync(join(dir, "wgqt.toml"), configText(config, identities));
  // An empty keys_dir starts a store (what `wgqt init` makes); keygen fills it.
  mkdirSync(join(dir, "wireguard_keys"));
  const result = wgqt(dir, "keygen");
  if (result.status !== 0) throw new Error(`wgqt keygen failed: ${result.stderr}`);
  const keys = join(dir, "wireguard_keys");
  const publicKeys: Record<string, string> = {};
  for (const name of Object.keys(config.machines)) {
    publicKeys[name] = ok("cat", [join(keys, `${name}.pub`)]).trim();
  }
  return {
    dir,
    identities,
    publicKeys,
    secret: async (host, storeFile) => {
      const plaintext = ageDecrypt(identities[host]!.identityFile, join(keys, storeFile));
      if (plaintext === undefined)
        throw new Error(`${host} cannot decrypt ${storeFile} with its own identity`);
      return plaintext.toString("utf8").trim();
    },
  };
}

const wg = async (args: string[]) => (await runCommand("wg", args)).stdout.trim();

/** A fresh PSK, for a client that must not match its gateway. */
export const otherPresharedKey = () => wg(["genpsk"]);
