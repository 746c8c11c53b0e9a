/**
 * A VPN provider's wg-quick file (what Mullvad, Proton, IVPN, AirVPN,
 * Windscribe, Surfshark and NordLynx exports look like), parsed strictly: from
 * `[Interface]` PrivateKey, Address, DNS and MTU; from its one `[Peer]`
 * PublicKey, PresharedKey, Endpoint, AllowedIPs and PersistentKeepalive.
 * Left out with a warning: IPv6 entries, which wgqt does not route, and
 * ListenPort, which a VPN client does not need. Refused with the reason: the
 * hooks (PreUp, PostUp, PreDown, PostDown: commands wg-quick runs as root),
 * Table and FwMark (wgqt's routing sets its own), SaveConfig. Anything else is
 * an error naming the line, so nothing a provider meant is silently dropped.
 * Pure.
 *
 * The syntax is wg(8)'s CONFIGURATION FILE FORMAT as wg-quick(8) extends it:
 * `#` starts a comment, keys are case-insensitive, and Address, DNS and
 * AllowedIPs take comma-separated lists and may repeat.
 *
 * The private key and the preshared key are secrets: no message ever quotes
 * their values, nor any line that might hold one.
 */
import { isIPv4, isIPv6 } from "node:net";
import ipaddr from "ipaddr.js";
import { ConfigError, quote } from "../errors.js";
import { WIREGUARD_KEY } from "../keys/encoding.js";
import { keepaliveProblem, mtuProblem } from "./link.js";
import { cidrProblem, hostPortProblem, ipv4CidrProblem, ipv6CidrProblem } from "./vpn.js";

/** What a provider file says, IPv4 only; `privateKey` and `presharedKey` are secrets. */
export interface ProviderVpn {
  privateKey: string;
  presharedKey?: string;
  /** This end's address with prefix length ("10.64.1.2/32"); a bare address becomes /32. */
  address: string;
  /** This end's IPv6 address with prefix length, when the file has one; a bare address becomes /128. */
  address6?: string;
  /** IPv4 and IPv6 servers, as the file lists them. */
  dns: string[];
  publicKey: string;
  endpoint: string;
  allowedIPs: string[];
  /** `MTU` of `[Interface]`. */
  mtu?: number;
  /** `PersistentKeepalive` of the `[Peer]` in seconds; absent when the file leaves it off. */
  keepalive?: number;
}

/** A provider's wg-quick file as read: the VPN's settings and what was left out. */
export interface ParsedProviderFile {
  vpn: ProviderVpn;
  /** What was left out (ListenPort), one line each, for stderr. */
  warnings: string[];
}

type Section = "Interface" | "Peer";

/** Setting names per section, lowercase → how the file format spells them. */
const IMPORTED: Record<Section, Record<string, string>> = {
  Interface: { privatekey: "PrivateKey", address: "Address", dns: "DNS", mtu: "MTU" },
  Peer: {
    publickey: "PublicKey",
    presharedkey: "PresharedKey",
    endpoint: "Endpoint",
    allowedips: "AllowedIPs",
    persistentkeepalive: "PersistentKeepalive",
  },
};
const LISTS = new Set(["Address", "DNS", "AllowedIPs"]);
const SECRETS = new Set(["PrivateKey", "PresharedKey"]);
const WHAT_WE_TAKE =
  "wgqt imports PrivateKey, Address, DNS and MTU from [Interface] and PublicKey, PresharedKey, Endpoint, AllowedIPs and PersistentKeepalive from [Peer]";

const HOOK =
  "is a hook, a command wg-quick(8) runs as root: wgqt runs no provider's commands (its routing brings its own kill switch)";
const ROUTING =
  "would fight wgqt's routing, which gives every tunnel its own table and fwmark (docs/networks.md: Clients of several tunnels)";
/**
 * wg-quick(8) `[Interface]` settings that are valid but that wgqt refuses,
 * lowercase → how the format spells them and why.
 */
const REFUSED: Record<string, [name: string, why: string]> = {
  preup: ["PreUp", HOOK],
  postup: ["PostUp", HOOK],
  predown: ["PreDown", HOOK],
  postdown: ["PostDown", HOOK],
  table: ["Table", ROUTING],
  fwmark: ["FwMark", ROUTING],
  saveconfig: [
    "SaveConfig",
    "would have wg-quick(8) write the interface's state back over a file wgqt renders",
  ],
};
/**
 * `[Interface]` ListenPort (wg(8)): a client that never waits for the server
 * to connect first works with any port, so wgqt renders none for a VPN.
 */
const DROPPED: Record<string, [name: string, why: string]> = {
  listenport: [
    "ListenPort",
    "a VPN client needs no fixed port (the server never connects first), so wgqt renders none",
  ],
};

/**
 * A name from the file that is safe to repeat in a message: letters only and
 * short, so it can never be (part of) a base64 key on a line of its own.
 */
function safeName(text: string): string | undefined {
  return /^[A-Za-z]{1,24}$/.test(text) ? text : undefined;
}

/**
 * A number's text as a message may show it: a line holding a key by mistake
 * ("MTU = <private key>") must not print it, and no key is 12 characters long.
 */
function shortValue(text: string): string {
  return text.length <= 12 ? quote(text) : `a value of ${text.length} characters, not shown`;
}

interface Entry {
  value: string;
  line: number;
}

/** The largest provider file wgqt reads: a wg-quick file is a few hundred bytes. */
export const MAX_PROVIDER_FILE_BYTES = 64 * 1024;

/**
 * Parse a VPN provider's wg-quick file (one `[Interface]`, one `[Peer]`), IPv4 only.
 *
 * @param text - The file's contents; at most {@link MAX_PROVIDER_FILE_BYTES} when read from disk.
 * @param path - Names the file in errors.
 * @returns The VPN and warnings for what was ignored.
 * @throws {ConfigError} naming the line and key, for a missing or invalid setting. Key values are never quoted.
 */
export function parseProviderFile(text: string, path: string): ParsedProviderFile {
  const fail = (line: number | undefined, message: string): never => {
    throw new ConfigError(
      "config/invalid",
      `${path}: ${line === undefined ? "" : `line ${line}: `}${message}`,
    );
  };
  const size = Buffer.byteLength(text, "utf8");
  if (size > MAX_PROVIDER_FILE_BYTES) {
    fail(
      undefined,
      `${size} bytes; wgqt reads no provider file over 64 KiB (they are a few hundred bytes: is this the right file?)`,
    );
  }
  const sections: Partial<Record<Section, { line: number; entries: Map<string, Entry[]> }>> = {};
  /** What is left out, by line; sorted into `warnings` at the end. */
  const notes: { line: number; text: string }[] = [];
  let current: Section | undefined;
  text
    .replace(/^\uFEFF/, "")
    .split(/\r?\n/)
    .forEach((raw, index) => {
      const lineNumber = index + 1;
      const comment = raw.indexOf("#");
      const line = (comment < 0 ? raw : raw.slice(0, comment)).trim();
      if (line === "") return;
      // `[name]`, no `]` inside: sliced and trimmed rather than matched by a
      // pattern whose backtracking over blanks grows faster than the line.
      const inner = line.startsWith("[") && line.endsWith("]") ? line.slice(1, -1) : undefined;
      const header = inner === undefined || inner.includes("]") ? null : [line, inner.trim()];
      if (header !== null) {
        const name = header[1]!.toLowerCase();
        const section: Section | undefined =
          name === "interface" ? "Interface" : name === "peer" ? "Peer" : undefined;
        if (section === undefined) {
          const shown = safeName(header[1]!);
          fail(
            lineNumber,
            `unknown section${shown ? ` [${shown}]` : ""} (a provider file has one [Interface] and one [Peer])`,
          );
        }
        const earlier = sections[section!];
        if (earlier !== undefined) {
          fail(
            lineNumber,
            section === "Peer"
              ? `a second [Peer] (the first is on line ${earlier.line}); wgqt imports one server per file: ask the provider for one file per server`
              : `a second [Interface] (the first is on line ${earlier.line})`,
          );
        }
        sections[section!] = { line: lineNumber, entries: new Map() };
        current = section;
        return;
      }
      // `Key = value`, split at the first '=' (a key holds none); the line is
      // trimmed already, so only the blanks around '=' are left to remove.
      const equals = line.indexOf("=");
      const key = equals < 0 ? "" : line.slice(0, equals).trimEnd();
      const value = line.slice(equals + 1).trimStart();
      if (key === "" || /[\r\u2028\u2029]/.test(value))
        fail(lineNumber, "not a 'Key = value' line or a [Section] header");
      const shown = safeName(key!);
      if (current === undefined) {
        fail(lineNumber, `${shown ?? "a setting"} before any [Interface] or [Peer] section`);
      }
      const refused = current === "Interface" ? REFUSED[key!.toLowerCase()] : undefined;
      if (refused !== undefined) {
        fail(
          lineNumber,
          `[Interface] ${refused[0]} ${refused[1]}; remove the line and import again`,
        );
      }
      const dropped = current === "Interface" ? DROPPED[key!.toLowerCase()] : undefined;
      if (dropped !== undefined) {
        notes.push({ line: lineNumber, text: `${dropped[0]} left out: ${dropped[1]}` });
        return;
      }
      const name = IMPORTED[current!][key!.toLowerCase()];
      if (name === undefined) {
        fail(
          lineNumber,
          `${shown ? `[${current}] ${shown}` : `a setting in [${current}]`} is not imported (${WHAT_WE_TAKE}); remove the line and import again`,
        );
      }
      const entries = sections[current!]!.entries;
      const previous = entries.get(name!);
      if (previous !== undefined && !LISTS.has(name!)) {
        fail(
          lineNumber,
          `a second ${name} in [${current}] (the first is on line ${previous[0]!.line})`,
        );
      }
      // Appended in place: a list copied per line grows with the square of the lines.
      if (previous === undefined) entries.set(name!, [{ value, line: lineNumber }]);
      else previous.push({ value, line: lineNumber });
    });

  const section = (name: Section) =>
    sections[name] ?? fail(undefined, `no [${name}] section (${WHAT_WE_TAKE})`);
  const single = (from: Section, name: string): Entry => {
    const entry = section(from).entries.get(name)?.[0];
    return entry ?? fail(undefined, `[${from}] has no ${name}`);
  };
  const optional = (from: Section, name: string): Entry | undefined =>
    section(from).entries.get(name)?.[0];
  /** Every comma-separated item of a list setting, with the line it is on. */
  const items = (from: Section, name: string): Entry[] =>
    (section(from).entries.get(name) ?? []).flatMap((entry) =>
      entry.value
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== "")
        .map((item) => ({ value: item, line: entry.line })),
    );
  const secretKey = (from: Section, name: string, entry: Entry): string => {
    if (!SECRETS.has(name)) throw new Error(`not a secret: ${name}`);
    if (!WIREGUARD_KEY.test(entry.value)) {
      fail(
        entry.line,
        `[${from}] ${name} is not a WireGuard key (44 characters of base64); its value is secret and not shown`,
      );
    }
    return entry.value;
  };

  section("Interface");
  section("Peer");
  const privateKey = secretKey("Interface", "PrivateKey", single("Interface", "PrivateKey"));

  const addresses: string[] = [];
  const addresses6: string[] = [];
  const addressItems = items("Interface", "Address");
  if (addressItems.length === 0) fail(undefined, "[Interface] has no Address");
  for (const entry of addressItems) {
    if (isIPv6(entry.value.split("/")[0]!)) {
      const address6 = isIPv6(entry.value) ? `${entry.value}/128` : entry.value;
      const problem = ipv6CidrProblem(address6);
      if (problem) fail(entry.line, `Address: ${problem}, got ${quote(entry.value)}`);
      addresses6.push(canonicalRange(address6));
      continue;
    }
    const address = isIPv4(entry.value) ? `${entry.value}/32` : entry.value;
    const problem = ipv4CidrProblem(address);
    if (problem) fail(entry.line, `Address: ${problem}, got ${quote(entry.value)}`);
    addresses.push(address);
  }
  if (addresses.length !== 1) {
    fail(
      addressItems[0]!.line,
      addresses.length === 0
        ? "Address: no IPv4 address (wgqt needs one; IPv6 comes beside it)"
        : `Address: ${addresses.length} IPv4 addresses; a VPN gives this end one`,
    );
  }
  if (addresses6.length > 1)
    fail(
      addressItems[0]!.line,
      `Address: ${addresses6.length} IPv6 addresses; a VPN gives this end one`,
    );

  const dns: string[] = [];
  for (const entry of items("Interface", "DNS")) {
    if (isIPv4(entry.value)) dns.push(entry.value);
    else if (isIPv6(entry.value)) dns.push(ipaddr.IPv6.parse(entry.value).toString());
    else
      fail(
        entry.line,
        `DNS: ${quote(entry.value)} is not an IP address (search domains are not imported)`,
      );
  }

  const publicKeyEntry = single("Peer", "PublicKey");
  if (!WIREGUARD_KEY.test(publicKeyEntry.value)) {
    fail(
      publicKeyEntry.line,
      `[Peer] PublicKey is not a WireGuard key (44 characters of base64), got ${quote(publicKeyEntry.value)}`,
    );
  }
  const presharedEntry = optional("Peer", "PresharedKey");
  const presharedKey =
    presharedEntry === undefined ? undefined : secretKey("Peer", "PresharedKey", presharedEntry);

  const endpoint = single("Peer", "Endpoint");
  const endpointProblem = hostPortProblem(endpoint.value);
  if (endpointProblem)
    fail(endpoint.line, `Endpoint: ${endpointProblem}, got ${quote(endpoint.value)}`);

  const allowedIPs: string[] = [];
  /** The ranges taken, for dropping repeats in constant time each. */
  const seenAllowed = new Set<string>();
  const allowedItems = items("Peer", "AllowedIPs");
  if (allowedItems.length === 0) fail(undefined, "[Peer] has no AllowedIPs");
  for (const entry of allowedItems) {
    const problem = cidrProblem(entry.value);
    if (problem) fail(entry.line, `AllowedIPs: ${problem}, got ${quote(entry.value)}`);
    const range = canonicalRange(entry.value);
    if (!seenAllowed.has(range)) {
      seenAllowed.add(range);
      allowedIPs.push(range);
    }
  }
  if (!allowedIPs.some((cidr) => !cidr.includes(":")))
    fail(allowedItems[0]!.line, "AllowedIPs: no IPv4 range");

  const vpn: ProviderVpn = {
    privateKey,
    address: addresses[0]!,
    ...(addresses6.length === 0 ? {} : { address6: addresses6[0]! }),
    dns,
    publicKey: publicKeyEntry.value,
    endpoint: endpoint.value,
    allowedIPs,
  };
  if (presharedKey !== undefined) vpn.presharedKey = presharedKey;

  const mtu = optional("Interface", "MTU");
  if (mtu !== undefined) {
    const value = /^\d{1,6}$/.test(mtu.value) ? Number(mtu.value) : undefined;
    const problem = mtuProblem(value);
    if (problem) fail(mtu.line, `MTU: ${problem}, got ${shortValue(mtu.value)}`);
    vpn.mtu = value!;
  }
  const keepalive = optional("Peer", "PersistentKeepalive");
  if (keepalive !== undefined) {
    // wg(8): an interval in seconds, or "off" (which wgqt writes as 0, and leaves out for a VPN).
    const value =
      keepalive.value.toLowerCase() === "off"
        ? 0
        : /^\d{1,6}$/.test(keepalive.value)
          ? Number(keepalive.value)
          : undefined;
    const problem = keepaliveProblem(value);
    if (problem)
      fail(keepalive.line, `PersistentKeepalive: ${problem}, got ${shortValue(keepalive.value)}`);
    if (value! > 0) vpn.keepalive = value!;
  }
  const warnings = notes
    .sort((a, b) => a.line - b.line)
    .map((note) => `line ${note.line}: ${note.text}`);
  return { vpn, warnings };
}

/** An IPv6 range in RFC 5952 form (`::0/0` → `::/0`), as wgqt.toml keeps it; IPv4 as it is. */
function canonicalRange(range: string): string {
  if (!range.includes(":")) return range;
  const [address, length] = range.split("/");
  return `${ipaddr.IPv6.parse(address!).toString()}/${length}`;
}
