/**
 * The systemd units of a NixOS host with policy-routed tunnels (routing.ts):
 * `wgqt-connmark` loads the connection-mark rules, `wgqt-routing` holds what
 * must stay whatever the tunnels do (the kill switch's rules and unreachable
 * routes, the bridges' firewall rules), and `wgqt-routing-<net>` the rules of
 * each tunnel without the kill switch. Their scripts refer to `useNetworkd`,
 * bound at the top of the host's module (nixos.ts).
 */
import type { HostInterface, HostView } from "../net/host.js";
import {
  ipFamilyOption,
  ipRouteArguments,
  ipRuleArguments,
  NFT_TABLE,
  nftConnectionMarkScript,
} from "../net/routing.js";
import { byteOrder } from "../order.js";
import { NixCall, NixExpression, NixLines, type NixValue, nixString } from "./nix-syntax.js";

/**
 * The routing units of a host with policy-routed tunnels: `wgqt-connmark`;
 * `wgqt-routing` for what must hold whatever the tunnels do (the kill switch,
 * the bridges' firewall rules); `wgqt-routing-<net>` for each tunnel without
 * the kill switch.
 */
export function routingServices(view: HostView, routed: HostInterface[]): Record<string, NixValue> {
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
    start.push(
      `ip ${ipFamilyOption(rule)} rule del ${selector} 2>/dev/null || true`,
      `ip ${ipFamilyOption(rule)} rule add ${selector}`,
    );
    stop.push(`ip ${ipFamilyOption(rule)} rule del ${selector} || true`);
  }
  for (const route of entry.routing!.routes) {
    const selector = ipRouteArguments(route);
    start.push(`ip ${ipFamilyOption(route)} route replace ${selector}`);
    stop.push(`ip ${ipFamilyOption(route)} route del ${selector} || true`);
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
      const forward = [
        `FORWARD -i ${bridge.name} -o ${entry.name} -j ACCEPT`,
        `FORWARD -i ${entry.name} -o ${bridge.name} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
      ];
      const rules: [command: string, rule: string][] = [
        [
          "iptables",
          `-t nat POSTROUTING -s ${bridge.cidr} -o ${entry.name} -j SNAT --to-source ${bridge.snatTo}`,
        ],
        ...forward.map((rule): [string, string] => ["iptables", rule]),
      ];
      // NAT66 only when the tunnel has IPv6; without it the bridge's IPv6 meets the unreachable default.
      if (bridge.snatTo6 !== undefined) {
        rules.push(
          [
            "ip6tables",
            `-t nat POSTROUTING -s ${bridge.cidr6} -o ${entry.name} -j SNAT --to-source ${bridge.snatTo6}`,
          ],
          ...forward.map((rule): [string, string] => ["ip6tables", rule]),
        );
      }
      for (const [command, rule] of rules) {
        const [table, chain] = rule.startsWith("-t nat ") ? ["-t nat ", rule.slice(7)] : ["", rule];
        start.push(`${command} ${table}-C ${chain} 2>/dev/null || ${command} ${table}-A ${chain}`);
        stop.push(`${command} ${table}-D ${chain} || true`);
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
        .sort(byteOrder)
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
