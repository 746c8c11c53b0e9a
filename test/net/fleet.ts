/**
 * The seed's fleet (000: proxies `finland` via lighthouse and `germany` via
 * tavern, clients nyaa, spark, archive) as a Config, with fixed fake but valid
 * WireGuard keys: private key = SHA-256("wgqt-test:<name>"), clamped by
 * X25519 as WireGuard does, public key derived from it.
 */
import { createHash } from "node:crypto";
import { x25519 } from "@noble/curves/ed25519.js";
import { peerPairs } from "../../src/config/peers.js";
import type {
  Config,
  MachineConfig,
  MeshConfig,
  ProxyConfig,
  VpnConfig,
} from "../../src/config/types.js";
import {
  presharedKeyFile,
  privateKeyFile,
  vpnKeyFile,
  vpnPresharedKeyFile,
} from "../../src/store/layout.js";

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
  vpns?: Record<string, Omit<VpnConfig, "name">>;
  meshes?: Record<string, Omit<MeshConfig, "name">>;
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
  const vpns: Record<string, VpnConfig> = {};
  for (const [name, vpn] of Object.entries(input.vpns ?? {})) vpns[name] = { name, ...vpn };
  const meshes: Record<string, MeshConfig> = {};
  for (const [name, mesh] of Object.entries(input.meshes ?? {})) meshes[name] = { name, ...mesh };
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
    ...(input.vpns === undefined ? {} : { vpns }),
    ...(input.meshes === undefined ? {} : { meshes }),
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

/**
 * A fleet with VPNs, for goldens and Nix evaluation: nyaa uses
 * us-west (id 1, with a PSK) as its default and germany through its bridge;
 * spark has two VPNs, proton-nl (id 2) its default and mullvad-se-got1 (id 3,
 * a name too long for `br-<name>`) and germany bridged; tavern, germany's
 * gateway, also has a split-tunnel VPN (office, 10.99.0.0/16, no default).
 * MTUs and keepalives are set where wgqt.toml can hold them: us-west's
 * provider file had `MTU` and `PersistentKeepalive`, office's an `MTU` only,
 * and germany sets both for its members.
 */
export function vpnConfig(order: "as written" | "reordered" = "as written"): Config {
  const vpns: Record<string, Omit<VpnConfig, "name">> = {
    "us-west": {
      machines: ["nyaa"],
      id: 1,
      endpoint: "198.51.100.7:51820",
      publicKey: fakePublicKey("provider:us-west"),
      address: "10.64.1.2/32",
      dns: ["10.64.0.1"],
      allowedIPs: ["0.0.0.0/0"],
      presharedKey: true,
      mtu: 1320,
      keepalive: 15,
    },
    "proton-nl": {
      machines: ["spark"],
      id: 2,
      endpoint: "vpn.example.net:51820",
      publicKey: fakePublicKey("provider:proton-nl"),
      address: "10.2.0.2/32",
      // A dual-stack provider: its IPv6 address, DNS server and ::/0.
      address6: "2a07:b944::2:2/128",
      dns: ["10.2.0.1", "2a07:b944::2:1"],
      allowedIPs: ["0.0.0.0/0", "::/0"],
      presharedKey: false,
    },
    "mullvad-se-got1": {
      machines: ["spark"],
      id: 3,
      endpoint: "[2001:db8::7]:51820",
      publicKey: fakePublicKey("provider:mullvad-se-got1"),
      address: "10.65.9.3/32",
      dns: ["10.64.0.1", "10.64.0.2"],
      allowedIPs: ["0.0.0.0/0"],
      presharedKey: false,
    },
    office: {
      machines: ["tavern"],
      id: 4,
      endpoint: "office.example.com:51820",
      publicKey: fakePublicKey("provider:office"),
      address: "10.99.0.5/16",
      dns: [],
      allowedIPs: ["10.99.0.0/16"],
      presharedKey: true,
      mtu: 1280,
    },
  };
  const machines = { tavern: { endpoint: "tavern.example.org" }, nyaa: {}, spark: {} };
  const reverse = <T>(record: Record<string, T>) =>
    Object.fromEntries(Object.entries(record).reverse());
  return makeConfig({
    machines: order === "as written" ? machines : reverse(machines),
    proxies: {
      germany: {
        gateway: "tavern",
        clients: order === "as written" ? ["nyaa", "spark"] : ["spark", "nyaa"],
        mtu: 1400,
        keepalive: 21,
      },
    },
    vpns: order === "as written" ? vpns : reverse(vpns),
  });
}

export function vpnPublicKeys(): Record<string, string> {
  return Object.fromEntries(["nyaa", "spark", "tavern"].map((name) => [name, fakePublicKey(name)]));
}

/** Every secret of the VPN fleet, keyed by store file (for `export` and the no-secret checks). */
export function vpnSecrets(config: Config): Record<string, string> {
  const secrets = seedSecrets({ ...config, vpns: {} });
  for (const vpn of Object.values(config.vpns ?? {})) {
    secrets[vpnKeyFile(vpn.name)] = fakePrivateKey(`vpn:${vpn.name}`);
    if (vpn.presharedKey)
      secrets[vpnPresharedKeyFile(vpn.name)] = fakePresharedKey("vpn", vpn.name);
  }
  return secrets;
}

/** The Nix keywords (Nix manual, "Keywords"): each is also a legal machine and interface name. */
export const NIX_KEYWORDS = [
  "assert",
  "else",
  "if",
  "in",
  "inherit",
  "let",
  "or",
  "rec",
  "then",
  "with",
] as const;

/**
 * A fleet named only by Nix keywords: every keyword a machine (each with an
 * endpoint), and each one either a proxy or a VPN, `swap` choosing which half
 * is which. Proxy i has gateway keyword i and a client five further on; VPN j
 * is used by machines j and j + 1 (in keyword order), so one machine has two
 * default-route VPNs and the second gets its bridge.
 */
export function keywordConfig(swap = false): Config {
  const half = NIX_KEYWORDS.length / 2;
  const first = NIX_KEYWORDS.slice(0, half);
  const second = NIX_KEYWORDS.slice(half);
  const [proxyNames, vpnNames] = swap ? [second, first] : [first, second];
  const machine = (index: number) => NIX_KEYWORDS[index % NIX_KEYWORDS.length]!;
  return makeConfig({
    machines: Object.fromEntries(
      NIX_KEYWORDS.map((name) => [name, { endpoint: `${name}.example.org` }]),
    ),
    proxies: Object.fromEntries(
      proxyNames.map((name, index) => [
        name,
        { gateway: machine(index), clients: [machine(index + half)] },
      ]),
    ),
    vpns: Object.fromEntries(
      vpnNames.map((name, index) => [
        name,
        {
          machines: [machine(index), machine(index + 1)],
          id: index + 1,
          endpoint: `${name}.vpn.example.net:51820`,
          publicKey: fakePublicKey(`provider:${name}`),
          address: `10.70.${index}.2/32`,
          dns: [`10.70.${index}.1`],
          allowedIPs: ["0.0.0.0/0"],
          presharedKey: index % 2 === 0,
        },
      ]),
    ),
  });
}

export function keywordPublicKeys(): Record<string, string> {
  return Object.fromEntries(NIX_KEYWORDS.map((name) => [name, fakePublicKey(name)]));
}

/**
 * A fleet with meshes, for goldens and Nix evaluation: `home` has hub (the
 * relay) and vps with endpoints, laptop and desk without (they reach each
 * other through hub), keepalive 20; `lab` is vps and desk, IPv4 only, MTU
 * 1380; hub routes its LAN 192.168.50.0/24 into home, laptop its
 * 192.168.60.0/24, masqueraded; laptop also takes its
 * default route through the proxy `exit` (vps),
 * so its mesh interface gets a firewall mark and nothing else.
 */
export function meshConfig(order: "as written" | "reordered" = "as written"): Config {
  const machines = {
    hub: { endpoint: "hub.example.org", routes: ["192.168.50.0/24"] },
    vps: { endpoint: "203.0.113.9" },
    laptop: { routes: ["192.168.60.0/24"], masqueradeRoutes: true },
    desk: {},
  };
  const members = ["laptop", "hub", "desk", "vps"];
  return makeConfig({
    machines:
      order === "as written" ? machines : Object.fromEntries(Object.entries(machines).reverse()),
    proxies: { exit: { gateway: "vps", clients: ["laptop"], default: true } },
    meshes: {
      home: {
        members: order === "as written" ? members : [...members].reverse(),
        relay: "hub",
        keepalive: 20,
      },
      lab: { members: ["vps", "desk"], ipv6: false, mtu: 1380 },
    },
  });
}

export const MESH_MACHINES = ["desk", "hub", "laptop", "vps"] as const;

export function meshPublicKeys(): Record<string, string> {
  return Object.fromEntries(MESH_MACHINES.map((name) => [name, fakePublicKey(name)]));
}

/** Every secret of the mesh fleet: private keys and the PSK of every peer pair. */
export function meshSecrets(config: Config): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const name of Object.keys(config.machines))
    secrets[privateKeyFile(name)] = fakePrivateKey(name);
  for (const [a, b] of peerPairs(config)) secrets[presharedKeyFile(a, b)] = fakePresharedKey(a, b);
  return secrets;
}
