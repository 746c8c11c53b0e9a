/**
 * The routing model for every default-route tunnel on one host (proxy clients
 * and VPNs; docs/design.md "Routing model"). A tunnel that carries 0.0.0.0/0
 * never touches the main table: like wg-quick(8)'s `Table = auto` it gets its own
 * routing table and firewall mark (wg(8) `fwmark`: set on the tunnel's own
 * encrypted UDP), and `ip rule`s pick the table:
 *
 *   priority 10000        from all lookup main suppress_prefixlength 0
 *                         (specific routes — LAN, the tunnels' own blocks — still win)
 *   priority 11000 + key  from <tunnel address> lookup <table>
 *                         (policy: traffic sourced from a tunnel's address uses that tunnel)
 *   priority 12000 + key  not from all fwmark 0x520000/0xfffc00 lookup <table>
 *                         (the default tunnel only: everything not encrypted by a wgqt tunnel)
 *
 * Every wgqt interface on such a host, a gateway's too, marks its packets
 * inside 0x520000/0xfffc00, so one mask keeps all of them out of every tunnel
 * whatever order the tunnels come up in — a tunnel configured after the
 * default one must not send its handshake through it (wg-quick's one
 * `not fwmark 51820` only knows its own interface).
 *
 * Each tunnel's table also holds `unreachable default metric 4294967295`:
 * when the interface is gone its traffic is dropped, never leaked to the main
 * table's default route.
 *
 * Reverse-path filtering (ip-sysctl.rst `rp_filter`: 1 strict, 2 loose; the
 * default of systemd's sysctl.d and of most distributions) checks each
 * arriving packet by routing its source back. A tunnel's encrypted UDP
 * arrives unmarked on the uplink, so that lookup meets the `not fwmark` rule
 * and the default tunnel's table: strict mode drops it (another interface),
 * loose mode drops it once that tunnel is gone (only the unreachable default
 * left) — every other tunnel of the host stops with it. So, as wg-quick(8)
 * does for its own default route, the mark goes with the connection: leaving,
 * a packet whose mark carries FWMARK_BASE inside FWMARK_MASK gives those bits
 * to its conntrack entry; arriving, a packet of such a connection gets them
 * back before routing, and `net.ipv4.conf.all.src_valid_mark=1` makes the
 * reverse lookup use the mark (then it skips the tunnels and finds the
 * uplink). Only the bits of FWMARK_MASK are touched, so one pair of rules
 * (CONNECTION_MARK_RULES) serves every wgqt interface and leaves other marks
 * alone.
 *
 * Kill switch (`killswitch`, on by default for VPNs, off for proxies): a
 * tunnel taken down on purpose keeps its rules and unreachable default, so
 * what it carried is dropped until it is up again or the block is lifted
 * (`liftKillSwitch`: the commands that remove them); without it, a deliberate
 * down removes them and plain routing returns.
 *
 * The order matters: every priority is positive; the default tunnel's
 * catch-all (12000 + key) comes after every source rule (11000 + key), the
 * bridges' included, so those rules are reached; and it skips every wgqt
 * mark, so no tunnel's encrypted packets are sent into another tunnel.
 *
 * Numbers derive from a `key` unique across tunnel kinds: a VPN's id (1…99)
 * or 100 + a proxy's network id. Table 52000 + key (decimal, as
 * `ip route show table` prints it), fwmark 0x520000 + key (hex, as `ip rule`
 * and `wg` print it). The default tunnel is the one marked `default = true`,
 * else the lowest key — so a VPN beats a proxy unless a proxy says otherwise.
 *
 * Every other default-route tunnel gets a bridge (`br-<name>`,
 * 10.20.<key>.1/24): whatever is attached to it — a container, a namespace —
 * has its traffic routed into that tunnel by source (`from 10.20.<key>.0/24`
 * at priority 11000 + key) and SNAT-ed to the tunnel's address, so it browses
 * through that tunnel only; the table's unreachable default drops it when the
 * tunnel is gone. Bridge names must fit IFNAMSIZ too: `br-<name>` when that is
 * at most 15 characters, else `br-` + the name's first 7 characters + `-` + 4
 * hex digits of SHA-256(name) (`br-mullvad-3f2a`). Keys above 255 continue the
 * subnets past 10.20.255.0 into 10.21–10.23 (10.20.0.0 + key × 256).
 *
 * A bridge is dual-stack (bridge.ts) unless its tunnel is a proxy with `ipv6 =
 * false`: `<fleet prefix>:b<key>::1/64`, `from <that /64>` at the same
 * priority, NAT66 to the tunnel's IPv6 address. When the tunnel carries no
 * IPv6 (a provider without it) there is no NAT66 and no IPv6 forwarding for
 * it, and the rule meets only the table's unreachable default: what is
 * attached has no IPv6 beyond the bridge, and none of it leaks.
 */
import { ConfigError, quote } from "../errors.js";
import { type Bridge, bridgeFor } from "./bridge.js";
import { FWMARK_BASE, FWMARK_MASK, hexMark } from "./marks.js";

// The connection marks and their netfilter rules live in marks.ts; exported here as before.
export {
  CONNECTION_MARK_RULES,
  FWMARK_BASE,
  FWMARK_MASK,
  hexMark,
  iptablesMarkRule,
  type MarkRule,
  NFT_TABLE,
  nftConnectionMarkScript,
  nftMarkRule,
} from "./marks.js";

/**
 * What a routed interface is: one of the fleet's proxies or meshes (which
 * share network ids, so routing keys), or a provider's VPN.
 */
export type TunnelKind = "proxy" | "vpn" | "mesh";

/** One WireGuard interface on a host, as the routing model needs to see it. */
export interface RoutedInterface {
  /** Interface name (the network's name). */
  name: string;
  kind: TunnelKind;
  /** The network id (proxy) or the configured id (VPN). */
  id: number;
  /** This host's address on the interface, no prefix. */
  address: string;
  /** This host's IPv6 address on the interface, when the tunnel has one. */
  address6?: string;
  /** Carries 0.0.0.0/0 (a proxy client, a VPN); false for a gateway's listener. */
  carriesDefaultRoute: boolean;
  /** `default = true` in wgqt.toml. */
  preferred?: boolean;
  /**
   * The fleet's IPv6 prefix, from which this tunnel's bridge (if it gets one)
   * takes its /64; absent, the bridge is IPv4 only (a proxy with `ipv6 = false`).
   */
  ipv6Prefix?: string;
  /** More sources routed into this tunnel (a bridge subnet), CIDR or address. */
  extraSources?: string[];
  /** Keep the rules and the unreachable default when the tunnel is taken down on purpose. */
  killswitch?: boolean;
}

/** Which `ip` a rule or route is for: `ip -4` or `ip -6` (systemd.network(5) `Family=`). */
export type IpFamily = "ipv4" | "ipv6";

/** A policy routing rule, as `ip rule` takes it. */
export interface IpRule {
  family: IpFamily;
  priority: number;
  /** `not`: the rule matches what the selector does not. */
  invert?: boolean;
  from?: string;
  fwmark?: number;
  /** Mask for `fwmark`: `fwmark <mark>/<mask>`. */
  fwmarkMask?: number;
  table: number | "main";
  suppressPrefixLength?: number;
}

/** A route in a tunnel's own table: the kill switch's unreachable default. */
export interface IpRoute {
  family: IpFamily;
  type: "unreachable";
  destination: "0.0.0.0/0" | "::/0";
  table: number;
  metric: number;
}

/**
 * The policy routing of one interface: its table, fwmark, rules and, when it is not the default tunnel, its bridge.
 */
export interface InterfaceRouting {
  name: string;
  key: number;
  /** wg(8) `fwmark` for the interface's own UDP packets. */
  fwmark: number;
  /** The table its AllowedIPs routes go to; undefined for a listener (routes stay in main). */
  table?: number;
  /** Carries the host's default route. */
  isDefault: boolean;
  /** In priority order. */
  rules: IpRule[];
  routes: IpRoute[];
  /** Default-route tunnels that are not the default: the bridge into this tunnel. */
  bridge?: Bridge;
  /** A tunnel with a table: its rules and routes outlive a deliberate down (see the module comment). */
  killswitch: boolean;
}

/** Routing tables are `TABLE_BASE + key`. */
export const TABLE_BASE = 52000;
export const PRIORITY_SUPPRESS_MAIN = 10000;
export const PRIORITY_FROM_BASE = 11000;
export const PRIORITY_DEFAULT_BASE = 12000;
/** Keys stay below 1000 so the priority bands never overlap (all under main's 32766). */
export const MAX_KEY = 999;
/** The largest metric: the kill switch loses to any real route. */
export const UNREACHABLE_METRIC = 4294967295;

/**
 * Kernel settings a host with policy-routed tunnels needs: the reverse-path
 * check must see the restored mark (ip-sysctl.rst `src_valid_mark`; wg-quick(8)
 * sets it for its own fwmark routing too).
 */
export const ROUTING_SYSCTLS: Readonly<Record<string, number>> = {
  "net.ipv4.conf.all.src_valid_mark": 1,
};

/** Whether the host needs CONNECTION_MARK_RULES and ROUTING_SYSCTLS: some tunnel has a table. */
export function needsConnectionMarks(routing: readonly (InterfaceRouting | undefined)[]): boolean {
  return routing.some((entry) => entry?.table !== undefined);
}

/**
 * The key numbers derive from: VPN ids 1…99 as they are, proxies above them.
 *
 * @throws {ConfigError} when `id` is out of range for `kind`.
 */
export function routingKey(kind: TunnelKind, id: number): number {
  const key = kind === "vpn" ? id : 100 + id;
  if (!Number.isInteger(key) || key < 1 || key > MAX_KEY || (kind === "vpn" && id > 99)) {
    throw new ConfigError(
      "config/invalid",
      `${kind} id ${quote(id)}: policy routing supports VPN ids 1…99 and proxy ids 0…${MAX_KEY - 100}`,
    );
  }
  return key;
}

/**
 * Routing for every WireGuard interface on one host. Empty when no interface
 * carries a default route (a pure gateway needs nothing beyond main). Once one
 * does, every interface gets a fwmark so its own packets bypass the tunnels.
 *
 * @throws {ConfigError} when two interfaces are `default = true` or share a routing key, or an id is out of range.
 */
export function hostRouting(interfaces: RoutedInterface[]): InterfaceRouting[] {
  const tunnels = interfaces.filter((entry) => entry.carriesDefaultRoute);
  if (tunnels.length === 0) return [];
  const keyed = interfaces
    .map((entry) => ({ entry, key: routingKey(entry.kind, entry.id) }))
    .sort((a, b) => a.key - b.key);
  for (let index = 1; index < keyed.length; index++) {
    if (keyed[index]!.key === keyed[index - 1]!.key) {
      throw new ConfigError(
        "config/conflict",
        `interfaces ${quote(keyed[index - 1]!.entry.name)} and ${quote(keyed[index]!.entry.name)} share routing key ${keyed[index]!.key}`,
      );
    }
  }
  const defaultName = defaultTunnel(tunnels);
  const names = new Set(interfaces.map((entry) => entry.name));
  const routed = keyed.map(({ entry, key }): InterfaceRouting => {
    const fwmark = FWMARK_BASE + key;
    const isDefault = entry.name === defaultName;
    if (!entry.carriesDefaultRoute)
      return { name: entry.name, key, fwmark, isDefault, rules: [], routes: [], killswitch: false };
    const table = TABLE_BASE + key;
    const rules: IpRule[] = [];
    if (isDefault) {
      rules.push({
        family: "ipv4",
        priority: PRIORITY_SUPPRESS_MAIN,
        table: "main",
        suppressPrefixLength: 0,
      });
    }
    const bridge = isDefault
      ? undefined
      : bridgeFor(
          entry.name,
          key,
          entry.address,
          entry.ipv6Prefix === undefined
            ? undefined
            : {
                prefix: entry.ipv6Prefix,
                ...(entry.address6 === undefined ? {} : { tunnelAddress6: entry.address6 }),
              },
        );
    if (bridge !== undefined && names.has(bridge.name)) {
      throw new ConfigError(
        "config/conflict",
        `the bridge of ${quote(entry.name)} would be called ${quote(bridge.name)}, the name of another interface on the host; rename one`,
      );
    }
    if (bridge !== undefined) names.add(bridge.name);
    const sources = [
      entry.address,
      ...(bridge ? [bridge.cidr] : []),
      ...(entry.extraSources ?? []),
    ];
    for (const from of sources) {
      rules.push({ family: "ipv4", priority: PRIORITY_FROM_BASE + key, from, table });
    }
    if (isDefault) {
      rules.push({
        family: "ipv4",
        priority: PRIORITY_DEFAULT_BASE + key,
        invert: true,
        fwmark: FWMARK_BASE,
        fwmarkMask: FWMARK_MASK,
        table,
      });
    }
    // IPv6 the same way, whether or not the tunnel carries it: a tunnel without IPv6 (no
    // address, a provider without ::/0) leaves only the unreachable default, so the host's
    // IPv6, and its bridge's, is dropped rather than sent around the tunnel.
    const rules6 = rules
      .filter((rule) => rule.from === undefined || rule.from === entry.address)
      .flatMap((rule): IpRule[] => {
        if (rule.from === undefined) return [{ ...rule, family: "ipv6" }];
        return [
          ...(entry.address6 === undefined
            ? []
            : [{ ...rule, family: "ipv6" as const, from: entry.address6 }]),
          ...(bridge?.cidr6 === undefined
            ? []
            : [{ ...rule, family: "ipv6" as const, from: bridge.cidr6 }]),
        ];
      });
    rules.push(...rules6);
    const routes: IpRoute[] = [
      {
        family: "ipv4",
        type: "unreachable",
        destination: "0.0.0.0/0",
        table,
        metric: UNREACHABLE_METRIC,
      },
      {
        family: "ipv6",
        type: "unreachable",
        destination: "::/0",
        table,
        metric: UNREACHABLE_METRIC,
      },
    ];
    return {
      name: entry.name,
      key,
      fwmark,
      table,
      isDefault,
      rules,
      routes,
      ...(bridge ? { bridge } : {}),
      killswitch: entry.killswitch === true,
    };
  });
  return routed;
}

/** `default = true` wins; otherwise the lowest key. Two preferred tunnels are an error. */
function defaultTunnel(tunnels: RoutedInterface[]): string {
  const preferred = tunnels.filter((entry) => entry.preferred === true);
  if (preferred.length > 1) {
    throw new ConfigError(
      "config/conflict",
      `${preferred.map((entry) => quote(entry.name)).join(" and ")} are both default = true on one host; choose one`,
    );
  }
  if (preferred.length === 1) return preferred[0]!.name;
  return [...tunnels].sort((a, b) => routingKey(a.kind, a.id) - routingKey(b.kind, b.id))[0]!.name;
}

/** `-4` or `-6`: the `ip` option for a rule's or route's family. */
export function ipFamilyOption(entry: { family: IpFamily }): "-4" | "-6" {
  return entry.family === "ipv6" ? "-6" : "-4";
}

/** The arguments after `ip -4|-6 rule add|del`, in iproute2's own order. */
export function ipRuleArguments(rule: IpRule): string {
  const words = [`priority ${rule.priority}`];
  if (rule.invert) words.push("not");
  words.push(`from ${rule.from ?? "all"}`);
  if (rule.fwmark !== undefined) words.push(`fwmark ${hexMark(rule.fwmark, rule.fwmarkMask)}`);
  words.push(`lookup ${rule.table}`);
  if (rule.suppressPrefixLength !== undefined) {
    words.push(`suppress_prefixlength ${rule.suppressPrefixLength}`);
  }
  return words.join(" ");
}

/** The arguments after `ip -4|-6 route add|del`. */
export function ipRouteArguments(route: IpRoute): string {
  const destination =
    route.destination === "0.0.0.0/0" || route.destination === "::/0"
      ? "default"
      : route.destination;
  return `${route.type} ${destination} metric ${route.metric} table ${route.table}`;
}

/** `ip -4|-6 rule del …` and `ip -4|-6 route del …` for a tunnel's rules and routes: what lifts its kill switch. */
export function liftKillSwitch(routing: InterfaceRouting): string[] {
  return [
    ...routing.rules.map((rule) => `ip ${ipFamilyOption(rule)} rule del ${ipRuleArguments(rule)}`),
    ...routing.routes.map(
      (route) => `ip ${ipFamilyOption(route)} route del ${ipRouteArguments(route)}`,
    ),
  ];
}
