/**
 * A test translator for rendered wg-quick files: does what `wg-quick up`
 * (wg-quick(8), cmd_up) does, in the same order, with wireguard-go instead of
 * the kernel module (wg-quick itself would `ip link add type wireguard` in the
 * root mount namespace's /run/wireguard view, which a lab host must not share):
 *
 *   wireguard-go <if>                       add_if
 *   wg setconf <if> <stripped file>         set_config (wg-quick strip: Address, DNS, MTU,
 *                                           Table, Pre/PostUp/Down, SaveConfig removed)
 *   ip -4|-6 address add <Address> dev <if> add_addr (-6 for an address with a colon)
 *   ip link set mtu <MTU> up dev <if>       set_mtu_up (`MTU =`; without it wg-quick takes
 *                                           the uplink's MTU − 80: 1420 on the lab's veths)
 *   ip route add <AllowedIPs> dev <if> …    add_route (into Table=N when set)
 *   PostUp lines, %i replaced, bash         execute_hooks
 *
 * `downWgQuick` is `wg-quick down` (cmd_down): PreDown hooks, `ip link delete`
 * (del_if; with `Table = N` wg-quick removes no rule of its own), PostDown
 * hooks; a failing hook fails the command, as under wg-quick's `set -e`.
 *
 * `DNS =` (wg-quick's resolvconf call) is checked to be IP addresses and
 * returned, not applied: a lab host shares /etc/resolv.conf with the machine.
 * Anything else in the file (Table=auto with a default route, SaveConfig) is
 * rejected: the renderer must not produce it.
 */
import { isIP } from "node:net";
import type { Host } from "../helpers/netns.js";

const WG_QUICK_ONLY = new Set([
  "Address",
  "DNS",
  "MTU",
  "Table",
  "PreUp",
  "PostUp",
  "PreDown",
  "PostDown",
  "SaveConfig",
]);
const INTERFACE_KEYS = new Set(["ListenPort", "FwMark", "PrivateKey", ...WG_QUICK_ONLY]);
const PEER_KEYS = new Set([
  "PublicKey",
  "PresharedKey",
  "AllowedIPs",
  "Endpoint",
  "PersistentKeepalive",
]);

interface Parsed {
  interfaceEntries: [string, string][];
  peers: [string, string][][];
}

export function parseWgQuick(text: string): Parsed {
  const parsed: Parsed = { interfaceEntries: [], peers: [] };
  let section: [string, string][] | undefined;
  let keys: Set<string> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    if (line === "") continue;
    if (line === "[Interface]") {
      section = parsed.interfaceEntries;
      keys = INTERFACE_KEYS;
    } else if (line === "[Peer]") {
      section = [];
      parsed.peers.push(section);
      keys = PEER_KEYS;
    } else {
      const match = /^([A-Za-z]+)\s*=\s*(.*)$/.exec(line);
      if (match === null || section === undefined || keys === undefined) {
        throw new Error(`wg-quick: cannot parse ${JSON.stringify(raw)}`);
      }
      if (!keys.has(match[1]!)) throw new Error(`wg-quick: unexpected key ${match[1]}`);
      section.push([match[1]!, match[2]!]);
    }
  }
  return parsed;
}

/**
 * Bring up `<name>` on `host` from the rendered file, as wg-quick up would.
 * Returns the DNS servers wg-quick would hand to resolvconf.
 */
export async function applyWgQuick(host: Host, name: string, text: string): Promise<string[]> {
  const { interfaceEntries, peers } = parseWgQuick(text);
  const values = (key: string) => interfaceEntries.filter(([k]) => k === key).map(([, v]) => v);
  for (const key of ["PreUp", "SaveConfig"]) {
    if (values(key).length > 0) throw new Error(`wg-quick: ${key} is not expected in wgqt output`);
  }
  const dns = values("DNS").flatMap((value) => value.split(/\s*,\s*/));
  for (const server of dns) {
    if (!isIP(server)) throw new Error(`wg-quick: DNS ${server} is not an address`);
  }
  const table = values("Table")[0];
  const stripped = [
    "[Interface]",
    ...interfaceEntries.filter(([key]) => !WG_QUICK_ONLY.has(key)).map(([k, v]) => `${k} = ${v}`),
    ...peers.flatMap((peer) => ["[Peer]", ...peer.map(([k, v]) => `${k} = ${v}`)]),
  ].join("\n");

  await host.run(`wireguard-go ${name} >/dev/null 2>&1`);
  await host.run(`wg setconf ${name} <(cat)`, { input: `${stripped}\n` });
  for (const address of values("Address").flatMap((value) => value.split(/\s*,\s*/))) {
    await host.run(`ip ${familyOf(address)} address add ${address} dev ${name}`);
  }
  const mtu = values("MTU");
  if (mtu.length > 1 || !/^\d+$/.test(mtu[0] ?? "1420"))
    throw new Error(`wg-quick: MTU ${mtu.join(", ")} is not one number`);
  await host.run(`ip link set mtu ${mtu[0] ?? 1420} up dev ${name}`);
  const allowed = peers
    .flatMap((peer) => peer.filter(([key]) => key === "AllowedIPs").map(([, v]) => v))
    .flatMap((value) => value.split(/\s*,\s*/))
    .sort((a, b) => Number(b.split("/")[1]) - Number(a.split("/")[1]));
  for (const cidr of allowed) {
    if (table === "off") continue;
    if (table !== undefined && table !== "auto") {
      await host.run(`ip ${familyOf(cidr)} route add ${cidr} dev ${name} table ${table}`);
    } else if (cidr.endsWith("/0")) {
      throw new Error("wg-quick: Table = auto with a default route is not what wgqt renders");
    } else {
      await host.run(
        `[ -n "$(ip ${familyOf(cidr)} route show dev ${name} match ${cidr})" ] || ip ${familyOf(cidr)} route add ${cidr} dev ${name}`,
      );
    }
  }
  for (const hook of values("PostUp")) {
    await host.run(`set -e; ${hook.replaceAll("%i", name)}`);
  }
  return dns;
}

/** wg-quick(8) picks `ip -6` for an address or route with a colon, `ip -4` otherwise. */
function familyOf(address: string): "-4" | "-6" {
  return address.includes(":") ? "-6" : "-4";
}

/** Take `<name>` down on `host` as `wg-quick down` would, with the same file. */
export async function downWgQuick(host: Host, name: string, text: string): Promise<void> {
  const { interfaceEntries } = parseWgQuick(text);
  const hooks = (key: string) =>
    interfaceEntries.filter(([k]) => k === key).map(([, hook]) => hook.replaceAll("%i", name));
  for (const hook of hooks("PreDown")) await host.run(`set -e; ${hook}`);
  await host.run(`ip link delete dev ${name}`);
  for (const hook of hooks("PostDown")) await host.run(`set -e; ${hook}`);
}
