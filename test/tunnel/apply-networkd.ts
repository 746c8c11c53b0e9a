/**
 * A test translator for rendered systemd-networkd files. networkd cannot run
 * here (it needs systemd as PID 1 and would manage the machine's own links),
 * so this does by hand what it does with a `.netdev` and its `.network`
 * (systemd.netdev(5), systemd.network(5)), with wireguard-go as the device:
 *
 *   [NetDev] Kind=wireguard, Name=          wireguard-go <name>
 *   [NetDev] MTUBytes=                      ip link set <name> mtu … (set on the device
 *                                           networkd creates, before it is up)
 *   [WireGuard] PrivateKeyFile= ListenPort= FirewallMark=
 *   [WireGuardPeer] …KeyFile= AllowedIPs= …  wg set <name> … (files read by wg(8))
 *   [WireGuard] RouteTable=                 a route per AllowedIPs in that table
 *   [Network] Address=                      ip address add (each; -6 for IPv6); link up
 *   [Address] Address= DuplicateAddressDetection=none
 *                                           ip address add … nodad
 *   [Network] IPMasquerade=ipv4|both        forwarding on; MASQUERADE of the
 *                                           addresses' prefixes (networkd's own nft rule;
 *                                           both: IPv4 and IPv6)
 *   [Route] Type=unreachable …              ip route add unreachable …
 *   [RoutingPolicyRule]                     ip rule add … (an existing one is replaced:
 *                                           networkd reconciles, it does not fail)
 *   [NetDev] Kind=bridge                    ip link add <name> type bridge
 *   [Network] ConfigureWithoutCarrier=yes   the address goes on before anything is attached
 *   [Network] DNS= Domains= DNSDefaultRoute= checked and returned, not applied (resolved
 *                                           does not run here)
 *
 * The host-wide files beside them (`applyNetworkdHost`), as a booting host
 * applies them before networkd configures any link:
 *
 *   sysctl.d/*.conf                         sysctl -w per `key = value` (sysctl.d(5))
 *   system/*.service                        started: each ExecStart= in order, a leading
 *                                           `-` ignoring failure, StandardInputText= lines
 *                                           as standard input (systemd.service(5), systemd.exec(5))
 *   networkd.conf.d/*.conf                  checked, not applied (no networkd here)
 *
 * `downNetworkd` is `networkctl down` / the link deleted: the link goes, and
 * with it the [Route]s and [RoutingPolicyRule]s of its .network, which
 * networkd removes when it stops managing the link.
 *
 * Unknown sections or keys are rejected, so renderer changes show up here.
 */
import { isIP } from "node:net";
import type { Host } from "../helpers/netns.js";

type Section = { name: string; entries: [string, string][] };

const KNOWN: Record<string, Set<string>> = {
  NetDev: new Set(["Name", "Kind", "Description", "MTUBytes"]),
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
  Address: new Set(["Address", "DuplicateAddressDetection"]),
  Route: new Set(["Type", "Destination", "Table", "Metric"]),
  RoutingPolicyRule: new Set([
    "Priority",
    "Family",
    "From",
    "FirewallMark",
    "InvertRule",
    "Table",
    "SuppressPrefixLength",
  ]),
};

/** Unit files and networkd.conf drop-ins: only what wgqt renders. */
const HOST_FILE_KNOWN: Record<string, Set<string>> = {
  Unit: new Set([
    "Description",
    "DefaultDependencies",
    "Wants",
    "Before",
    "After",
    "PartOf",
    "ReloadPropagatedFrom",
  ]),
  Service: new Set([
    "Type",
    "RemainAfterExit",
    "StandardInput",
    "StandardInputText",
    "ExecStart",
    "ExecReload",
    "ExecStop",
  ]),
  Install: new Set(["WantedBy"]),
  Network: new Set(["ManageForeignRoutingPolicyRules", "ManageForeignRoutes"]),
};

export function parseUnit(text: string, known: Record<string, Set<string>> = KNOWN): Section[] {
  const sections: Section[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header !== null) {
      if (known[header[1]!] === undefined) throw new Error(`networkd: unexpected [${header[1]}]`);
      sections.push({ name: header[1]!, entries: [] });
      continue;
    }
    const entry = /^(\w+)=(.*)$/.exec(line);
    const section = sections.at(-1);
    if (entry === null || section === undefined) throw new Error(`networkd: cannot parse ${raw}`);
    if (!known[section.name]!.has(entry[1]!)) {
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
  const mtu = get(netdevSection, "MTUBytes");
  if (mtu !== undefined) {
    // systemd.netdev(5) also takes K, M, G suffixes; wgqt writes plain bytes.
    if (!/^\d+$/.test(mtu)) throw new Error(`networkd: MTUBytes=${mtu} is not a number of bytes`);
    await host.run(`ip link set ${name} mtu ${mtu}`);
  }
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
      await host.run(`ip ${familyOf(cidr)} route replace ${cidr} dev ${name} table ${routeTable}`);
    }
  }
  return dns;
}

/** What a `.network` does to its link: address, up, masquerade, routes, rules. */
async function configureNetwork(host: Host, name: string, network: Section[]): Promise<void> {
  const networkSection = network.find((section) => section.name === "Network");
  const addresses = values(networkSection, "Address");
  for (const address of addresses)
    await host.run(`ip ${familyOf(address)} address replace ${address} dev ${name}`);
  for (const section of network.filter((entry) => entry.name === "Address")) {
    const address = get(section, "Address");
    if (address === undefined) throw new Error("networkd: [Address] without Address=");
    const dad = get(section, "DuplicateAddressDetection");
    if (dad !== undefined && dad !== "none")
      throw new Error(`networkd: DuplicateAddressDetection=${dad} is not what wgqt renders`);
    await host.run(
      `ip ${familyOf(address)} address replace ${address} dev ${name}${dad === "none" ? " nodad" : ""}`,
    );
    addresses.push(address);
  }
  await host.run(`ip link set ${name} up`);
  const masquerading = get(networkSection, "IPMasquerade");
  if (masquerading !== undefined) {
    if (masquerading !== "ipv4" && masquerading !== "both")
      throw new Error(`networkd: IPMasquerade=${masquerading} is not what wgqt renders`);
    const address = addresses.find((entry) => familyOf(entry) === "-4");
    if (address === undefined) throw new Error("networkd: IPMasquerade without Address");
    const masquerade = `POSTROUTING -s ${prefixOf(address)} -j MASQUERADE`;
    await host.run(
      `sysctl -q -w net.ipv4.ip_forward=1 && { iptables -t nat -C ${masquerade} 2>/dev/null || iptables -t nat -A ${masquerade}; }`,
    );
    const address6 = addresses.find((entry) => familyOf(entry) === "-6");
    if (masquerading === "both") {
      if (address6 === undefined) throw new Error("networkd: IPMasquerade=both without IPv6");
      const masquerade6 = `POSTROUTING -s ${prefix6Of(address6)} -j MASQUERADE`;
      await host.run(
        `sysctl -q -w net.ipv6.conf.all.forwarding=1 && { ip6tables -t nat -C ${masquerade6} 2>/dev/null || ip6tables -t nat -A ${masquerade6}; }`,
      );
    }
  }
  for (const route of network.filter((section) => section.name === "Route")) {
    await host.run(`ip ${routeCommand(route, "replace")}`);
  }
  for (const rule of network.filter((section) => section.name === "RoutingPolicyRule")) {
    const selector = ruleSelector(rule);
    const family = ruleFamily(rule);
    await host.run(
      `ip ${family} rule del ${selector} 2>/dev/null || true; ip ${family} rule add ${selector}`,
    );
  }
}

/** `-4` or `-6` for an address or prefix, as wg-quick(8) and networkd tell them apart. */
function familyOf(address: string): "-4" | "-6" {
  return address.includes(":") ? "-6" : "-4";
}

/** A [RoutingPolicyRule]'s family: Family=, else From='s, else IPv4 (systemd.network(5)). */
function ruleFamily(rule: Section): "-4" | "-6" {
  const family = get(rule, "Family");
  if (family !== undefined && family !== "ipv4" && family !== "ipv6")
    throw new Error(`networkd: Family=${family} is not what wgqt renders`);
  if (family === "ipv6") return "-6";
  const from = get(rule, "From");
  if (family === "ipv4" || from === undefined) return "-4";
  return familyOf(from);
}

/** `-4 route replace unreachable default metric … table …` for a [Route]. */
function routeCommand(route: Section, verb: "replace" | "del"): string {
  const target = get(route, "Destination")!;
  const destination = target === "0.0.0.0/0" || target === "::/0" ? "default" : target;
  return `${familyOf(target)} route ${verb} ${get(route, "Type")} ${destination} metric ${get(route, "Metric")} table ${get(route, "Table")}`;
}

/** The /64 of an IPv6 address with prefix length 64 (what wgqt renders). */
function prefix6Of(address: string): string {
  const [ip, length] = address.split("/");
  if (length !== "64") throw new Error(`networkd: ${address} is not a /64`);
  return `${ip!.split(":").slice(0, 4).join(":")}::/64`;
}

/** A [RoutingPolicyRule] as `ip rule` words. */
function ruleSelector(rule: Section): string {
  const words = [`priority ${get(rule, "Priority")}`];
  if (get(rule, "InvertRule") === "yes") words.push("not");
  words.push(`from ${get(rule, "From") ?? "all"}`);
  const fwmark = get(rule, "FirewallMark");
  if (fwmark !== undefined) words.push(`fwmark ${fwmark}`);
  words.push(`lookup ${get(rule, "Table")}`);
  const suppress = get(rule, "SuppressPrefixLength");
  if (suppress !== undefined) words.push(`suppress_prefixlength ${suppress}`);
  return words.join(" ");
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

const values = (section: Section | undefined, key: string) =>
  (section?.entries ?? []).filter(([k]) => k === key).map(([, value]) => value);

/**
 * Apply a host's host-wide files (`files`: paths relative to the host's
 * directory) as the host would at boot: sysctl.d, then the units in path
 * order (all ordered before network-pre.target). Returns the networkd.conf
 * settings the drop-ins ask for.
 */
export async function applyNetworkdHost(
  host: Host,
  files: { path: string; content: string }[],
): Promise<Record<string, string>> {
  const networkdSettings: Record<string, string> = {};
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : 1));
  for (const file of sorted.filter((f) => /^sysctl\.d\/[^/]+\.conf$/.test(f.path))) {
    for (const raw of file.content.split("\n")) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      const setting = /^([\w.]+)\s*=\s*(\S+)$/.exec(line);
      if (setting === null) throw new Error(`sysctl.d: cannot parse ${raw}`);
      await host.run(`sysctl -q -w ${setting[1]}=${setting[2]}`);
    }
  }
  for (const file of sorted.filter((f) => /^networkd\.conf\.d\/[^/]+\.conf$/.test(f.path))) {
    for (const section of parseUnit(file.content, HOST_FILE_KNOWN)) {
      if (section.name !== "Network")
        throw new Error(`networkd.conf: unexpected [${section.name}]`);
      for (const [key, value] of section.entries) networkdSettings[key] = value;
    }
  }
  for (const file of sorted.filter((f) => /^system\/[^/]+\.service$/.test(f.path))) {
    await startUnit(host, file.content);
  }
  const others = sorted.filter(
    (f) => !/^(sysctl\.d|networkd\.conf\.d)\/[^/]+\.conf$|^system\/[^/]+\.service$/.test(f.path),
  );
  if (others.length > 0) throw new Error(`networkd: unexpected host file ${others[0]!.path}`);
  return networkdSettings;
}

/** Run a oneshot unit's ExecStart= lines as systemd would. */
async function startUnit(host: Host, text: string): Promise<void> {
  const service = parseUnit(text, HOST_FILE_KNOWN).find((section) => section.name === "Service");
  if (get(service, "Type") !== "oneshot") throw new Error("unit: expected Type=oneshot");
  const input =
    get(service, "StandardInput") === "data"
      ? `${values(service, "StandardInputText").join("\n")}\n`
      : undefined;
  await runExec(host, values(service, "ExecStart"), input);
}

/** Stop a oneshot unit: its ExecStop= lines (what lifting the kill switch runs). */
export async function stopUnit(host: Host, text: string): Promise<void> {
  const service = parseUnit(text, HOST_FILE_KNOWN).find((section) => section.name === "Service");
  await runExec(host, values(service, "ExecStop"), undefined);
}

async function runExec(host: Host, commands: string[], input: string | undefined): Promise<void> {
  for (const command of commands) {
    const ignoreFailure = command.startsWith("-");
    const line = ignoreFailure ? command.slice(1) : command;
    if (/[;&|<>`$]/.test(line))
      throw new Error(`unit: ${line} needs a shell; systemd runs no shell`);
    await host.run(line, {
      ...(input === undefined ? {} : { input }),
      allowFailure: ignoreFailure,
    });
  }
}

/**
 * The link taken down (`networkctl down`) or deleted: networkd drops the
 * link's own routes and policy rules; the device goes.
 */
export async function downNetworkd(
  host: Host,
  netdevText: string,
  networkText: string,
): Promise<void> {
  const name = get(
    parseUnit(netdevText).find((section) => section.name === "NetDev"),
    "Name",
  );
  const network = parseUnit(networkText);
  await host.run(`ip link del ${name}`);
  for (const route of network.filter((section) => section.name === "Route")) {
    await host.run(`ip ${routeCommand(route, "del")}`);
  }
  for (const rule of network.filter((section) => section.name === "RoutingPolicyRule")) {
    await host.run(`ip ${ruleFamily(rule)} rule del ${ruleSelector(rule)}`);
  }
}

/** A host's host-wide files among rendered ones, with paths relative to its directory. */
export function hostFiles(
  files: { path: string; content: string }[],
  host: string,
): { path: string; content: string }[] {
  return files
    .filter(
      (file) => file.path.startsWith(`${host}/`) && file.path.slice(host.length + 1).includes("/"),
    )
    .map((file) => ({ path: file.path.slice(host.length + 1), content: file.content }));
}
