/**
 * Small, comment-preserving edits to the text of `wgqt.toml`: appending a
 * machine table and removing one. A TOML library would re-serialise the whole
 * file and drop the user's comments and layout, so edits are textual and the
 * result is always re-validated by `parseConfig` before it is written.
 */
import { ConfigError } from "../errors.js";

/** A TOML basic string. JSON's escapes are a subset of TOML's. */
export function tomlString(value: string): string {
  return JSON.stringify(value);
}

export interface NewMachine {
  name: string;
  recipients: string[];
  endpoint?: string;
  publicKey?: string;
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

/** Remove the `[machines.NAME]` table (header to the next table header). */
export function removeMachine(text: string, name: string, path: string): string {
  const lines = text.split("\n");
  const wanted = new Set([
    `machines.${name}`,
    `machines."${name}"`,
    `"machines".${name}`,
    `"machines"."${name}"`,
  ]);
  const start = lines.findIndex((line) => {
    const match = TABLE_HEADER.exec(line);
    return match !== null && wanted.has(match[1]!.replace(/\s*\.\s*/g, "."));
  });
  if (start < 0) {
    throw new ConfigError(
      `${path}: machines.${name}: cannot find a [machines.${name}] table to remove; edit the file by hand`,
    );
  }
  let end = start + 1;
  while (end < lines.length && !/^\s*\[/.test(lines[end]!)) end++;
  // Keep comments that introduce the next table with it.
  while (end - 1 > start && /^\s*#/.test(lines[end - 1]!)) end--;
  // Swallow one blank line before the table so the file does not grow gaps.
  const from = start > 0 && lines[start - 1]!.trim() === "" ? start - 1 : start;
  const out = [...lines.slice(0, from), ...lines.slice(end)];
  return out.join("\n").replace(/\n+$/, "\n");
}
