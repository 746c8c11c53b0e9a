/**
 * A test translator for rendered systemd-networkd files. networkd cannot run
 * here (it needs systemd as PID 1 and would manage the machine's own links),
 * so this does by hand what it does with a `.netdev` and its `.network`
 * (systemd.netdev(5), systemd.network(5)), with wireguard-go as the device:
 *
 *   [NetDev] Kind=wireguard, Name=          wireguard-go <name>
 *   [WireGuard] PrivateKeyFile= ListenPort= FirewallMark=
 *   [WireGuardPeer] …KeyFile= AllowedIPs= …  wg set <name> … (files read by wg(8))
 *   [WireGuard] RouteTable=                 a route per AllowedIPs in that table
 *   [Network] Address=                      ip address add; link up
 *   [Network] IPMasquerade=ipv4             forwarding on; MASQUERADE of the
 *                                           address's prefix (networkd's own nft rule)
 *   [Route] Type=unreachable …              ip route add unreachable …
 *   [RoutingPolicyRule]                     ip rule add … (an existing one is replaced:
 *                                           networkd reconciles, it does not fail)
 *   [NetDev] Kind=bridge                    ip link add <name> type bridge
 *   [Network] ConfigureWithoutCarrier=yes   the address goes on before anything is attached
 *   [Network] DNS= Domains= DNSDefaultRoute= checked and returned, not applied (resolved
 *                                           does not run here)
 *
 * Unknown sections or keys are rejected, so renderer changes show up here.
 */
import { isIP } from "node:net";
import type { Host } from "../helpers/netns.js";

type Section = { name: string; entries: [string, string][] };

const KNOWN: Record<string, Set<string>> = {
  NetDev: new Set(["Name", "Kind", "Description"]),
  WireGuard: new Set(["PrivateKeyFile", "ListenPort", "FirewallMark", "RouteTable"]),
  WireGuardPeer: new Set([
    "PublicKey",
    "PresharedKeyFile",
    "AllowedIPs",
    "Endpoint",
    "PersistentKeepalive",
  ]),
  Match: new Set(["Name"]),
  Network: new Set([
    "Address",
    "IPMasquerade",
    "DNS",
    "Domains",
    "DNSDefaultRoute",
    "ConfigureWithoutCarrier",
  ]),
  Link: new Set(["RequiredForOnline"]),
  Route: new Set(["Type", "Destination", "Table", "Metric"]),
  RoutingPolicyRule: new Set([
    "Priority",
    "From",
    "FirewallMark",
    "InvertRule",
    "Table",
    "SuppressPrefixLength",
  ]),
};

export function parseUnit(text: string): Section[] {
  const sections: Section[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header !== null) {
      if (KNOWN[header[1]!] === undefined) throw new Error(`networkd: unexpected [${header[1]}]`);
      sections.push({ name: header[1]!, entries: [] });
      continue;
    }
    const entry = /^(\w+)=(.*)$/.exec(line);
    const section = sections.at(-1);
    if (entry === null || section === undefined) throw new Error(`networkd: cannot parse ${raw}`);
    if (!KNOWN[section.name]!.has(entry[1]!)) {
      throw new Error(`networkd: unexpected ${entry[1]}= in [${section.name}]`);
    }
    section.entries.push([entry[1]!, entry[2]!]);
  }
  return sections;
}

const get = (section: Section | undefined, key: string) =>
  section?.entries.find(([k]) => k === key)?.[1];

/**
 * Create the device from `.netdev` and configure it from `.network`. Returns
 * the DNS servers the link would give systemd-resolved.
 */
export async function applyNetworkd(
  host: Host,
  netdevText: string,
  networkText: string,
): Promise<string[]> {
  const netdev = parseUnit(netdevText);
  const network = parseUnit(networkText);
  const netdevSection = netdev.find((section) => section.name === "NetDev");
  const name = get(netdevSection, "Name");
  const kind = get(netdevSection, "Kind");
  if (name === undefined || (kind !== "wireguard" && kind !== "bridge")) {
    throw new Error("networkd: expected a [NetDev] with Kind=wireguard or bridge and a Name");
  }
  if (
    get(
      network.find((section) => section.name === "Match"),
      "Name",
    ) !== name
  ) {
    throw new Error(`networkd: .network does not match ${name}`);
  }
  const networkSection = network.find((section) => section.name === "Network");
  const dns = (networkSection?.entries ?? [])
    .filter(([key]) => key === "DNS")
    .map(([, value]) => value);
  for (const server of dns) {
    if (!isIP(server)) throw new Error(`networkd: DNS=${server} is not an address`);
  }
  if (kind === "bridge") {
    if (get(networkSection, "ConfigureWithoutCarrier") !== "yes")
      throw new Error("networkd: a bridge without ports needs ConfigureWithoutCarrier=yes");
    await host.run(`ip link show ${name} >/dev/null 2>&1 || ip link add ${name} type bridge`);
    await configureNetwork(host, name, network);
    return dns;
  }
  const wireguard = netdev.find((section) => section.name === "WireGuard");
  const set = [`wg set ${name} private-key ${get(wireguard, "PrivateKeyFile")}`];
  const port = get(wireguard, "ListenPort");
  if (port !== undefined) set.push(`listen-port ${port}`);
  const mark = get(wireguard, "FirewallMark");
  if (mark !== undefined) set.push(`fwmark ${mark}`);
  await host.run(`wireguard-go ${name} >/dev/null 2>&1`);
  await host.run(set.join(" "));
  const allowed: string[] = [];
  for (const peer of netdev.filter((section) => section.name === "WireGuardPeer")) {
    const words = [`wg set ${name} peer ${get(peer, "PublicKey")}`];
    const psk = get(peer, "PresharedKeyFile");
    if (psk !== undefined) words.push(`preshared-key ${psk}`);
    const ips = get(peer, "AllowedIPs") ?? "";
    words.push(`allowed-ips ${ips}`);
    allowed.push(...ips.split(",").filter(Boolean));
    const endpoint = get(peer, "Endpoint");
    if (endpoint !== undefined) words.push(`endpoint ${endpoint}`);
    const keepalive = get(peer, "PersistentKeepalive");
    if (keepalive !== undefined) words.push(`persistent-keepalive ${keepalive}`);
    await host.run(words.join(" "));
  }

  await configureNetwork(host, name, network);
  const routeTable = get(wireguard, "RouteTable");
  if (routeTable !== undefined && routeTable !== "off") {
    for (const cidr of allowed) {
      await host.run(`ip -4 route replace ${cidr} dev ${name} table ${routeTable}`);
    }
  }
  return dns;
}

/** What a `.network` does to its link: address, up, masquerade, routes, rules. */
async function configureNetwork(host: Host, name: string, network: Section[]): Promise<void> {
  const networkSection = network.find((section) => section.name === "Network");
  const address = get(networkSection, "Address");
  if (address !== undefined) await host.run(`ip -4 address replace ${address} dev ${name}`);
  await host.run(`ip link set ${name} up`);
  if (get(networkSection, "IPMasquerade") === "ipv4") {
    if (address === undefined) throw new Error("networkd: IPMasquerade without Address");
    const masquerade = `POSTROUTING -s ${prefixOf(address)} -j MASQUERADE`;
    await host.run(
      `sysctl -q -w net.ipv4.ip_forward=1 && { iptables -t nat -C ${masquerade} 2>/dev/null || iptables -t nat -A ${masquerade}; }`,
    );
  }
  for (const route of network.filter((section) => section.name === "Route")) {
    const destination =
      get(route, "Destination") === "0.0.0.0/0" ? "default" : get(route, "Destination");
    await host.run(
      `ip -4 route replace ${get(route, "Type")} ${destination} metric ${get(route, "Metric")} table ${get(route, "Table")}`,
    );
  }
  for (const rule of network.filter((section) => section.name === "RoutingPolicyRule")) {
    const words = [`ip -4 rule add priority ${get(rule, "Priority")}`];
    if (get(rule, "InvertRule") === "yes") words.push("not");
    words.push(`from ${get(rule, "From") ?? "all"}`);
    const fwmark = get(rule, "FirewallMark");
    if (fwmark !== undefined) words.push(`fwmark ${fwmark}`);
    words.push(`lookup ${get(rule, "Table")}`);
    const suppress = get(rule, "SuppressPrefixLength");
    if (suppress !== undefined) words.push(`suppress_prefixlength ${suppress}`);
    const command = words.join(" ");
    await host.run(`${command.replace(" add ", " del ")} 2>/dev/null || true; ${command}`);
  }
}

/** "10.128.0.9/29" → "10.128.0.8/29". */
function prefixOf(address: string): string {
  const [ip, length] = address.split("/");
  const bits = Number(length);
  const value = ip!.split(".").reduce((sum, octet) => sum * 256 + Number(octet), 0);
  const size = 2 ** (32 - bits);
  const start = value - (value % size);
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(start / 2 ** shift) % 256);
  return `${octets.join(".")}/${bits}`;
}
