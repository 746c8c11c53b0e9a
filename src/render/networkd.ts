/**
 * systemd-networkd files: `<host>/50-wgqt-<interface>.netdev` and `.network`
 * per interface (copy them to /etc/systemd/network/).
 *
 * systemd.netdev(5): `Kind=wireguard`; `PrivateKeyFile=` and
 * `PresharedKeyFile=` name files that must be readable by the
 * systemd-network user (root:systemd-network, 0640) — the secrets directory
 * mirrors the key store, .age decrypted to .key (see render/common.ts);
 * `FirewallMark=` and `RouteTable=` carry routing.ts's fwmark (decimal: networkd
 * takes numbers) and table, and
 * networkd adds AllowedIPs as routes only when RouteTable= is set.
 * systemd.network(5): `Address=` and
 * `IPMasquerade=ipv4` on a gateway's interface (masquerades what is forwarded
 * from its block, and turns on IPv4 forwarding; networkd does not pick an
 * uplink, so `uplink` does not apply here).
 *
 * A mesh relay, and a member with `routes`, also gets
 * `sysctl.d/50-wgqt-relay.conf` (IP forwarding; no NAT).
 *
 * VPNs: the provider's key files, no ListenPort; the default
 * tunnel's DNS servers go on its link with `Domains=~.` and
 * `DNSDefaultRoute=yes` (systemd-resolved sends every query there). Each
 * other default-route tunnel's bridge (routing.ts) is a `Kind=bridge` netdev
 * with `ConfigureWithoutCarrier=yes` (it has its address before anything is
 * attached) and `IPMasquerade=ipv4`: what leaves the bridge
 * subnet is masqueraded to the address of the interface it leaves by — the
 * tunnel's, since the policy rule sends it there. Its IPv6 /64 (bridge.ts) is
 * a second `Address=`; `IPMasquerade=both` (NAT66, IPv6 forwarding) when the
 * tunnel has IPv6, else its IPv6 meets only the tunnel's unreachable default.
 *
 * A host with policy-routed tunnels also gets what networkd cannot do
 * (networkd-routing.ts): `sysctl.d/50-wgqt.conf`, `system/wgqt-connmark.service`
 * (routing.ts's connection marks, with nft(8)), and the tunnels' policy rules
 * and unreachable defaults (routing.ts), held by units rather than by the
 * tunnels' `.network` files, since networkd removes a link's own rules and
 * routes when the link goes down or away: `system/wgqt-killswitch.service` for
 * tunnels with the kill switch, `system/wgqt-routing-<net>.service` for each
 * other one, with `networkd.conf.d/50-wgqt.conf` telling networkd to leave
 * them alone.
 */

import type { Bridge } from "../net/bridge.js";
import type { HostInterface } from "../net/host.js";
import type { HostRenderer, SecretsDirOption } from "./common.js";
import {
  commentLines,
  describeInterface,
  forwardsIpv6,
  generatedNotice,
  hostDns,
  hostInputs,
  interfaceKeyFile,
  onHostKeyPath,
} from "./common.js";
import { hostsFile } from "./hosts.js";
import { KILL_SWITCH_UNIT, routingFiles, routingUnit } from "./networkd-routing.js";
import { ini, type Section } from "./unit-file.js";

/** Options of the systemd-networkd renderer. */
export type NetworkdOptions = SecretsDirOption;

/**
 * Render `host` as systemd-networkd `.netdev`/`.network` files, plus its sysctl and, when it routes, the kill-switch and connmark units.
 *
 * @returns Paths relative to the output directory, each under `<host>/`.
 * @throws {UsageError} when `host` is not a machine of `config`.
 * @throws {WgqtError} when `secretsDir` is not an absolute path without shell characters, or the host cannot be rendered (see `hostView` in `wgqt/net`).
 */
export const renderNetworkd: HostRenderer<NetworkdOptions> = (plan, config, host, options = {}) => {
  const { view, secretsDir } = hostInputs(plan, config, host, options);
  const files = view.interfaces.flatMap((entry) => {
    const privateKeyFile = onHostKeyPath(secretsDir, interfaceKeyFile(view, entry));
    const header = generatedNotice(describeInterface(host, entry));
    const base = `${host}/50-wgqt-${entry.name}`;
    const files = [
      { path: `${base}.netdev`, content: netdev(entry, header, privateKeyFile, secretsDir) },
      { path: `${base}.network`, content: network(entry, header) },
    ];
    const bridge = entry.routing?.bridge;
    if (bridge !== undefined) {
      const bridgeHeader = generatedNotice(`${host}'s bridge into ${entry.name}`);
      const bridgeBase = `${host}/50-wgqt-${bridge.name}`;
      files.push(
        { path: `${bridgeBase}.netdev`, content: bridgeNetdev(entry, bridge, bridgeHeader) },
        { path: `${bridgeBase}.network`, content: bridgeNetwork(entry, bridge, bridgeHeader) },
      );
    }
    return files;
  });
  return [
    ...files,
    ...relayFiles(host, view.interfaces),
    ...routingFiles(host, view.interfaces),
    ...hostsFile(view),
  ];
};

/**
 * A mesh relay's or routing member's forwarding, as a sysctl.d(5) file:
 * networkd's own setting differs between versions.
 */
function relayFiles(
  host: string,
  interfaces: HostInterface[],
): { path: string; content: string }[] {
  const relays = interfaces.filter((entry) => entry.forwards || entry.routes !== undefined);
  if (relays.length === 0) return [];
  const lines = [
    commentLines([
      ...generatedNotice(`${host}'s forwarding in its meshes`),
      "Install as /etc/sysctl.d/50-wgqt-relay.conf. Forwarding, no NAT:",
      ...relays.flatMap((entry) => [
        ...(entry.forwards ? [`${entry.name}: between members without an endpoint (relay)`] : []),
        ...(entry.routes === undefined
          ? []
          : [`${entry.name}: between the mesh and ${entry.routes.join(", ")} (routes)`]),
      ]),
    ]),
    "net.ipv4.ip_forward = 1",
    ...(relays.some(forwardsIpv6) ? ["net.ipv6.conf.all.forwarding = 1"] : []),
  ];
  return [{ path: `${host}/sysctl.d/50-wgqt-relay.conf`, content: `${lines.join("\n")}\n` }];
}

function bridgeNetdev(entry: HostInterface, bridge: Bridge, header: string[]): string {
  return ini(header, [
    [
      "NetDev",
      [
        ["Name", bridge.name],
        ["Kind", "bridge"],
        ["Description", `wgqt bridge into ${entry.name}`],
      ],
    ],
  ]);
}

function bridgeNetwork(entry: HostInterface, bridge: Bridge, header: string[]): string {
  const dns = entry.dns ?? [];
  return ini(
    [
      ...header,
      "",
      `Attach containers or namespaces here: they browse through ${entry.name} only.`,
      `Give them an address in ${bridge.cidr}, gateway ${bridge.address}${dns.length ? `, DNS ${dns.join(", ")}` : ""}.`,
      ...(bridge.cidr6 === undefined
        ? []
        : bridge.snatTo6 === undefined
          ? [`${entry.name} carries no IPv6: IPv6 from ${bridge.cidr6} is dropped, never leaked.`]
          : [`IPv6: an address in ${bridge.cidr6}, gateway ${bridge.address6}.`]),
    ],
    [
      ["Match", [["Name", bridge.name]]],
      [
        "Network",
        [
          ["Address", `${bridge.address}/${bridge.prefixLength}`],
          ["ConfigureWithoutCarrier", "yes"],
          // Masquerading (and forwarding) IPv6 too only when the tunnel has an IPv6 address.
          ["IPMasquerade", bridge.snatTo6 === undefined ? "ipv4" : "both"],
        ],
      ],
      ...(bridge.cidr6 === undefined
        ? []
        : [
            [
              "Address",
              [
                ["Address", `${bridge.address6}/${bridge.prefixLength6}`],
                ["DuplicateAddressDetection", "none"],
              ],
              // A bridge has no carrier until something is attached: its IPv6 address would stay
              // tentative, and the link "configuring", for as long.
              "No duplicate address detection: usable before anything is attached.",
            ] as Section,
          ]),
      ["Link", [["RequiredForOnline", "no"]]],
    ],
  );
}

function netdev(
  entry: HostInterface,
  header: string[],
  privateKeyFile: string,
  secretsDir: string,
) {
  const wireguard: [string, string | number][] = [["PrivateKeyFile", privateKeyFile]];
  if (entry.listenPort !== undefined) wireguard.push(["ListenPort", entry.listenPort]);
  if (entry.routing !== undefined) wireguard.push(["FirewallMark", entry.routing.fwmark]);
  // Clients' AllowedIPs (0.0.0.0/0) go to the tunnel's own table, a gateway's /32s to main.
  wireguard.push(["RouteTable", entry.routing?.table ?? "main"]);
  const peers = entry.peers.map((peer): Section => {
    const entries: [string, string | number][] = [["PublicKey", peer.publicKey]];
    if (peer.presharedKeyFile !== undefined)
      entries.push(["PresharedKeyFile", onHostKeyPath(secretsDir, peer.presharedKeyFile)]);
    entries.push(["AllowedIPs", peer.allowedIPs.join(",")]);
    if (peer.endpoint !== undefined) entries.push(["Endpoint", peer.endpoint]);
    if (peer.persistentKeepalive !== undefined) {
      entries.push(["PersistentKeepalive", peer.persistentKeepalive]);
    }
    return [
      "WireGuardPeer",
      entries,
      entry.kind === "vpn" ? `${peer.machine} (the provider's server)` : peer.machine,
    ];
  });
  return ini(
    [
      ...header,
      "",
      "Key files must be readable by systemd-network (root:systemd-network, 0640).",
      `networkd never changes an existing interface: after new keys, \`networkctl delete ${entry.name}\` first.`,
    ],
    [
      [
        "NetDev",
        [
          ["Name", entry.name],
          ["Kind", "wireguard"],
          ["Description", `wgqt ${entry.kind === "vpn" ? "VPN" : entry.kind} ${entry.name}`],
          // systemd.netdev(5): [NetDev] MTUBytes= sets the MTU of the device networkd creates
          // (only tun and tap need systemd.network(5)'s [Link] MTUBytes=, which also raises a
          // value below 1280 to 1280 on a link with IPv6); NixOS's networkd backend puts it here.
          ...(entry.mtu === undefined ? [] : [["MTUBytes", entry.mtu] as [string, number]]),
        ],
      ],
      ["WireGuard", wireguard],
      ...peers,
    ],
  );
}

function network(entry: HostInterface, header: string[]) {
  const networkEntries: [string, string | number][] = [["Address", entry.addressWithPrefix]];
  if (entry.address6WithPrefix !== undefined)
    networkEntries.push(["Address", entry.address6WithPrefix]);
  // systemd.network(5): masquerades what arrives here out of other links, and turns on forwarding.
  if (entry.role === "gateway")
    networkEntries.push(["IPMasquerade", entry.cidr6 === undefined ? "ipv4" : "both"]);
  // masquerade_routes: networkd masquerades by source only, so whatever the mesh sends through here.
  if (entry.masqueradeRoutes)
    networkEntries.push([
      "IPMasquerade",
      entry.cidr6 !== undefined && entry.routes!.some((route) => route.includes(":"))
        ? "both"
        : "ipv4",
    ]);
  const dns = hostDns(entry);
  if (dns.length > 0) {
    // systemd.network(5): "~." routes every domain's queries to this link's servers.
    networkEntries.push(...dns.map((server): [string, string] => ["DNS", server]));
    networkEntries.push(["Domains", "~."], ["DNSDefaultRoute", "yes"]);
  }
  const sections: Section[] = [
    ["Match", [["Name", entry.name]]],
    ["Network", networkEntries],
  ];
  const routing = entry.routing;
  if (routing === undefined || routing.rules.length + routing.routes.length === 0) {
    return ini(header, sections);
  }
  const unit = routing.killswitch ? KILL_SWITCH_UNIT : routingUnit(entry.name);
  const note = routing.killswitch
    ? [
        `Kill switch: this tunnel's rules and unreachable default are in ${unit},`,
        "so they stay when the link goes down.",
      ]
    : [
        `Routing: this tunnel's rules and unreachable default are in ${unit},`,
        "so its traffic is dropped, not leaked, while the link is down or gone. To take it",
        `down on purpose: networkctl down ${entry.name} && systemctl stop ${unit.slice("system/".length)}`,
      ];
  return ini([...header, "", ...note], sections);
}
