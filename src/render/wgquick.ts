/**
 * wg-quick(8) files: `<host>/<interface>.conf`, one per interface, for plain
 * Linux hosts (and, with `mobile`, the WireGuard apps). Never `SaveConfig`:
 * the file is generated, wg-quick must not write it back.
 *
 * Keys stay out of the file unless the caller exports them: `PostUp = wg set
 * %i private-key <file>` and `wg set %i peer … preshared-key <file>` (wg(8)
 * reads both from files) load them from the secrets directory; with `export`
 * (decrypted secrets handed in by the caller) they are inlined as PrivateKey /
 * PresharedKey and the file is the secret.
 *
 * A mesh relay forwards between members (`FORWARD -i %i -o %i`, no NAT).
 * Gateways forward and masquerade their block out of the uplink: the
 * machine's `uplink`, or else the interface of the main table's default route
 * as `ip -4 route show default` reports it when PostUp (and PostDown) runs.
 * Clients route by routing.ts: `Table`, `FwMark` and `ip rule`s in PostUp,
 * removed in PostDown unless the tunnel has the kill switch (then `wg-quick
 * down` leaves them, and the header prints the commands that lift it). If
 * the interface dies without `wg-quick down` the rules and the table's
 * unreachable default stay either way, so its traffic is dropped. PostUp also
 * sets src_valid_mark and inserts the connection-mark rules (routing.ts), so
 * replies pass reverse-path filtering; they stay after PostDown, shared by
 * every wgqt tunnel of the host. PostUp deletes each rule before adding it
 * (and checks iptables rules before adding them), so `wg-quick up` after such
 * a death works instead of failing on "File exists".
 *
 * VPNs are clients too, with the provider's key files
 * (`vpns/<name>.key`) and no ListenPort. The default tunnel's VPN sets `DNS =`
 * (wg-quick hands it to resolvconf(8)); every other default-route tunnel
 * creates its bridge in PostUp (routing.ts: SNAT into the tunnel, forwarding
 * allowed) and deletes it in PostDown. wg-quick strips Address, DNS, Table,
 * PostUp… before handing the rest to `wg setconf`.
 */
import { quote, WgqtError } from "../errors.js";
import { WIREGUARD_KEY } from "../keys/encoding.js";
import type { Bridge } from "../net/bridge.js";
import type { HostInterface } from "../net/host.js";
import {
  CONNECTION_MARK_RULES,
  hexMark,
  ipFamilyOption,
  ipRouteArguments,
  ipRuleArguments,
  iptablesMarkRule,
  liftKillSwitch,
  ROUTING_SYSCTLS,
} from "../net/routing.js";
import {
  appendRule,
  commentLines,
  describeInterface,
  generatedNotice,
  type HostRenderer,
  hostDns,
  hostInputs,
  interfaceKeyFile,
  onHostKeyPath,
  type SecretsDirOption,
  usesOwnKey,
} from "./common.js";
import { hostsFile } from "./hosts.js";
import { meshHooks, meshNotices } from "./wgquick-mesh.js";

/** Options of the wg-quick renderer. */
export interface WgQuickOptions extends SecretsDirOption {
  /**
   * Decrypted secrets to inline, keyed by store file name (`nyaa.age`,
   * `preshared_keys/lighthouse+nyaa.age`) → base64 key. Only for `--export`.
   */
  export?: Record<string, string>;
  /** For the WireGuard apps: no PostUp, Table or FwMark (requires `export`). */
  mobile?: boolean;
}

/** The default route's interface, evaluated by bash when the hook runs. */
export const DEFAULT_UPLINK =
  "$(ip -4 route show default | awk '{ for (i = 1; i < NF; i++) if ($i == \"dev\") { print $(i + 1); exit } }')";

/**
 * The default IPv6 route's interface, the same way; `lo` when there is none
 * (a gateway without IPv6 uplink: the rule stays valid, and the clients' IPv6
 * has nowhere to go but is never sent in the clear).
 */
export const DEFAULT_UPLINK6 =
  '$(ip -6 route show default | awk \'{ for (i = 1; i < NF; i++) if ($i == "dev" && dev == "") dev = $(i + 1) } END { print (dev == "" ? "lo" : dev) }\')';

/**
 * Render `host` as one wg-quick(8) `<interface>.conf` per interface, reading keys from `secretsDir`, or with them inlined (`export`).
 *
 * @throws {UsageError} when `host` is not a machine of `config`.
 * @throws {WgqtError} when `mobile` lacks `export`, an exported key is missing or not a key, `secretsDir` is invalid, or the host cannot be rendered (see `hostView` in `wgqt/net`).
 */
export const renderWgQuick: HostRenderer<WgQuickOptions> = (plan, config, host, options = {}) => {
  const { view, secretsDir } = hostInputs(plan, config, host, options);
  if (options.mobile && options.export === undefined) {
    throw new WgqtError(
      "render/mobile",
      "wg-quick: mobile configurations need the keys inlined (export)",
    );
  }
  const confs = view.interfaces.map((entry) => {
    if (options.mobile && entry.role === "gateway") {
      throw new WgqtError(
        "render/mobile",
        `wg-quick: ${quote(host)} is the gateway of ${quote(entry.name)}; mobile configurations are for clients`,
      );
    }
    // A phone has no fixed port (below): a mesh member others connect to cannot be one.
    if (options.mobile && entry.reachable) {
      throw new WgqtError(
        "render/mobile",
        `wg-quick: ${quote(host)} has an endpoint in mesh ${quote(entry.name)}; mobile configurations are for members without one`,
      );
    }
    const secret = (storeFile: string): string => {
      const value = options.export?.[storeFile]?.trim();
      if (value === undefined)
        throw new WgqtError("render/export", `export: missing the decrypted ${quote(storeFile)}`);
      // Never quote the value: it is a secret.
      if (!WIREGUARD_KEY.test(value))
        throw new WgqtError("render/export", `export: ${quote(storeFile)} is not a WireGuard key`);
      return value;
    };
    const inline = options.export !== undefined;
    const privateKeyFile = interfaceKeyFile(view, entry);
    const dns = options.mobile ? (entry.dns ?? []) : hostDns(entry);
    const lines = [
      // A phone's file becomes a QR code: every byte makes the code denser, so one line.
      options.mobile
        ? commentLines([`wgqt: ${describeInterface(host, entry)}`])
        : commentLines([
            ...generatedNotice(describeInterface(host, entry)),
            ...keyNotice(inline, secretsDir, privateKeyFile, usesOwnKey(view, entry)),
            ...(entry.role === "gateway" ? uplinkNotice(entry) : []),
            ...meshNotices(entry),
            ...(entry.routing?.table !== undefined ? routingNotice(entry) : []),
          ]),
      "[Interface]",
      `Address = ${[entry.addressWithPrefix, ...(entry.address6WithPrefix === undefined ? [] : [entry.address6WithPrefix])].join(", ")}`,
    ];
    // A phone roams behind NATs and only ever connects first: a fixed port buys it nothing.
    if (entry.listenPort !== undefined && !options.mobile)
      lines.push(`ListenPort = ${entry.listenPort}`);
    if (dns.length > 0) lines.push(`DNS = ${dns.join(", ")}`);
    // wg-quick(8) runs `ip link set mtu` with it; without, it picks the uplink's MTU − 80.
    if (entry.mtu !== undefined) lines.push(`MTU = ${entry.mtu}`);
    if (inline) lines.push(`PrivateKey = ${secret(privateKeyFile)}`);
    if (entry.routing !== undefined && !options.mobile) {
      lines.push(`FwMark = ${hexMark(entry.routing.fwmark)}`);
      if (entry.routing.table !== undefined) lines.push(`Table = ${entry.routing.table}`);
    }
    if (!options.mobile) {
      const [up, down] = hooks(entry, inline, secretsDir, privateKeyFile);
      lines.push(
        ...up.map((hook) => `PostUp = ${hook}`),
        ...down.map((hook) => `PostDown = ${hook}`),
      );
    }
    for (const peer of entry.peers) {
      const label = entry.kind === "vpn" ? `${peer.machine} (the provider's server)` : peer.machine;
      lines.push("", "[Peer]", `# ${label}`, `PublicKey = ${peer.publicKey}`);
      if (inline && peer.presharedKeyFile !== undefined)
        lines.push(`PresharedKey = ${secret(peer.presharedKeyFile)}`);
      lines.push(`AllowedIPs = ${peer.allowedIPs.join(", ")}`);
      if (peer.endpoint !== undefined) lines.push(`Endpoint = ${peer.endpoint}`);
      if (peer.persistentKeepalive !== undefined) {
        lines.push(`PersistentKeepalive = ${peer.persistentKeepalive}`);
      }
    }
    return { path: `${host}/${entry.name}.conf`, content: `${lines.join("\n")}\n`, mode: 0o600 };
  });
  // A phone has no /etc/hosts to install names into.
  return options.mobile ? confs : [...confs, ...hostsFile(view)];
};

function keyNotice(inline: boolean, secretsDir: string, storeFile: string, own: boolean): string[] {
  if (inline) return ["", "CONTAINS PRIVATE KEYS: keep it root-only (mode 0600) and off git."];
  return [
    "",
    `Keys are not in this file: PostUp loads them with \`wg set\` from ${secretsDir},`,
    "which mirrors the key store with .age files decrypted to .key (root-only, 0600), e.g.",
    own
      ? `  ${onHostKeyPath(secretsDir, storeFile)} holds this machine's own (bring-your-own) private key`
      : `  age -d -i /etc/ssh/ssh_host_ed25519_key ${storeFile} > ${onHostKeyPath(secretsDir, storeFile)}`,
  ];
}

function uplinkNotice(entry: HostInterface): string[] {
  return [
    "",
    entry.uplink === undefined
      ? `NAT: masquerades the block out of the default route's interface, found by \`ip -4 route show default\`${entry.cidr6 === undefined ? "" : " (IPv6: `ip -6 route show default`)"} when PostUp/PostDown run.`
      : `NAT: masquerades the block${entry.cidr6 === undefined ? "" : "s"} out of ${entry.uplink} (machines.<name>.uplink).`,
  ];
}

function routingNotice(entry: HostInterface): string[] {
  const routing = entry.routing!;
  const lines = [
    "",
    `Routing: table ${routing.table}, fwmark ${hexMark(routing.fwmark)}; ${
      routing.isDefault
        ? "this tunnel carries the default route"
        : `traffic from ${entry.address} uses this tunnel (ip rule), the default route another`
    }.`,
    "If the interface disappears, the table's unreachable default drops its traffic.",
    ...(routing.killswitch ? killSwitchNotice(entry) : []),
  ];
  if (routing.isDefault && (entry.dns ?? []).length > 0)
    lines.push("DNS: wg-quick hands the servers to resolvconf(8), which must be installed.");
  if (routing.bridge !== undefined) lines.push(...bridgeNotice(routing.bridge, entry.dns ?? []));
  return lines;
}

function killSwitchNotice(entry: HostInterface): string[] {
  return [
    `Kill switch (killswitch = true): \`wg-quick down ${entry.name}\` keeps the rules and the unreachable`,
    `default, so ${entry.routing!.isDefault ? "this machine's traffic beyond the LAN" : `traffic from ${entry.address}`} is dropped, not sent in the clear,`,
    `until \`wg-quick up ${entry.name}\`. To lift it without the tunnel, run as root:`,
    ...liftKillSwitch(entry.routing!).map((command) => `  ${command}`),
    "or set killswitch = false in wgqt.toml, render, and take the tunnel up and down once.",
  ];
}

function bridgeNotice(bridge: Bridge, dns: string[]): string[] {
  return [
    `Bridge ${bridge.name} (${bridge.address}/${bridge.prefixLength}): what is attached to it browses through`,
    `this tunnel only (SNAT to ${bridge.snatTo}); give it an address in ${bridge.cidr}, gateway ${bridge.address}${
      dns.length ? `, DNS ${dns.join(", ")}` : ""
    }.`,
    ...bridgeNotice6(bridge),
  ];
}

function bridgeNotice6(bridge: Bridge): string[] {
  if (bridge.cidr6 === undefined) return [];
  return bridge.snatTo6 === undefined
    ? [
        `IPv6: ${bridge.address6}/${bridge.prefixLength6}; this tunnel carries no IPv6, so what is attached`,
        "gets none beyond the bridge: it is dropped, never sent around the tunnel.",
      ]
    : [
        `IPv6: an address in ${bridge.cidr6}, gateway ${bridge.address6} (NAT66 to ${bridge.snatTo6}).`,
      ];
}

/** PostUp and PostDown lines: keys, gateway forwarding and NAT, a relay's forwarding, policy routing. */
function hooks(
  entry: HostInterface,
  inline: boolean,
  secretsDir: string,
  privateKeyFile: string,
): [string[], string[]] {
  const up: string[] = [];
  const down: string[] = [];
  if (!inline) {
    up.push(`wg set %i private-key ${onHostKeyPath(secretsDir, privateKeyFile)}`);
    for (const peer of entry.peers) {
      if (peer.presharedKeyFile === undefined) continue;
      up.push(
        `wg set %i peer ${peer.publicKey} preshared-key ${onHostKeyPath(secretsDir, peer.presharedKeyFile)}`,
      );
    }
  }
  if (entry.role === "gateway") {
    const uplink = entry.uplink ?? DEFAULT_UPLINK;
    const firewall = [
      "FORWARD -i %i -j ACCEPT",
      "FORWARD -o %i -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
      `-t nat POSTROUTING -s ${entry.cidr} -o ${uplink} -j MASQUERADE`,
    ];
    // ip_forward stays on after PostDown: other services may rely on it.
    up.push("sysctl -q -w net.ipv4.ip_forward=1");
    up.push(...firewall.map((rule) => `iptables ${appendRule(rule, "-A")}`));
    down.push(...firewall.map((rule) => `iptables ${appendRule(rule, "-D")}`));
    if (entry.cidr6 !== undefined) {
      // NAT66: the clients' ULA addresses leave as the uplink's own IPv6 address.
      const firewall6 = [
        ...firewall.slice(0, 2),
        `-t nat POSTROUTING -s ${entry.cidr6} -o ${entry.uplink ?? DEFAULT_UPLINK6} -j MASQUERADE`,
      ];
      up.push("sysctl -q -w net.ipv6.conf.all.forwarding=1");
      up.push(...firewall6.map((rule) => `ip6tables ${appendRule(rule, "-A")}`));
      down.push(...firewall6.map((rule) => `ip6tables ${appendRule(rule, "-D")}`));
    }
  }
  const [meshUp, meshDown] = meshHooks(entry);
  up.push(...meshUp);
  down.push(...meshDown);
  if (entry.routing !== undefined) {
    if (entry.routing.table !== undefined) {
      // routing.ts: replies must pass reverse-path filtering (wg-quick(8) sets src_valid_mark and
      // CONNMARK rules for its own fwmark too). Inserted first, ahead of a distribution's rpfilter
      // match; never removed: every wgqt tunnel of the host shares them, and they touch only
      // packets with a wgqt mark.
      up.push(
        ...Object.entries(ROUTING_SYSCTLS).map(([key, value]) => `sysctl -q -w ${key}=${value}`),
      );
      // Both families: an endpoint may be IPv6, and distributions filter IPv6 by reverse path in
      // the firewall (ip6tables rpfilter with the mark) where IPv4 has rp_filter.
      for (const command of ["iptables", "ip6tables"]) {
        for (const rule of CONNECTION_MARK_RULES) {
          const [table, chain, spec] = iptablesMarkRule(rule);
          up.push(
            `${command} -t ${table} -C ${chain} ${spec} 2>/dev/null || ${command} -t ${table} -I ${chain} ${spec}`,
          );
        }
      }
    }
    // With the kill switch PostDown keeps the rules and the unreachable default (routing.ts).
    const release = !entry.routing.killswitch;
    for (const rule of entry.routing.rules) {
      const selector = ipRuleArguments(rule);
      // Left behind when the interface died without PostDown: replace, do not fail.
      // wg-quick runs hooks under `set -e`: the delete must not fail the line.
      up.push(
        `ip ${ipFamilyOption(rule)} rule del ${selector} 2>/dev/null || true; ip ${ipFamilyOption(rule)} rule add ${selector}`,
      );
      if (release) down.push(`ip ${ipFamilyOption(rule)} rule del ${selector}`);
    }
    for (const route of entry.routing.routes) {
      const selector = ipRouteArguments(route);
      up.push(`ip ${ipFamilyOption(route)} route replace ${selector}`);
      if (release) down.push(`ip ${ipFamilyOption(route)} route del ${selector}`);
    }
    const bridge = entry.routing.bridge;
    if (bridge !== undefined) {
      const [bridgeUp, bridgeDown] = bridgeHooks(bridge);
      up.push(...bridgeUp);
      down.push(...bridgeDown);
    }
  }
  return [up, down];
}

/**
 * The bridge of a non-default tunnel (routing.ts): created if missing,
 * addressed, up; its subnet SNAT-ed to the tunnel's address and forwarded
 * into the tunnel (replies back), its IPv6 /64 likewise (NAT66) when the
 * tunnel has IPv6. PostDown removes all of it, so nothing
 * attached to a bridge whose tunnel was taken down can reach the uplink.
 */
function bridgeHooks(bridge: Bridge): [string[], string[]] {
  const firewall = [
    `-t nat POSTROUTING -s ${bridge.cidr} -o %i -j SNAT --to-source ${bridge.snatTo}`,
    `FORWARD -i ${bridge.name} -o %i -j ACCEPT`,
    `FORWARD -i %i -o ${bridge.name} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
  ];
  // NAT66 and IPv6 forwarding only when the tunnel has IPv6; without it the bridge's
  // IPv6 stays on the bridge (and its policy rule meets the unreachable default).
  const firewall6 =
    bridge.snatTo6 === undefined
      ? []
      : [
          `-t nat POSTROUTING -s ${bridge.cidr6} -o %i -j SNAT --to-source ${bridge.snatTo6}`,
          ...firewall.slice(1),
        ];
  const add = (command: string, rule: string) =>
    `${command} ${appendRule(rule, "-C")} 2>/dev/null || ${command} ${appendRule(rule, "-A")}`;
  const up = [
    `ip link show ${bridge.name} >/dev/null 2>&1 || ip link add ${bridge.name} type bridge`,
    `ip -4 address replace ${bridge.address}/${bridge.prefixLength} dev ${bridge.name}`,
    ...(bridge.cidr6 === undefined
      ? []
      : [
          `ip -6 address replace ${bridge.address6}/${bridge.prefixLength6} dev ${bridge.name} nodad`,
        ]),
    `ip link set ${bridge.name} up`,
    "sysctl -q -w net.ipv4.ip_forward=1",
    ...firewall.map((rule) => add("iptables", rule)),
    ...(firewall6.length === 0 ? [] : ["sysctl -q -w net.ipv6.conf.all.forwarding=1"]),
    ...firewall6.map((rule) => add("ip6tables", rule)),
  ];
  const down = [
    ...firewall.map((rule) => `iptables ${appendRule(rule, "-D")}`),
    ...firewall6.map((rule) => `ip6tables ${appendRule(rule, "-D")}`),
    `ip link del ${bridge.name}`,
  ];
  return [up, down];
}
