/**
 * NixOS modules, importable next to agenix:
 *
 * - `hosts/<host>.nix`: one host's module, whose `config` applies only where
 *   `networking.hostName` is that host — `networking.wireguard.interfaces`
 *   with every peer, the `age.secrets` the keys come from, NAT, forwarding
 *   and the firewall port on gateways, policy routing on clients
 *   (nixos-routing.ts), and `networking.wgqt.interfaces.<net>.{address,port}`
 *   for use elsewhere;
 * - `options.nix` (nixos-options.ts): declares `networking.wgqt.*` (imported
 *   by both);
 * - `names/<network>.nix` (nixos-names.ts): each proxy's and mesh's names as
 *   `networking.hosts` on its members, imported by each member's module;
 * - `default.nix`: the entry module, importing every host's module. They are
 *   ordinary modules (NixOS passes them `pkgs` and the rest itself), so any
 *   one of them can also be imported on its own.
 *
 * Both backends of `networking.wireguard` work: the script backend
 * (`wireguard-<net>.service`) and systemd-networkd
 * (`networking.wireguard.useNetworkd`, where networkd creates the interfaces
 * from `systemd.network.netdevs`). Where they differ, the module asks
 * `config.networking.wireguard.useNetworkd` (false on NixOS without that
 * option): the key files' group, the firewall mark, what the routing unit
 * starts before.
 *
 * No secret is ever in the output: `age.secrets.<name>.file` is a path to the
 * `.age` file in the key store (relative to the output directory) and
 * WireGuard reads `config.age.secrets.<name>.path`, where agenix decrypts it.
 */
import { posix } from "node:path";
import { type HostInterface, plannedHosts } from "../net/host.js";
import type { Plan } from "../net/plan.js";
import { hexMark, ROUTING_SYSCTLS } from "../net/routing.js";
import { byteOrder } from "../order.js";
import { parseKeyFileName } from "../store/layout.js";
import {
  commentLines,
  forwardsIpv6,
  generatedNotice,
  type HostRenderer,
  hostDns,
  hostInputs,
  onHostKeyPath,
  type RenderedFile,
  renderedFile,
  type SecretsDirOption,
} from "./common.js";
import {
  NixCall,
  NixExpression,
  type NixValue,
  nixAttribute,
  nixPath,
  nixString,
  printNix,
  Utf8Sink,
  writeNix,
} from "./nix-syntax.js";
import { masqueradeRoutes, meshNotes } from "./nixos-mesh.js";
import { NAMES_DIR, namesModule } from "./nixos-names.js";
import { OPTIONS_FILE, OPTIONS_MODULE } from "./nixos-options.js";
import { routingServices } from "./nixos-routing.js";

/** Options of the NixOS renderer. */
export interface NixosOptions extends SecretsDirOption {
  /**
   * The key store's path relative to the output directory (`--out`), posix
   * separators; default `keys_dir` as written in wgqt.toml (right when the
   * output directory sits next to wgqt.toml).
   */
  keysDir?: string;
  /** Where a bring-your-own private key lives on the host (default /etc/wireguard/wgqt). */
  secretsDir?: string;
}

export const ENTRY_FILE = "default.nix";
const HOSTS_DIR = "hosts";
export const hostFile = (host: string) => `${HOSTS_DIR}/${host}.nix`;
/** The output directory and the options module, as seen from a host's module. */
const OUT_FROM_HOST_FILE = posix.relative(HOSTS_DIR, ".");
const OPTIONS_FROM_HOST_FILE = posix.relative(HOSTS_DIR, OPTIONS_FILE);
/** The names modules' directory, as seen from a host's module. */
const NAMES_FROM_HOST_FILE = posix.relative(HOSTS_DIR, NAMES_DIR);

/**
 * agenix secret names: `wgqt-<machine>`, `wgqt-psk-<a>+<b>`, and for VPN keys
 * `wgqt-vpn+<name>` and `wgqt-vpn-psk+<name>` ('+' is in no machine name, so
 * these never collide with a machine's).
 */
export function secretName(storeFile: string): string {
  const parsed = parseKeyFileName(storeFile);
  switch (parsed?.kind) {
    case "preshared-key":
      return `wgqt-psk-${parsed.machines.join("+")}`;
    case "vpn-private-key":
      return `wgqt-vpn+${parsed.vpn}`;
    case "vpn-preshared-key":
      return `wgqt-vpn-psk+${parsed.vpn}`;
    default:
      return `wgqt-${storeFile.replace(/\.age$/, "")}`;
  }
}

const secretPath = (storeFile: string) =>
  new NixExpression(`config.age.secrets.${nixAttribute(secretName(storeFile))}.path`);

/**
 * A host's module and the modules it imports: the options module and the
 * names of each proxy and mesh it is in.
 *
 * @throws {UsageError} when `host` is not a machine of `config`.
 * @throws {WgqtError} when `secretsDir` is not an absolute path without shell characters, or the host cannot be rendered (see `hostView` in `wgqt/net`).
 */
export const renderNixos: HostRenderer<NixosOptions> = (plan, config, host, options = {}) => {
  const { view, secretsDir } = hostInputs(plan, config, host, options);
  const keysDir = options.keysDir ?? config.keysDirSetting;
  const file = hostFile(host);
  // The key store as seen from the host's file; joining normalizes it with each store file.
  const storeFromHostFile = posix.join(OUT_FROM_HOST_FILE, keysDir);
  const fromHostFile = (storeFile: string) => nixPath(posix.join(storeFromHostFile, storeFile));

  // The host's own key only when a proxy interface uses it (a VPN has the provider's).
  const usesHostKey = view.interfaces.some((entry) => entry.privateKeyFile === undefined);
  const interfaceFiles = new Set<string>();
  for (const entry of view.interfaces) {
    if (entry.privateKeyFile !== undefined) interfaceFiles.add(entry.privateKeyFile);
    for (const peer of entry.peers) {
      if (peer.presharedKeyFile !== undefined) interfaceFiles.add(peer.presharedKeyFile);
    }
  }
  const storeFiles = [
    ...(view.privateKeyFile === undefined || !usesHostKey ? [] : [view.privateKeyFile]),
    ...interfaceFiles,
  ];
  const secrets = new Map<string, NixValue>();
  const named = storeFiles.map((storeFile) => ({ storeFile, name: secretName(storeFile) }));
  for (const { storeFile, name } of named.sort((a, b) => byteOrder(a.name, b.name))) {
    secrets.set(name, {
      file: fromHostFile(storeFile),
      owner: "root",
      group: new NixExpression("keyGroup"),
      mode: new NixExpression("keyMode"),
    });
  }
  const hostPrivateKey =
    view.privateKeyFile === undefined
      ? onHostKeyPath(secretsDir, `${host}.age`)
      : secretPath(view.privateKeyFile);
  const privateKeyOf = (entry: HostInterface) =>
    entry.privateKeyFile === undefined ? hostPrivateKey : secretPath(entry.privateKeyFile);

  const sorted = [...view.interfaces].sort((a, b) => byteOrder(a.name, b.name));
  const byInterface = <T extends NixValue>(
    entries: HostInterface[],
    make: (entry: HostInterface) => T,
  ) => Object.fromEntries(entries.map((e) => [e.name, make(e)]));
  const listening = sorted.filter((entry) => entry.listenPort !== undefined);
  const bridged = sorted.filter((entry) => entry.routing?.bridge !== undefined);
  const wgqt: Record<string, NixValue> = {
    interfaces: byInterface(listening, (entry) => ({
      address: entry.address,
      ...(entry.address6 === undefined ? {} : { address6: entry.address6 }),
      port: entry.listenPort!,
    })),
  };
  if (bridged.length > 0) {
    wgqt.bridges = byInterface(bridged, (entry) => {
      const bridge = entry.routing!.bridge!;
      return {
        device: bridge.name,
        address: bridge.address,
        prefixLength: bridge.prefixLength,
        ...(bridge.address6 === undefined
          ? {}
          : { address6: bridge.address6, prefixLength6: bridge.prefixLength6! }),
        dns: entry.dns ?? [],
      };
    });
  }
  const networking: Record<string, NixValue> = {
    wireguard: {
      interfaces: byInterface(sorted, (entry) => wireguardInterface(entry, privateKeyOf(entry))),
    },
    wgqt,
  };
  if (bridged.length > 0) {
    const bridges = bridged.map((entry) => entry.routing!.bridge!);
    networking.bridges = Object.fromEntries(bridges.map((b) => [b.name, { interfaces: [] }]));
    networking.interfaces = Object.fromEntries(
      bridges.map((b) => [
        b.name,
        {
          ipv4: { addresses: [{ address: b.address, prefixLength: b.prefixLength }] },
          ...(b.address6 === undefined
            ? {}
            : { ipv6: { addresses: [{ address: b.address6, prefixLength: b.prefixLength6! }] } }),
        },
      ]),
    );
  }
  const dns = view.interfaces.flatMap(hostDns);
  if (dns.length > 0) {
    // The default VPN's resolvers, or queries to a LAN resolver would bypass it.
    networking.nameservers = new NixExpression(
      `lib.mkDefault [ ${dns.map((server) => nixString(server)).join(" ")} ]`,
    );
  }
  const configValue: Record<string, NixValue> = {};
  if (secrets.size > 0) configValue.age = { secrets };
  configValue.networking = networking;

  const gateways = view.interfaces.filter((entry) => entry.role === "gateway");
  if (gateways.length > 0) {
    const uplinks = [...new Set(gateways.map((entry) => entry.uplink))];
    networking.nat = {
      enable: true,
      internalInterfaces: gateways.map((entry) => entry.name).sort(byteOrder),
      ...(uplinks.length === 1 && uplinks[0] !== undefined
        ? { externalInterface: uplinks[0] }
        : {}),
    };
    // NAT66 (nixos/nat.nix): the ULA blocks leave as the uplink's own IPv6 address.
    const blocks6 = gateways.flatMap((entry) => (entry.cidr6 === undefined ? [] : [entry.cidr6]));
    if (blocks6.length > 0)
      Object.assign(networking.nat, { enableIPv6: true, internalIPv6s: blocks6.sort(byteOrder) });
    networking.firewall = { allowedUDPPorts: gateways.map((entry) => entry.listenPort!) };
  }
  // Mesh members with an endpoint are connected to; a relay forwards (no NAT).
  const reachable = view.interfaces.filter((entry) => entry.reachable);
  if (reachable.length > 0) {
    const ports = (networking.firewall as { allowedUDPPorts?: number[] } | undefined)
      ?.allowedUDPPorts;
    networking.firewall = {
      allowedUDPPorts: [...(ports ?? []), ...reachable.map((entry) => entry.listenPort!)],
    };
  }
  const relays = view.interfaces.filter((entry) => entry.forwards || entry.routes !== undefined);
  const masquerading = view.interfaces.filter((entry) => entry.masqueradeRoutes);
  if (masquerading.length > 0) masqueradeRoutes(host, networking, masquerading);
  const routed = view.interfaces.filter((entry) => entry.routing !== undefined);
  const sysctl: Record<string, NixValue> = {};
  if (gateways.length > 0 || bridged.length > 0 || relays.length > 0)
    sysctl["net.ipv4.ip_forward"] = 1;
  // NAT66 from a bridge (nixos-routing.ts) needs IPv6 forwarding; a tunnel without IPv6 does not.
  // A mesh relay or routing member forwards IPv6 where its mesh or subnets have it.
  if (
    bridged.some((entry) => entry.routing!.bridge!.snatTo6 !== undefined) ||
    relays.some(forwardsIpv6)
  )
    sysctl["net.ipv6.conf.all.forwarding"] = 1;
  if (routed.length > 0) {
    // routing.ts: the reverse-path check must see the mark wgqt-connmark restores.
    Object.assign(sysctl, ROUTING_SYSCTLS);
    // Replies arrive on the tunnel the policy chose, not by the main table's
    // route back: strict reverse-path filtering would drop them.
    networking.firewall = {
      ...(networking.firewall as Record<string, NixValue> | undefined),
      checkReversePath: new NixExpression(`lib.mkDefault ${nixString("loose")}`),
    };
    configValue.systemd = {
      services: routingServices(view, routed),
      // The rules and unreachable routes are added outside networkd (by
      // wgqt-routing); with networkd enabled it would otherwise remove them
      // as foreign when it starts, and traffic would leak (networkd.conf(5)).
      network: {
        config: {
          networkConfig: { ManageForeignRoutingPolicyRules: false, ManageForeignRoutes: false },
        },
        // networking.wireguard's networkd backend passes fwMark to FirewallMark=, which
        // networkd takes as an integer only (systemd.netdev(5); wg(8) takes hex too). It
        // names <net>'s netdev "40-<net>"; were that to change, this would be a netdev
        // without Name= and Kind=, which NixOS refuses: an error, not a missing mark.
        netdevs: new NixCall(
          "lib.mkIf useNetworkd",
          Object.fromEntries(
            [...routed]
              .sort((a, b) => byteOrder(a.name, b.name))
              .map((entry) => [
                `40-${entry.name}`,
                { wireguardConfig: { FirewallMark: entry.routing!.fwmark } },
              ]),
          ),
        ),
      },
    };
  }
  if (Object.keys(sysctl).length > 0) configValue.boot = { kernel: { sysctl } };

  // networking.hosts: in each network's module, which this one imports.
  const names = view.names ?? [];
  const notes = [
    ...generatedNotice(`the NixOS module of ${host}`),
    "",
    `Applies only where networking.hostName is ${nixString(host)}: import it on that machine, or`,
    "default.nix, which imports every host's module, on all of them.",
    "Secrets are referenced, never included: age.secrets.*.file are the key store's .age files.",
    ...(view.privateKeyFile === undefined && usesHostKey
      ? [
          `Bring-your-own key: put ${host}'s private key at ${onHostKeyPath(secretsDir, `${host}.age`)}`,
          "(root-only; with networking.wireguard.useNetworkd, readable by the systemd-network group).",
        ]
      : []),
    ...gatewayNotes(gateways),
    ...meshNotes(relays),
    ...bridgeNotes(bridged),
  ];
  const sink = new Utf8Sink();
  sink.append(`${commentLines(notes)}\n{ config, lib, pkgs, ... }:\n${BACKEND_BINDINGS}\n`);
  writeNix(sink, {
    imports: [
      nixPath(OPTIONS_FROM_HOST_FILE),
      ...names.map((entry) => nixPath(`${NAMES_FROM_HOST_FILE}/${entry.network}.nix`)),
    ],
    config: new NixCall(`lib.mkIf (config.networking.hostName == ${nixString(host)})`, configValue),
  });
  sink.append("\n");
  return [
    renderedFile(file, sink.finish()),
    { path: OPTIONS_FILE, content: OPTIONS_MODULE },
    ...names.map(namesModule),
  ];
};

/**
 * What differs between the backends of networking.wireguard, bound at the top
 * of each host's module (`or false`: NixOS without the option has scripts only).
 */
const BACKEND_BINDINGS = [
  "let",
  "  # networking.wireguard.useNetworkd: systemd-networkd creates the interfaces, not",
  "  # wireguard-<net>.service, and reads PrivateKeyFile= and PresharedKeyFile= as the",
  "  # systemd-network user (systemd.netdev(5)); the scripts read them as root.",
  "  useNetworkd = config.networking.wireguard.useNetworkd or false;",
  '  keyGroup = if useNetworkd then "systemd-network" else "root";',
  '  keyMode = if useNetworkd then "0440" else "0400";',
  "in",
].join("\n");

function bridgeNotes(bridged: HostInterface[]): string[] {
  return bridged.map((entry) => {
    const bridge = entry.routing!.bridge!;
    const ipv6 =
      bridge.cidr6 === undefined
        ? ""
        : bridge.snatTo6 === undefined
          ? `; IPv6 from ${bridge.cidr6} is dropped: ${entry.name} carries none`
          : `; IPv6 in ${bridge.cidr6}, gateway ${bridge.address6}`;
    return `Bridge ${bridge.name}: attached containers browse through ${entry.name} only (address in ${bridge.cidr}, gateway ${bridge.address}${ipv6}); see networking.wgqt.bridges.`;
  });
}

function gatewayNotes(gateways: HostInterface[]): string[] {
  if (gateways.length === 0) return [];
  const uplinks = [...new Set(gateways.map((entry) => entry.uplink))];
  return [
    uplinks.length === 1 && uplinks[0] !== undefined
      ? `NAT: out of ${uplinks[0]} (machines.<name>.uplink).`
      : "NAT: networking.nat masquerades forwarded tunnel traffic out of whichever interface it leaves by (the default route's); set machines.<name>.uplink to pin one.",
  ];
}

function wireguardInterface(entry: HostInterface, privateKey: string | NixExpression): NixValue {
  const value: Record<string, NixValue> = {
    ips: [
      entry.addressWithPrefix,
      ...(entry.address6WithPrefix === undefined ? [] : [entry.address6WithPrefix]),
    ],
  };
  if (entry.listenPort !== undefined) value.listenPort = entry.listenPort;
  // nixos/wireguard.nix runs `ip link set mtu` with it; the networkd backend makes it MTUBytes=.
  if (entry.mtu !== undefined) value.mtu = entry.mtu;
  value.privateKeyFile = privateKey;
  if (entry.routing !== undefined) {
    // wg(8) fwmark; the networkd backend gets the mark from systemd.network.netdevs.
    value.fwMark = new NixCall("lib.mkIf (!useNetworkd)", hexMark(entry.routing.fwmark));
    if (entry.routing.table !== undefined) value.table = String(entry.routing.table);
  }
  value.peers = entry.peers.map((peer) => {
    const entryValue: Record<string, NixValue> = { publicKey: peer.publicKey };
    if (peer.presharedKeyFile !== undefined)
      entryValue.presharedKeyFile = secretPath(peer.presharedKeyFile);
    entryValue.allowedIPs = peer.allowedIPs;
    if (peer.endpoint !== undefined) entryValue.endpoint = peer.endpoint;
    if (peer.persistentKeepalive !== undefined) {
      entryValue.persistentKeepalive = peer.persistentKeepalive;
    }
    return entryValue;
  });
  return value;
}

/**
 * The entry module: imports every host's module, each of which applies only
 * on its own hostName. Plain imports, so the module system hands each one
 * its arguments (`pkgs` among them, from `_module.args`) as to any module.
 *
 * @returns `default.nix`.
 */
export function renderNixosEntry(plan: Plan): RenderedFile {
  const lines = [
    commentLines([
      ...generatedNotice("the NixOS entry module"),
      "",
      "Import this on every machine (imports = [ agenix.nixosModules.default ./wgqt ];):",
      "hosts/<host>.nix applies only where networking.hostName is <host>.",
    ]),
    printNix({ imports: [OPTIONS_FILE, ...plannedHosts(plan).map(hostFile)].map(nixPath) }),
  ];
  return { path: ENTRY_FILE, content: `${lines.join("\n")}\n` };
}
