/**
 * A VPN provider's wg-quick file (what Mullvad, Proton and friends hand out),
 * parsed strictly: from `[Interface]` PrivateKey, Address and DNS; from its one
 * `[Peer]` PublicKey, PresharedKey, Endpoint and AllowedIPs. Anything else is
 * an error naming the line, so nothing a provider meant is silently dropped —
 * except IPv6 entries, which wgqt does not route: those are left out with a
 * warning. Pure.
 *
 * The syntax is wg(8)'s CONFIGURATION FILE FORMAT as wg-quick(8) extends it:
 * `#` starts a comment, keys are case-insensitive, and Address, DNS and
 * AllowedIPs take comma-separated lists and may repeat.
 *
 * The private key and the preshared key are secrets: no message ever quotes
 * their values, nor any line that might hold one.
 */
import { isIPv4, isIPv6 } from "node:net";
import { ConfigError, quote } from "../errors.js";
import { hostPortProblem, ipv4CidrProblem } from "./vpn.js";

/** What a provider file says, IPv4 only; `privateKey` and `presharedKey` are secrets. */
export interface ProviderVpn {
  privateKey: string;
  presharedKey?: string;
  /** This end's address with prefix length ("10.64.1.2/32"); a bare address becomes /32. */
  address: string;
  dns: string[];
  publicKey: string;
  endpoint: string;
  allowedIPs: string[];
}

export interface ParsedProviderFile {
  vpn: ProviderVpn;
  /** What was left out (IPv6 entries), one line each, for stderr. */
  warnings: string[];
}

const KEY_BASE64 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

type Section = "Interface" | "Peer";

/** Setting names per section, lowercase → how the file format spells them. */
const IMPORTED: Record<Section, Record<string, string>> = {
  Interface: { privatekey: "PrivateKey", address: "Address", dns: "DNS" },
  Peer: {
    publickey: "PublicKey",
    presharedkey: "PresharedKey",
    endpoint: "Endpoint",
    allowedips: "AllowedIPs",
  },
};
const LISTS = new Set(["Address", "DNS", "AllowedIPs"]);
const SECRETS = new Set(["PrivateKey", "PresharedKey"]);
const WHAT_WE_TAKE =
  "wgqt imports PrivateKey, Address and DNS from [Interface] and PublicKey, PresharedKey, Endpoint and AllowedIPs from [Peer]";

/**
 * A name from the file that is safe to repeat in a message: letters only and
 * short, so it can never be (part of) a base64 key on a line of its own.
 */
function safeName(text: string): string | undefined {
  return /^[A-Za-z]{1,24}$/.test(text) ? text : undefined;
}

interface Entry {
  value: string;
  line: number;
}

export function parseProviderFile(text: string, path: string): ParsedProviderFile {
  const fail = (line: number | undefined, message: string): never => {
    throw new ConfigError(`${path}: ${line === undefined ? "" : `line ${line}: `}${message}`);
  };
  const sections: Partial<Record<Section, { line: number; entries: Map<string, Entry[]> }>> = {};
  let current: Section | undefined;
  text
    .replace(/^\uFEFF/, "")
    .split(/\r?\n/)
    .forEach((raw, index) => {
      const lineNumber = index + 1;
      const line = raw.replace(/#.*$/, "").trim();
      if (line === "") return;
      const header = /^\[\s*([^\]]*?)\s*\]$/.exec(line);
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
      const setting = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
      if (setting === null) fail(lineNumber, "not a 'Key = value' line or a [Section] header");
      const [, key, value] = setting!;
      const shown = safeName(key!);
      if (current === undefined) {
        fail(lineNumber, `${shown ?? "a setting"} before any [Interface] or [Peer] section`);
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
      entries.set(name!, [...(previous ?? []), { value: value!, line: lineNumber }]);
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
    if (!KEY_BASE64.test(entry.value)) {
      fail(
        entry.line,
        `[${from}] ${name} is not a WireGuard key (44 characters of base64); its value is secret and not shown`,
      );
    }
    return entry.value;
  };

  section("Interface");
  section("Peer");
  const warnings: string[] = [];
  const leftOut = (entry: Entry, name: string, consequence: string) => {
    warnings.push(
      `line ${entry.line}: ${name} ${entry.value} left out: wgqt routes IPv4 only${consequence}`,
    );
  };

  const privateKey = secretKey("Interface", "PrivateKey", single("Interface", "PrivateKey"));

  const addresses: string[] = [];
  const addressItems = items("Interface", "Address");
  if (addressItems.length === 0) fail(undefined, "[Interface] has no Address");
  for (const entry of addressItems) {
    const address = isIPv4(entry.value) ? `${entry.value}/32` : entry.value;
    if (isIPv6(address.split("/")[0]!)) {
      leftOut(entry, "Address", "");
      continue;
    }
    const problem = ipv4CidrProblem(address);
    if (problem) fail(entry.line, `Address: ${problem}, got ${quote(entry.value)}`);
    addresses.push(address);
  }
  if (addresses.length !== 1) {
    fail(
      addressItems[0]!.line,
      addresses.length === 0
        ? "Address: no IPv4 address (wgqt routes IPv4 only)"
        : `Address: ${addresses.length} IPv4 addresses; a VPN gives this end one`,
    );
  }

  const dns: string[] = [];
  for (const entry of items("Interface", "DNS")) {
    if (isIPv4(entry.value)) dns.push(entry.value);
    else if (isIPv6(entry.value)) leftOut(entry, "DNS server", "");
    else
      fail(
        entry.line,
        `DNS: ${quote(entry.value)} is not an IP address (search domains are not imported)`,
      );
  }

  const publicKeyEntry = single("Peer", "PublicKey");
  if (!KEY_BASE64.test(publicKeyEntry.value)) {
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
  const allowedItems = items("Peer", "AllowedIPs");
  if (allowedItems.length === 0) fail(undefined, "[Peer] has no AllowedIPs");
  for (const entry of allowedItems) {
    if (isIPv6(entry.value.split("/")[0]!)) {
      leftOut(
        entry,
        "AllowedIPs",
        entry.value.endsWith("/0")
          ? " (block IPv6 on this machine if it must not leave unencrypted)"
          : "",
      );
      continue;
    }
    const problem = ipv4CidrProblem(entry.value);
    if (problem) fail(entry.line, `AllowedIPs: ${problem}, got ${quote(entry.value)}`);
    if (!allowedIPs.includes(entry.value)) allowedIPs.push(entry.value);
  }
  if (allowedIPs.length === 0) fail(allowedItems[0]!.line, "AllowedIPs: no IPv4 range");

  const vpn: ProviderVpn = {
    privateKey,
    address: addresses[0]!,
    dns,
    publicKey: publicKeyEntry.value,
    endpoint: endpoint.value,
    allowedIPs,
  };
  if (presharedKey !== undefined) vpn.presharedKey = presharedKey;
  return { vpn, warnings };
}
