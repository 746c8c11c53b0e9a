/**
 * Small, comment-preserving edits to the text of `wgqt.toml`: appending a
 * machine table and removing one, appending or replacing a VPN table. A TOML library would re-serialise the whole
 * file and drop the user's comments and layout, so edits are textual and the
 * result is always re-validated by `parseConfig` before it is written.
 */
import { ConfigError } from "../errors.js";
import type { VpnConfig } from "./types.js";

/** A TOML basic string. JSON's escapes are a subset of TOML's. */
export function tomlString(value: string): string {
  return JSON.stringify(value);
}

/** A `[machines.NAME]` table to append to wgqt.toml. */
export interface NewMachine {
  /** The machine's name (a lowercase host name). */
  name: string;
  /** Its age recipients: its SSH host key, an age key. */
  recipients: string[];
  /** Where peers reach it (host name or IP, no port); gateways need one. */
  endpoint?: string;
  /** A WireGuard public key it brings itself; no private key is stored then. */
  publicKey?: string;
  /** A gateway's uplink interface for NAT. */
  uplink?: string;
}

export function appendMachine(text: string, machine: NewMachine): string {
  const lines = [`[machines.${machine.name}]`];
  lines.push(`recipients = [${machine.recipients.map(tomlString).join(", ")}]`);
  if (machine.endpoint !== undefined) lines.push(`endpoint = ${tomlString(machine.endpoint)}`);
  if (machine.publicKey !== undefined) lines.push(`public_key = ${tomlString(machine.publicKey)}`);
  if (machine.uplink !== undefined) lines.push(`uplink = ${tomlString(machine.uplink)}`);
  const base = text.length === 0 || text.endsWith("\n") ? text : `${text}\n`;
  return `${base}${base.trim() ? "\n" : ""}${lines.join("\n")}\n`;
}

const TABLE_HEADER = /^\s*\[\s*([^\]]+?)\s*\]\s*(#.*)?$/;

/**
 * Where the `[<section>.<name>]` table is: its header line, the line after its
 * last line (comments introducing the next table stay with that table), or
 * undefined when there is no such table (say, it is written inline).
 */
function findTable(
  lines: string[],
  section: string,
  name: string,
): { start: number; end: number } | undefined {
  const wanted = new Set([
    `${section}.${name}`,
    `${section}."${name}"`,
    `"${section}".${name}`,
    `"${section}"."${name}"`,
  ]);
  const start = lines.findIndex((line) => {
    const match = TABLE_HEADER.exec(line);
    return match !== null && wanted.has(match[1]!.replace(/\s*\.\s*/g, "."));
  });
  if (start < 0) return undefined;
  let end = start + 1;
  while (end < lines.length && !/^\s*\[/.test(lines[end]!)) end++;
  // Keep comments that introduce the next table with it.
  while (end - 1 > start && /^\s*#/.test(lines[end - 1]!)) end--;
  return { start, end };
}

/** Remove the `[machines.NAME]` table (header to the next table header). */
export function removeMachine(text: string, name: string, path: string): string {
  const lines = text.split("\n");
  const found = findTable(lines, "machines", name);
  if (found === undefined) {
    throw new ConfigError(
      "config/not-editable",
      `${path}: machines.${name}: cannot find a [machines.${name}] table to remove; edit the file by hand`,
    );
  }
  const { start, end } = found;
  // Swallow one blank line before the table so the file does not grow gaps.
  const from = start > 0 && lines[start - 1]!.trim() === "" ? start - 1 : start;
  const out = [...lines.slice(0, from), ...lines.slice(end)];
  return out.join("\n").replace(/\n+$/, "\n");
}

/**
 * A `[vpns.<name>]` table as `wgqt vpn import` writes it: what it reads back
 * as, except that `allowed_ips` is written only when it is not the default
 * (0.0.0.0/0). `mtu` and `keepalive` are written only when the provider's
 * file sets them, `killswitch` (the user's own, kept across a re-import)
 * only when set.
 */
export type NewVpn = Omit<VpnConfig, "allowedIPs"> & { allowedIPs?: string[] };

function vpnLines(vpn: NewVpn): string[] {
  const list = (values: string[]) => `[${values.map(tomlString).join(", ")}]`;
  const lines = [
    `[vpns.${vpn.name}]`,
    `machines = ${list(vpn.machines)}`,
    `id = ${vpn.id}`,
    `endpoint = ${tomlString(vpn.endpoint)}`,
    `public_key = ${tomlString(vpn.publicKey)}`,
    `address = ${tomlString(vpn.address)}`,
    ...(vpn.address6 === undefined ? [] : [`address6 = ${tomlString(vpn.address6)}`]),
    `dns = ${list(vpn.dns)}`,
  ];
  if (vpn.allowedIPs !== undefined) lines.push(`allowed_ips = ${list(vpn.allowedIPs)}`);
  if (vpn.presharedKey) lines.push("preshared_key = true");
  if (vpn.mtu !== undefined) lines.push(`mtu = ${vpn.mtu}`);
  if (vpn.keepalive !== undefined) lines.push(`keepalive = ${vpn.keepalive}`);
  if (vpn.killswitch !== undefined) lines.push(`killswitch = ${vpn.killswitch}`);
  return lines;
}

/** Append a `[vpns.NAME]` table. */
export function appendVpn(text: string, vpn: NewVpn): string {
  const base = text.length === 0 || text.endsWith("\n") ? text : `${text}\n`;
  return `${base}${base.trim() ? "\n" : ""}${vpnLines(vpn).join("\n")}\n`;
}

/**
 * Replace the `[vpns.NAME]` table where it stands (a re-import). Comments
 * above the table and everywhere else are kept; lines inside it are rewritten.
 */
export function replaceVpn(text: string, vpn: NewVpn, path: string): string {
  const lines = text.split("\n");
  const found = findTable(lines, "vpns", vpn.name);
  if (found === undefined) {
    throw new ConfigError(
      "config/not-editable",
      `${path}: vpns.${vpn.name}: cannot find a [vpns.${vpn.name}] table to update; edit the file by hand`,
    );
  }
  // Blank lines that end the table stay, so the layout around it does not change.
  let end = found.end;
  while (end - 1 > found.start && lines[end - 1]!.trim() === "") end--;
  const out = [...lines.slice(0, found.start), ...vpnLines(vpn), ...lines.slice(end)];
  return out.join("\n").replace(/\n*$/, "\n");
}
