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
 */
import type { Config } from "../config/types.js";
import { type HostInterface, hostView } from "../net/host.js";
import type { Plan } from "../net/plan.js";
import type { IpRule } from "../net/routing.js";
import {
  checkSecretsDir,
  commentLines,
  DEFAULT_SECRETS_DIR,
  generatedNotice,
  onHostKeyPath,
  type RenderedFile,
} from "./common.js";

export interface NetworkdOptions {
  /** Where keys are decrypted to on the host (default /etc/wireguard/wgqt). */
  secretsDir?: string;
}

type Section = [name: string, entries: [string, string | number][], comment?: string];

function ini(header: string[], sections: Section[]): string {
  const blocks = sections.map(([name, entries, comment]) =>
    [
      ...(comment === undefined ? [] : [`# ${comment}`]),
      `[${name}]`,
      ...entries.map(([key, value]) => `${key}=${value}`),
    ].join("\n"),
  );
  return `${[commentLines(header), ...blocks].join("\n\n")}\n`;
}

export function renderNetworkd(
  plan: Plan,
  config: Config,
  host: string,
  options: NetworkdOptions = {},
): RenderedFile[] {
  const secretsDir = checkSecretsDir(options.secretsDir ?? DEFAULT_SECRETS_DIR);
  const view = hostView(plan, config, host);
  const privateKeyFile = onHostKeyPath(secretsDir, view.privateKeyFile ?? `${host}.age`);
  return view.interfaces.flatMap((entry) => {
    const header = generatedNotice(
      `${host} on proxy ${entry.name} (id ${entry.id}, ${entry.role})`,
    );
    const base = `${host}/50-wgqt-${entry.name}`;
    return [
      { path: `${base}.netdev`, content: netdev(entry, header, privateKeyFile, secretsDir) },
      { path: `${base}.network`, content: network(entry, header) },
    ];
  });
}

function netdev(
  entry: HostInterface,
  header: string[],
  privateKeyFile: string,
  secretsDir: string,
) {
  const wireguard: [string, string | number][] = [
    ["PrivateKeyFile", privateKeyFile],
    ["ListenPort", entry.listenPort],
  ];
  if (entry.routing !== undefined) wireguard.push(["FirewallMark", entry.routing.fwmark]);
  // Clients' AllowedIPs (0.0.0.0/0) go to the tunnel's own table, a gateway's /32s to main.
  wireguard.push(["RouteTable", entry.routing?.table ?? "main"]);
  const peers = entry.peers.map((peer): Section => {
    const entries: [string, string | number][] = [
      ["PublicKey", peer.publicKey],
      ["PresharedKeyFile", onHostKeyPath(secretsDir, peer.presharedKeyFile)],
      ["AllowedIPs", peer.allowedIPs.join(",")],
    ];
    if (peer.endpoint !== undefined) entries.push(["Endpoint", peer.endpoint]);
    if (peer.persistentKeepalive !== undefined) {
      entries.push(["PersistentKeepalive", peer.persistentKeepalive]);
    }
    return ["WireGuardPeer", entries, peer.machine];
  });
  return ini(
    [...header, "", "Key files must be readable by systemd-network (root:systemd-network, 0640)."],
    [
      [
        "NetDev",
        [
          ["Name", entry.name],
          ["Kind", "wireguard"],
          ["Description", `wgqt proxy ${entry.name}`],
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
