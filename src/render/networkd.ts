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
 * attached) and `IPMasquerade=ipv4`: what leaves the bridge
 * subnet is masqueraded to the address of the interface it leaves by — the
 * tunnel's, since the policy rule sends it there.
 *
 * A host with policy-routed tunnels also gets what networkd cannot do
 * (`routingFiles`): `sysctl.d/50-wgqt.conf`, `system/wgqt-connmark.service`
 * (routing.ts's connection marks, with nft(8)), and for tunnels with the kill
 * switch `system/wgqt-killswitch.service` and
 * `networkd.conf.d/50-wgqt.conf`; their rules and routes then live there
 * instead of in the tunnel's `.network`.
 */
import type { Config } from "../config/types.js";
import { type HostInterface, hostView } from "../net/host.js";
import type { Plan } from "../net/plan.js";
import {
  type Bridge,
  type IpRule,
  ipRouteArguments,
  ipRuleArguments,
  liftKillSwitch,
  NFT_TABLE,
  needsConnectionMarks,
  nftConnectionMarkScript,
  ROUTING_SYSCTLS,
} from "../net/routing.js";
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

/** Options of the systemd-networkd renderer. */
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

/**
 * Render `host` as systemd-networkd `.netdev`/`.network` files, plus its sysctl and, when it routes, the kill-switch and connmark units.
 *
 * @returns Paths relative to the output directory, each under `<host>/`.
 * @throws {UsageError} when `host` is not a machine of `config`.
 * @throws {WgqtError} when `secretsDir` is not an absolute path without shell characters, or the host cannot be rendered (see {@link hostView}).
 */
export function renderNetworkd(
  plan: Plan,
  config: Config,
  host: string,
  options: NetworkdOptions = {},
): RenderedFile[] {
  const secretsDir = checkSecretsDir(options.secretsDir ?? DEFAULT_SECRETS_DIR);
  const view = hostView(plan, config, host);
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
  return [...files, ...routingFiles(host, view.interfaces)];
}

/** Where the host-wide files go, relative to the host's directory (as under /etc). */
export const SYSCTL_FILE = "sysctl.d/50-wgqt.conf";
export const CONNECTION_MARK_UNIT = "system/wgqt-connmark.service";
export const KILL_SWITCH_UNIT = "system/wgqt-killswitch.service";
export const NETWORKD_DROP_IN = "networkd.conf.d/50-wgqt.conf";

const unitName = (path: string) => path.slice(path.lastIndexOf("/") + 1);

/**
 * What networkd cannot do for policy-routed tunnels (routing.ts), as files for
 * /etc: the sysctl that lets the reverse-path check use marks
 * (sysctl.d(5)); a unit loading the connection-mark rules with nft(8); and,
 * for tunnels with the kill switch, a unit holding their rules and
 * unreachable defaults outside networkd (which drops a link's own
 * [RoutingPolicyRule]s and [Route]s when the link goes down or away), with
 * networkd.conf(5) told to leave such foreign rules and routes alone.
 */
function routingFiles(host: string, interfaces: HostInterface[]): RenderedFile[] {
  const routed = interfaces.flatMap((entry) =>
    entry.routing === undefined ? [] : [entry.routing],
  );
  if (!needsConnectionMarks(routed)) return [];
  const install = (destination: string, enable?: string) => [
    "",
    `Copy to ${destination}${enable === undefined ? "" : `, then: systemctl enable --now ${enable}`}.`,
  ];
  const sysctl = [
    commentLines([
      ...generatedNotice(`${host}'s kernel settings for its policy-routed tunnels`),
      ...install(`/etc/sysctl.d/${unitName(SYSCTL_FILE)}`),
      "The reverse-path check (rp_filter) uses a packet's mark, which wgqt-connmark.service",
      "restores on its tunnels' replies (ip-sysctl.rst src_valid_mark).",
    ]),
    ...Object.entries(ROUTING_SYSCTLS).map(([key, value]) => `${key} = ${value}`),
  ];
  const files: RenderedFile[] = [
    { path: `${host}/${SYSCTL_FILE}`, content: `${sysctl.join("\n")}\n` },
    {
      path: `${host}/${CONNECTION_MARK_UNIT}`,
      content: ini(
        [
          ...generatedNotice(`${host}'s connection marks for reverse-path filtering`),
          ...install(
            `/etc/systemd/system/${unitName(CONNECTION_MARK_UNIT)}`,
            unitName(CONNECTION_MARK_UNIT),
          ),
          "A tunnel's encrypted replies arrive unmarked; without the mark their reverse-path",
          "check would route back into the default tunnel and fail (strict rp_filter always,",
          "loose whenever that tunnel is down). This saves the mark of wgqt's UDP to the",
          `connection and restores it on arrival (the nft table ${NFT_TABLE}). nftables.service`,
          "may flush the whole ruleset: stopping, restarting or reloading it does the same here.",
        ],
        [
          [
            "Unit",
            [
              [
                "Description",
                "wgqt: WireGuard replies keep their tunnel's mark (reverse-path filtering)",
              ],
              ["DefaultDependencies", "no"],
              ["Wants", "network-pre.target"],
              ["Before", "network-pre.target"],
              ["After", "nftables.service"],
              ["PartOf", "nftables.service"],
              ["ReloadPropagatedFrom", "nftables.service"],
            ],
          ],
          [
            "Service",
            [
              ["Type", "oneshot"],
              ["RemainAfterExit", "yes"],
              // systemd.exec(5): the script on standard input, so the unit is the one file to copy.
              ["StandardInput", "data"],
              ...nftConnectionMarkScript().map((line): [string, string] => [
                "StandardInputText",
                line.trim(),
              ]),
              ["ExecStart", "nft -f -"],
              ["ExecReload", "nft -f -"],
              ["ExecStop", `-nft delete table ${NFT_TABLE}`],
            ],
          ],
          ["Install", [["WantedBy", "multi-user.target"]]],
        ],
      ),
    },
  ];
  const locked = interfaces.filter((entry) => entry.routing?.killswitch === true);
  if (locked.length === 0) return files;
  const start: [string, string][] = [];
  const stop: [string, string][] = [];
  for (const entry of locked) {
    for (const rule of entry.routing!.rules) {
      const selector = ipRuleArguments(rule);
      start.push(
        ["ExecStart", `-ip -4 rule del ${selector}`],
        ["ExecStart", `ip -4 rule add ${selector}`],
      );
    }
    for (const route of entry.routing!.routes) {
      start.push(["ExecStart", `ip -4 route replace ${ipRouteArguments(route)}`]);
    }
    stop.push(
      ...liftKillSwitch(entry.routing!).map((command): [string, string] => [
        "ExecStop",
        `-${command}`,
      ]),
    );
  }
  const names = locked.map((entry) => entry.name).join(", ");
  files.push(
    {
      path: `${host}/${KILL_SWITCH_UNIT}`,
      content: ini(
        [
          ...generatedNotice(`${host}'s kill switch for ${names}`),
          ...install(
            `/etc/systemd/system/${unitName(KILL_SWITCH_UNIT)}`,
            unitName(KILL_SWITCH_UNIT),
          ),
          `The policy rules and unreachable defaults of ${names} (killswitch = true), held here`,
          "rather than in the tunnels' .network files: networkd removes a link's own rules and",
          "routes when the link goes down, and the tunnels' traffic would then leave in the clear.",
          "From boot on, that traffic goes through its tunnel or nowhere, also after",
          "`networkctl down` or with the link deleted. To lift it: systemctl stop",
          `${unitName(KILL_SWITCH_UNIT)} (until the next boot; disable it to keep it off), or set`,
          "killswitch = false in wgqt.toml and render again.",
        ],
        [
          [
            "Unit",
            [
              [
                "Description",
                `wgqt kill switch: traffic of ${names} leaves through the tunnel or not at all`,
              ],
              ["DefaultDependencies", "no"],
              ["Wants", "network-pre.target"],
              ["Before", "network-pre.target systemd-networkd.service"],
            ],
          ],
          ["Service", [["Type", "oneshot"], ["RemainAfterExit", "yes"], ...start, ...stop]],
          ["Install", [["WantedBy", "multi-user.target"]]],
        ],
      ),
    },
    {
      path: `${host}/${NETWORKD_DROP_IN}`,
      content: ini(
        [
          ...generatedNotice(`${host}'s networkd settings for its kill switch`),
          ...install(`/etc/systemd/networkd.conf.d/${unitName(NETWORKD_DROP_IN)}`),
          `networkd.conf(5): keep the rules and routes of ${unitName(KILL_SWITCH_UNIT)}, which networkd`,
          "would otherwise remove as foreign when it starts.",
        ],
        [
          [
            "Network",
            [
              ["ManageForeignRoutingPolicyRules", "no"],
              ["ManageForeignRoutes", "no"],
            ],
          ],
        ],
      ),
    },
  );
  return files;
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
  if (entry.routing?.killswitch === true) {
    return ini(
      [
        ...header,
        "",
        `Kill switch: this tunnel's rules and unreachable default are in ${KILL_SWITCH_UNIT},`,
        "so they stay when the link goes down.",
      ],
      sections,
    );
  }
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
