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
 * systemd.network(5): `Address=`, a `[Route]` of `Type=unreachable` as the
 * tunnel's kill switch, `[RoutingPolicyRule]` for routing.ts's `ip rule`s, and
 * `IPMasquerade=ipv4` on a gateway's interface (masquerades what is forwarded
 * from its block, and turns on IPv4 forwarding; networkd does not pick an
 * uplink, so `uplink` does not apply here).
 *
 * VPNs: the provider's key files, no ListenPort; the default
 * tunnel's DNS servers go on its link with `Domains=~.` and
 * `DNSDefaultRoute=yes` (systemd-resolved sends every query there). Each
 * other default-route tunnel's bridge (routing.ts) is a `Kind=bridge` netdev
 * with `ConfigureWithoutCarrier=yes` (it has an address before anything is
 * attached, as in the seed) and `IPMasquerade=ipv4`: what leaves the bridge
 * subnet is masqueraded to the address of the interface it leaves by — the
 * tunnel's, since the policy rule sends it there.
 */
import type { Config } from "../config/types.js";
import { type HostInterface, hostView } from "../net/host.js";
import type { Plan } from "../net/plan.js";
import type { Bridge, IpRule } from "../net/routing.js";
import {
  checkSecretsDir,
  commentLines,
  DEFAULT_SECRETS_DIR,
  describeInterface,
  generatedNotice,
  hostDns,
  interfaceKeyFile,
  onHostKeyPath,
  type RenderedFile,
} from "./common.js";

export interface NetworkdOptions {
  /** Where keys are decrypted to on the host (default /etc/wireguard/wgqt). */
  secretsDir?: string;
}

type Section = [name: string, entries: [string, string | number][], comment?: string];

function ini(header: string[], sections: Section[]): string {
  let text = commentLines(header);
  for (const [name, entries, comment] of sections) {
    text += comment === undefined ? `\n\n[${name}]` : `\n\n# ${comment}\n[${name}]`;
    for (const [key, value] of entries) text += `\n${key}=${value}`;
  }
  return `${text}\n`;
}

export function renderNetworkd(
  plan: Plan,
  config: Config,
  host: string,
  options: NetworkdOptions = {},
): RenderedFile[] {
  const secretsDir = checkSecretsDir(options.secretsDir ?? DEFAULT_SECRETS_DIR);
  const view = hostView(plan, config, host);
  return view.interfaces.flatMap((entry) => {
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
    ],
    [
      ["Match", [["Name", bridge.name]]],
      [
        "Network",
        [
          ["Address", `${bridge.address}/${bridge.prefixLength}`],
          ["ConfigureWithoutCarrier", "yes"],
          ["IPMasquerade", "ipv4"],
        ],
      ],
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
    [...header, "", "Key files must be readable by systemd-network (root:systemd-network, 0640)."],
    [
      [
        "NetDev",
        [
          ["Name", entry.name],
          ["Kind", "wireguard"],
          ["Description", `wgqt ${entry.kind === "vpn" ? "VPN" : "proxy"} ${entry.name}`],
        ],
      ],
      ["WireGuard", wireguard],
      ...peers,
    ],
  );
}

function network(entry: HostInterface, header: string[]) {
  const networkEntries: [string, string | number][] = [["Address", entry.addressWithPrefix]];
  if (entry.role === "gateway") networkEntries.push(["IPMasquerade", "ipv4"]);
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
  for (const route of entry.routing?.routes ?? []) {
    sections.push([
      "Route",
      [
        ["Type", route.type],
        ["Destination", route.destination],
        ["Table", route.table],
        ["Metric", route.metric],
      ],
      "kill switch: with the tunnel gone its traffic is dropped, not leaked",
    ]);
  }
  for (const rule of entry.routing?.rules ?? [])
    sections.push(["RoutingPolicyRule", policyRule(rule)]);
  return ini(header, sections);
}

function policyRule(rule: IpRule): [string, string | number][] {
  const entries: [string, string | number][] = [["Priority", rule.priority]];
  if (rule.from !== undefined) entries.push(["From", rule.from]);
  if (rule.fwmark !== undefined) {
    const mask = rule.fwmarkMask === undefined ? "" : `/${rule.fwmarkMask}`;
    entries.push(["FirewallMark", `${rule.fwmark}${mask}`]);
  }
  if (rule.invert) entries.push(["InvertRule", "yes"]);
  entries.push(["Table", rule.table]);
  if (rule.suppressPrefixLength !== undefined) {
    entries.push(["SuppressPrefixLength", rule.suppressPrefixLength]);
  }
  return entries;
}
