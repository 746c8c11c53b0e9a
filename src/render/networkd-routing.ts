/**
 * What systemd-networkd cannot do for a host's policy-routed tunnels, as
 * files for /etc next to its `.netdev` and `.network` files (networkd.ts).
 */
import type { HostInterface } from "../net/host.js";
import {
  ipFamilyOption,
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
 * (sysctl.d(5)); a unit loading the connection-mark rules with nft(8); and,
 * for tunnels with the kill switch, a unit holding their rules and
 * unreachable defaults outside networkd (which drops a link's own
 * [RoutingPolicyRule]s and [Route]s when the link goes down or away), with
 * networkd.conf(5) told to leave such foreign rules and routes alone.
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
  const locked = interfaces.filter((entry) => entry.routing?.killswitch === true);
  if (locked.length === 0) return files;
  const start: [string, string][] = [];
  const stop: [string, string][] = [];
  for (const entry of locked) {
    for (const rule of entry.routing!.rules) {
      const selector = ipRuleArguments(rule);
      start.push(
        ["ExecStart", `-ip ${ipFamilyOption(rule)} rule del ${selector}`],
        ["ExecStart", `ip ${ipFamilyOption(rule)} rule add ${selector}`],
      );
    }
    for (const route of entry.routing!.routes) {
      start.push([
        "ExecStart",
        `ip ${ipFamilyOption(route)} route replace ${ipRouteArguments(route)}`,
      ]);
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
