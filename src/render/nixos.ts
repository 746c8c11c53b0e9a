/**
 * NixOS modules, importable next to agenix:
 *
 * - `hosts/<host>.nix`: one host's module, whose `config` applies only where
 *   `networking.hostName` is that host — `networking.wireguard.interfaces`
 *   (the seed 000's proxies.nix, with the peers it never reached), the
 *   `age.secrets` the keys come from, NAT, forwarding and the firewall port
 *   on gateways, policy routing on clients, and the seed's
 *   `networking.wgqt.interfaces.<net>.{address,port}` for use elsewhere;
 * - `options.nix`: declares `networking.wgqt.interfaces` (imported by both);
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
import type { Config } from "../config/types.js";
import { type HostInterface, type HostView, hostView, plannedHosts } from "../net/host.js";
import type { Plan } from "../net/plan.js";
import {
  hexMark,
  ipRouteArguments,
  ipRuleArguments,
  NFT_TABLE,
  nftConnectionMarkScript,
  ROUTING_SYSCTLS,
} from "../net/routing.js";
import {
  checkSecretsDir,
  commentLines,
  DEFAULT_SECRETS_DIR,
  generatedNotice,
  hostDns,
  onHostKeyPath,
  type RenderedFile,
} from "./common.js";
import {
  NixCall,
  NixExpression,
  NixLines,
  type NixValue,
  nixAttribute,
  nixPath,
  nixString,
  printNix,
} from "./nix-syntax.js";

/** Options of the NixOS renderer. */
export interface NixosOptions {
  /**
   * The key store's path relative to the output directory (`--out`), posix
   * separators; default `keys_dir` as written in wgqt.toml (right when the
   * output directory sits next to wgqt.toml).
   */
  keysDir?: string;
  /** Where a bring-your-own private key lives on the host (default /etc/wireguard/wgqt). */
  secretsDir?: string;
}

export const OPTIONS_FILE = "options.nix";
export const ENTRY_FILE = "default.nix";
const HOSTS_DIR = "hosts";
export const hostFile = (host: string) => `${HOSTS_DIR}/${host}.nix`;
/** The output directory and the options module, as seen from a host's module. */
const OUT_FROM_HOST_FILE = posix.relative(HOSTS_DIR, ".");
const OPTIONS_FROM_HOST_FILE = posix.relative(HOSTS_DIR, OPTIONS_FILE);

/**
 * agenix secret names: `wgqt-<machine>`, `wgqt-psk-<a>+<b>`, and for VPN keys
 * `wgqt-vpn+<name>` and `wgqt-vpn-psk+<name>` ('+' is in no machine name, so
 * these never collide with a machine's).
 */
export function secretName(storeFile: string): string {
  const base = storeFile.replace(/\.age$/, "");
  if (base.startsWith("preshared_keys/")) return `wgqt-psk-${base.slice("preshared_keys/".length)}`;
  if (base.startsWith("vpns/")) {
    const vpn = base.slice("vpns/".length);
    return vpn.endsWith(".psk")
      ? `wgqt-vpn-psk+${vpn.slice(0, -".psk".length)}`
      : `wgqt-vpn+${vpn}`;
  }
  return `wgqt-${base}`;
}

const secretPath = (storeFile: string) =>
  new NixExpression(`config.age.secrets.${nixAttribute(secretName(storeFile))}.path`);

/**
 * A host's module and the options module it imports.
 *
 * @throws {UsageError} when `host` is not a machine of `config`.
 * @throws {WgqtError} when `secretsDir` is not an absolute path without shell characters, or the host cannot be rendered (see {@link hostView}).
 */
export function renderNixos(
  plan: Plan,
  config: Config,
  host: string,
  options: NixosOptions = {},
): RenderedFile[] {
  const view = hostView(plan, config, host);
  const keysDir = options.keysDir ?? config.keysDirSetting;
  const secretsDir = checkSecretsDir(options.secretsDir ?? DEFAULT_SECRETS_DIR);
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
  for (const { storeFile, name } of named.sort((a, b) => byName(a.name, b.name))) {
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

  const sorted = [...view.interfaces].sort((a, b) => byName(a.name, b.name));
  const byInterface = <T extends NixValue>(
    entries: HostInterface[],
    make: (entry: HostInterface) => T,
  ) => Object.fromEntries(entries.map((e) => [e.name, make(e)]));
  const listening = sorted.filter((entry) => entry.listenPort !== undefined);
  const bridged = sorted.filter((entry) => entry.routing?.bridge !== undefined);
  const wgqt: Record<string, NixValue> = {
    interfaces: byInterface(listening, (entry) => ({
      address: entry.address,
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
        { ipv4: { addresses: [{ address: b.address, prefixLength: b.prefixLength }] } },
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
      internalInterfaces: gateways.map((entry) => entry.name).sort(byName),
      ...(uplinks.length === 1 && uplinks[0] !== undefined
        ? { externalInterface: uplinks[0] }
        : {}),
    };
    networking.firewall = { allowedUDPPorts: gateways.map((entry) => entry.listenPort!) };
  }
  const routed = view.interfaces.filter((entry) => entry.routing !== undefined);
  const sysctl: Record<string, NixValue> = {};
  if (gateways.length > 0 || bridged.length > 0) sysctl["net.ipv4.ip_forward"] = 1;
  if (routed.length > 0) {
    // routing.ts: the reverse-path check must see the mark wgqt-connmark restores.
    Object.assign(sysctl, ROUTING_SYSCTLS);
    // Replies arrive on the tunnel the policy chose, not the main table's; the
    // sane.vpn seed needs the same.
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
              .sort((a, b) => byName(a.name, b.name))
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
    ...bridgeNotes(bridged),
  ];
  const module = printNix({
    imports: [nixPath(OPTIONS_FROM_HOST_FILE)],
    config: new NixCall(`lib.mkIf (config.networking.hostName == ${nixString(host)})`, configValue),
  });
  return [
    {
      path: file,
      content: `${commentLines(notes)}\n{ config, lib, pkgs, ... }:\n${BACKEND_BINDINGS}\n${module}\n`,
    },
    { path: OPTIONS_FILE, content: OPTIONS_MODULE },
  ];
}

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
    return `Bridge ${bridge.name}: attached containers browse through ${entry.name} only (address in ${bridge.cidr}, gateway ${bridge.address}); see networking.wgqt.bridges.`;
  });
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

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
  const value: Record<string, NixValue> = { ips: [entry.addressWithPrefix] };
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
 * The routing units of a host with policy-routed tunnels: `wgqt-connmark`;
 * `wgqt-routing` for what must hold whatever the tunnels do (the kill switch,
 * the bridges' firewall rules); `wgqt-routing-<net>` for each tunnel without
 * the kill switch.
 */
function routingServices(view: HostView, routed: HostInterface[]): Record<string, NixValue> {
  const services: Record<string, NixValue> = { "wgqt-connmark": connectionMarkService(view) };
  const always = routed.some((entry) => entry.routing!.killswitch || entry.routing!.bridge);
  if (always) services["wgqt-routing"] = routingService(view, routed);
  for (const entry of routed) {
    const routing = entry.routing!;
    if (routing.table !== undefined && !routing.killswitch) {
      services[`wgqt-routing-${entry.name}`] = tunnelRoutingService(entry);
    }
  }
  return services;
}

/** `ip rule`/`ip route` lines that add a tunnel's rules and routes, and those that remove them. */
function ruleScripts(entry: HostInterface): [start: string[], stop: string[]] {
  const start: string[] = [];
  const stop: string[] = [];
  for (const rule of entry.routing!.rules) {
    const selector = ipRuleArguments(rule);
    start.push(`ip -4 rule del ${selector} 2>/dev/null || true`, `ip -4 rule add ${selector}`);
    stop.push(`ip -4 rule del ${selector} || true`);
  }
  for (const route of entry.routing!.routes) {
    const selector = ipRouteArguments(route);
    start.push(`ip -4 route replace ${selector}`);
    stop.push(`ip -4 route del ${selector} || true`);
  }
  return [start, stop];
}

/**
 * A tunnel without the kill switch (routing.ts): its rules and unreachable
 * default are up before the tunnel is (no moment when its traffic takes the
 * main table's default route) and, on the script backend, PartOf= its
 * wireguard-<net>.service (systemd.unit(5)): `systemctl stop wireguard-<net>`,
 * the user opting out, removes them and plain routing returns; starting it
 * again brings them back. A crashed or deleted interface leaves them in place,
 * so its traffic is dropped. The networkd backend has no unit per tunnel:
 * there the rules stay until `systemctl stop wgqt-routing-<net>`.
 */
function tunnelRoutingService(entry: HostInterface): NixValue {
  const unit = nixString(`wireguard-${entry.name}.service`);
  const [start, stop] = ruleScripts(entry);
  return {
    description: `wgqt policy routing for ${entry.name} (killswitch = false)`,
    wantedBy: new NixExpression(`[ "multi-user.target" ] ++ lib.optional (!useNetworkd) ${unit}`),
    after: ["network-pre.target"],
    before: new NixExpression(
      `if useNetworkd then [ "systemd-networkd.service" ] else [ ${unit} ]`,
    ),
    partOf: new NixExpression(`lib.optional (!useNetworkd) ${unit}`),
    path: [new NixExpression("pkgs.iproute2")],
    serviceConfig: { Type: "oneshot", RemainAfterExit: true },
    script: new NixLines(start),
    preStop: new NixLines(stop),
  };
}

/**
 * routing.ts's CONNECTION_MARK_RULES, loaded with nft(8) whatever the
 * firewall backend: at priority mangle - 1 they run before both the iptables
 * firewall's rpfilter match and the nftables one (mangle + 10). With
 * networking.nftables.enable, nftables.service flushes the whole ruleset when
 * it starts, restarts or reloads; PartOf= and ReloadPropagatedFrom= load the
 * table again after it (systemd.unit(5)).
 */
function connectionMarkService(view: HostView): NixValue {
  const nftables = "config.networking.nftables.enable";
  const load = new NixLines(["nft -f - <<'EOF'", ...nftConnectionMarkScript(), "EOF"]);
  return {
    description: `wgqt: ${view.machine}'s WireGuard replies keep their tunnel's mark (reverse-path filtering)`,
    wantedBy: ["multi-user.target"],
    wants: ["network-pre.target"],
    before: ["network-pre.target"],
    after: new NixExpression(`lib.optional ${nftables} "nftables.service"`),
    partOf: new NixExpression(`lib.optional ${nftables} "nftables.service"`),
    unitConfig: new NixCall(`lib.mkIf ${nftables}`, { ReloadPropagatedFrom: "nftables.service" }),
    path: [new NixExpression("pkgs.nftables")],
    serviceConfig: { Type: "oneshot", RemainAfterExit: true },
    // A changed table replaces the old one in one transaction (nft -f): no moment without it.
    reloadIfChanged: true,
    script: load,
    reload: new NixExpression('config.systemd.services."wgqt-connmark".script'),
    preStop: new NixLines([`nft delete table ${NFT_TABLE} || true`]),
  };
}

/**
 * routing.ts's rules and unreachable routes of the tunnels with the kill
 * switch, and the bridges' firewall rules, as a oneshot unit separate from
 * the wireguard-<net> units: the rules (and the unreachable defaults) stay
 * when a tunnel's unit stops or fails, so its traffic is dropped, not leaked,
 * until `systemctl stop wgqt-routing` lifts them.
 */
function routingService(view: HostView, routed: HostInterface[]): NixValue {
  const start: string[] = [];
  const stop: string[] = [];
  for (const entry of routed) {
    if (entry.routing!.killswitch) {
      const [add, remove] = ruleScripts(entry);
      start.push(...add);
      stop.push(...remove);
    }
    const bridge = entry.routing!.bridge;
    if (bridge !== undefined) {
      // The bridge itself is networking.bridges'; its traffic leaves only into the tunnel, SNAT-ed.
      for (const rule of [
        `-t nat POSTROUTING -s ${bridge.cidr} -o ${entry.name} -j SNAT --to-source ${bridge.snatTo}`,
        `FORWARD -i ${bridge.name} -o ${entry.name} -j ACCEPT`,
        `FORWARD -i ${entry.name} -o ${bridge.name} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
      ]) {
        const [table, chain] = rule.startsWith("-t nat ") ? ["-t nat ", rule.slice(7)] : ["", rule];
        start.push(`iptables ${table}-C ${chain} 2>/dev/null || iptables ${table}-A ${chain}`);
        stop.push(`iptables ${table}-D ${chain} || true`);
      }
    }
  }
  const bridges = routed.some((entry) => entry.routing!.bridge !== undefined);
  return {
    description: `wgqt policy routing for ${view.machine}'s WireGuard tunnels`,
    wantedBy: ["multi-user.target"],
    after: ["network-pre.target"],
    // Up before any tunnel is: wireguard-<net>.service, or networkd, which creates them all.
    before: new NixExpression(
      `if useNetworkd then [ "systemd-networkd.service" ] else [ ${routed
        .map((entry) => nixString(`wireguard-${entry.name}.service`))
        .sort(byName)
        .join(" ")} ]`,
    ),
    path: [
      new NixExpression("pkgs.iproute2"),
      ...(bridges ? [new NixExpression("pkgs.iptables")] : []),
    ],
    serviceConfig: { Type: "oneshot", RemainAfterExit: true },
    script: new NixLines(start),
    preStop: new NixLines(stop),
  };
}

/** The options module: the seed's `networking.wgqt.interfaces`, and the bridges into tunnels. */
export function optionsModule(): string {
  const lines = [
    commentLines([
      ...generatedNotice("declares networking.wgqt.interfaces and networking.wgqt.bridges"),
      "",
      "networking.wgqt.interfaces.<net>.{address,port}: this host's address and port on each",
      "wgqt network it is in, for use elsewhere in the configuration (seed: interfaces.nix).",
      "networking.wgqt.bridges.<tunnel>.{device,address,prefixLength,dns}: the bridge into each",
      "tunnel that is not the default route (sane.vpn's bridgeDevice), e.g. for containers.",
    ]),
    "{ lib, ... }:",
    "{",
    "  options.networking.wgqt.interfaces = lib.mkOption {",
    '    description = "This host\'s address and listen port on each wgqt network it is in.";',
    "    default = { };",
    "    type = lib.types.attrsOf (lib.types.submodule {",
    "      options = {",
    "        address = lib.mkOption {",
    "          type = lib.types.str;",
    '          description = "This host\'s address on the network.";',
    "        };",
    "        port = lib.mkOption {",
    "          type = lib.types.port;",
    '          description = "The UDP port the network listens on.";',
    "        };",
    "      };",
    "    });",
    "  };",
    "  options.networking.wgqt.bridges = lib.mkOption {",
    '    description = "Per tunnel that is not the default route: the bridge whose traffic leaves through that tunnel only.";',
    "    default = { };",
    "    type = lib.types.attrsOf (lib.types.submodule {",
    "      options = {",
    "        device = lib.mkOption {",
    "          type = lib.types.str;",
    '          description = "The bridge interface, e.g. a container\'s hostBridge.";',
    "        };",
    "        address = lib.mkOption {",
    "          type = lib.types.str;",
    '          description = "This host\'s address on the bridge: the gateway of what is attached.";',
    "        };",
    "        prefixLength = lib.mkOption {",
    "          type = lib.types.int;",
    '          description = "The prefix length of the bridge subnet.";',
    "        };",
    "        dns = lib.mkOption {",
    "          type = lib.types.listOf lib.types.str;",
    '          description = "DNS servers for what is attached (the VPN\'s; none for a proxy).";',
    "        };",
    "      };",
    "    });",
    "  };",
    "}",
  ];
  return `${lines.join("\n")}\n`;
}

/** The same for every host: printed once. */
const OPTIONS_MODULE = optionsModule();

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
