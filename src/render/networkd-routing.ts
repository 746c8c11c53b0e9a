/**
 * What systemd-networkd cannot do for a host's policy-routed tunnels, as
 * files for /etc next to its `.netdev` and `.network` files (networkd.ts).
 */
import type { HostInterface } from "../net/host.js";
import {
  ipRouteArguments,
  ipRuleArguments,
  liftKillSwitch,
  NFT_TABLE,
  needsConnectionMarks,
  nftConnectionMarkScript,
  ROUTING_SYSCTLS,
} from "../net/routing.js";
import { commentLines, generatedNotice, type RenderedFile } from "./common.js";
import { ini } from "./unit-file.js";

/** Where the host-wide files go, relative to the host's directory (as under /etc). */
export const SYSCTL_FILE = "sysctl.d/50-wgqt.conf";
export const CONNECTION_MARK_UNIT = "system/wgqt-connmark.service";
export const KILL_SWITCH_UNIT = "system/wgqt-killswitch.service";
export const NETWORKD_DROP_IN = "networkd.conf.d/50-wgqt.conf";

const unitName = (path: string) => path.slice(path.lastIndexOf("/") + 1);

/**
 * What networkd cannot do for policy-routed tunnels (routing.ts), as files for
 * /etc: the sysctl that lets the reverse-path check use marks
 * (sysctl.d(5)); a unit loading the connection-mark rules with nft(8); and
 * units holding the tunnels' rules and unreachable defaults outside networkd,
 * which drops a link's own [RoutingPolicyRule]s and [Route]s when the link goes
 * down or away (the traffic would then leave in the clear): one for the
 * tunnels with the kill switch, one per other tunnel (stopped to take it down
 * on purpose), with networkd.conf(5) told to leave such foreign rules and
 * routes alone.
 */
export function routingFiles(host: string, interfaces: HostInterface[]): RenderedFile[] {
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
  const held = interfaces.filter(
    (entry) =>
      entry.routing !== undefined && entry.routing.rules.length + entry.routing.routes.length > 0,
  );
  if (held.length === 0) return files;
  const locked = held.filter((entry) => entry.routing!.killswitch);
  if (locked.length > 0) {
    const names = locked.map((entry) => entry.name).join(", ");
    files.push(
      rulesUnit(host, KILL_SWITCH_UNIT, locked, {
        subject: `kill switch for ${names}`,
        description: `wgqt kill switch: traffic of ${names} leaves through the tunnel or not at all`,
        explanation: [
          `The policy rules and unreachable defaults of ${names} (killswitch = true), held here`,
          "rather than in the tunnels' .network files: networkd removes a link's own rules and",
          "routes when the link goes down, and the tunnels' traffic would then leave in the clear.",
          "From boot on, that traffic goes through its tunnel or nowhere, also after",
          "`networkctl down` or with the link deleted. To lift it: systemctl stop",
          `${unitName(KILL_SWITCH_UNIT)} (until the next boot; disable it to keep it off), or set`,
          "killswitch = false in wgqt.toml and render again.",
        ],
      }),
    );
  }
  for (const entry of held.filter((entry) => !entry.routing!.killswitch)) {
    const unit = routingUnit(entry.name);
    files.push(
      rulesUnit(host, unit, [entry], {
        subject: `routing for ${entry.name}`,
        description: `wgqt routing of ${entry.name}: its traffic leaves through the tunnel, dropped while the link is gone`,
        explanation: [
          `The policy rules and unreachable default of ${entry.name}, held here rather than in its`,
          ".network file: networkd removes a link's own rules and routes when the link goes down",
          "or away, and the tunnel's traffic would then leave in the clear. While this unit runs,",
          "that traffic goes through the tunnel or nowhere, also with the link deleted. To take",
          "the tunnel down on purpose and route as if it were not there (killswitch = false):",
          `networkctl down ${entry.name} && systemctl stop ${unitName(unit)}`,
          `and back: systemctl start ${unitName(unit)} && networkctl up ${entry.name}.`,
        ],
      }),
    );
  }
  files.push({
    path: `${host}/${NETWORKD_DROP_IN}`,
    content: ini(
      [
        ...generatedNotice(`${host}'s networkd settings for its policy-routed tunnels`),
        ...install(`/etc/systemd/networkd.conf.d/${unitName(NETWORKD_DROP_IN)}`),
        "networkd.conf(5): keep the rules and routes of wgqt's units (system/), which networkd",
        "would otherwise remove as foreign when it starts. networkd reads this file when it",
        "starts: after installing or changing it, systemctl restart systemd-networkd.",
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
  });
  return files;
}

/** `system/wgqt-routing-<net>.service`: the rules of a tunnel without the kill switch. */
export function routingUnit(network: string): string {
  return `system/wgqt-routing-${network}.service`;
}

/** A oneshot unit that adds tunnels' rules and unreachable defaults when it starts and removes them when it stops. */
function rulesUnit(
  host: string,
  path: string,
  entries: HostInterface[],
  text: { subject: string; description: string; explanation: string[] },
): RenderedFile {
  const start: [string, string][] = [];
  const stop: [string, string][] = [];
  for (const entry of entries) {
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
  const name = unitName(path);
  return {
    path: `${host}/${path}`,
    content: ini(
      [
        ...generatedNotice(`${host}'s ${text.subject}`),
        "",
        `Copy to /etc/systemd/system/${name}, then: systemctl enable --now ${name}.`,
        ...text.explanation,
      ],
      [
        [
          "Unit",
          [
            ["Description", text.description],
            ["DefaultDependencies", "no"],
            ["Wants", "network-pre.target"],
            ["Before", "network-pre.target systemd-networkd.service"],
          ],
        ],
        ["Service", [["Type", "oneshot"], ["RemainAfterExit", "yes"], ...start, ...stop]],
        ["Install", [["WantedBy", "multi-user.target"]]],
      ],
    ),
  };
}
