/**
 * What a mesh adds to a wg-quick file beyond its peers: a relay forwards
 * between members on its one interface (`FORWARD -i %i -o %i`); a member
 * with routed subnets forwards to and from them (`-i %i -d <subnet>`, `-o
 * %i -s <subnet>`) and, with `masquerade_routes`, masquerades the mesh's
 * block into them. No NAT otherwise. Pure.
 */
import type { HostInterface } from "../net/host.js";
import { appendRule } from "./common.js";

/** The header lines of a relay or a member with routed subnets. */
export function meshNotices(entry: HostInterface): string[] {
  return [
    ...(entry.forwards ? RELAY_NOTICE : []),
    ...(entry.routes !== undefined ? routesNotice(entry) : []),
  ];
}

const RELAY_NOTICE = [
  "",
  "Relay: forwards between the mesh members without an endpoint (IP forwarding, no NAT).",
];

function routesNotice(entry: HostInterface): string[] {
  return [
    "",
    ...(entry.masqueradeRoutes
      ? [
          `Routes: the mesh reaches ${entry.routes!.join(", ")} through this machine, masqueraded (masquerade_routes).`,
        ]
      : [
          `Routes: the mesh reaches ${entry.routes!.join(", ")} through this machine (forwarding, no NAT);`,
          `the router of that network needs a route back to ${[entry.cidr, ...(entry.cidr6 === undefined ? [] : [entry.cidr6])].join(" and ")} via this machine.`,
        ]),
  ];
}

/** PostUp and PostDown lines of a relay or a member with routed subnets. */
export function meshHooks(entry: HostInterface): [string[], string[]] {
  const up: string[] = [];
  const down: string[] = [];
  if (entry.routes !== undefined) {
    // Routed subnets behind this member: forwarded to and from the mesh, nothing else.
    for (const [command, sysctl, family] of [
      ["iptables", "net.ipv4.ip_forward", entry.routes.filter((route) => !route.includes(":"))],
      [
        "ip6tables",
        "net.ipv6.conf.all.forwarding",
        entry.routes.filter((route) => route.includes(":")),
      ],
    ] as const) {
      if (family.length === 0) continue;
      const block = command === "iptables" ? entry.cidr : entry.cidr6;
      const rules = family.flatMap((route) => [
        `FORWARD -i %i -d ${route} -j ACCEPT`,
        `FORWARD -o %i -s ${route} -j ACCEPT`,
        ...(entry.masqueradeRoutes && block !== undefined
          ? [`-t nat POSTROUTING -s ${block} -d ${route} -j MASQUERADE`]
          : []),
      ]);
      up.push(
        `sysctl -q -w ${sysctl}=1`,
        ...rules.map((rule) => `${command} ${appendRule(rule, "-A")}`),
      );
      down.push(...rules.map((rule) => `${command} ${appendRule(rule, "-D")}`));
    }
  }
  if (entry.forwards) {
    // A mesh relay: packets between two members arrive and leave on this interface.
    const rule = "FORWARD -i %i -o %i -j ACCEPT";
    up.push("sysctl -q -w net.ipv4.ip_forward=1", `iptables ${appendRule(rule, "-A")}`);
    down.push(`iptables ${appendRule(rule, "-D")}`);
    if (entry.cidr6 !== undefined) {
      up.push("sysctl -q -w net.ipv6.conf.all.forwarding=1", `ip6tables ${appendRule(rule, "-A")}`);
      down.push(`ip6tables ${appendRule(rule, "-D")}`);
    }
  }
  return [up, down];
}
