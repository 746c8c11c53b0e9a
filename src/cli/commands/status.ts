/**
 * `wgqt status [--json]`: per machine its key and peers, per file who can
 * decrypt it (read from the file's header, backed by the manifest), and what
 * `verify` would complain about. The `--json` shape is `StoreStatus`
 * (src/store/inspect/status.ts), documented there.
 */
import type { FileReader } from "../../store/inspect/access.js";
import { shortRecipient } from "../../store/inspect/names.js";
import { type FileStatus, storeStatus } from "../../store/inspect/status.js";
import type { Color } from "../context.js";
import { openInspection } from "../inspection.js";
import type { CliIO } from "../io.js";
import type { GlobalOptions } from "../options.js";
import { tableLines } from "../table.js";

function evidence(color: Color, reader: FileReader): string {
  if (reader.header === "present")
    return reader.inManifest
      ? "key tag in header"
      : color.yellow("key tag in header, not in manifest.json");
  if (reader.header === "absent") return color.red("cannot decrypt: not in header");
  if (reader.canDecrypt === null)
    return color.yellow(
      "X25519: fewer X25519 stanzas than manifest.json lists; cannot tell whose are missing",
    );
  return "X25519: a header cannot say whose (per manifest.json)";
}

function fileLines(color: Color, file: FileStatus): string[] {
  const facts = [
    file.stanzas === null
      ? color.red("header unreadable")
      : `${file.stanzas} ${file.stanzas === 1 ? "stanza" : "stanzas"}`,
  ];
  if (file.created) facts.push(`created ${file.created}`);
  if (file.problems.length) facts.push(color.red(file.problems.join(", ")));
  const rows = file.readers.map((reader) => [
    `    ${reader.owners.join(",") || "(not in wgqt.toml)"}`,
    shortRecipient(reader.recipient),
    file.stanzas === null ? color.red("header unreadable") : evidence(color, reader),
  ]);
  for (const stanza of file.unattributed) {
    rows.push([
      "    ?",
      `${stanza.type}${stanza.tag ? ` tag ${stanza.tag}` : ""}`,
      color.yellow("stanza of an unknown key"),
    ]);
  }
  return [
    `  ${color.bold(file.file)}: ${facts.join(", ")}`,
    ...(rows.length ? tableLines(rows) : []),
  ];
}

export async function statusCommand(
  io: CliIO,
  global: GlobalOptions,
  options: { json?: boolean },
): Promise<number> {
  const { color, inspection } = await openInspection(io, global);
  const status = storeStatus(inspection);
  if (options.json) {
    io.stdout(`${JSON.stringify(status, null, 2)}\n`);
    return 0;
  }
  const out: string[] = [color.bold(`machines (${status.machines.length})`)];
  const rows = [["  MACHINE", "PUBLIC KEY", "KEY CREATED", "RECIPIENTS", "PRESHARED KEYS WITH"]];
  for (const machine of status.machines) {
    rows.push([
      `  ${machine.name}`,
      machine.publicKey
        ? `${machine.publicKey.slice(0, 10)}…${machine.ownPublicKey ? " (own)" : ""}`
        : "(none)",
      machine.ownPublicKey
        ? "-"
        : machine.privateKey
          ? (machine.privateKey.created ?? "unknown")
          : "(missing)",
      machine.recipients.map(shortRecipient).join(", ") || "-",
      machine.presharedKeys
        .map((psk) => `${psk.peer}${psk.present ? "" : " (missing)"}`)
        .join(", ") || "-",
    ]);
  }
  out.push(...tableLines(rows));
  if (status.vpns.length > 0) {
    out.push(
      "",
      color.bold(`vpns (${status.vpns.length}): provider keys, renewed only by re-import`),
    );
    const vpnRows = [["  VPN", "ID", "MACHINES", "KEY CREATED", "PRESHARED KEY"]];
    for (const vpn of status.vpns) {
      vpnRows.push([
        `  ${vpn.name}`,
        String(vpn.id),
        vpn.machines.join(", "),
        vpn.privateKey ? (vpn.privateKey.created ?? "unknown") : "(missing)",
        vpn.presharedKey ? vpn.presharedKey.file : "-",
      ]);
    }
    out.push(...tableLines(vpnRows));
  }
  out.push(
    "",
    color.bold(`files in ${status.keysDir} (who can decrypt, read from each file's header)`),
  );
  for (const file of status.files) out.push(...fileLines(color, file));
  out.push("");
  if (status.problems.length) {
    out.push(color.bold(`problems (${status.problems.length}); wgqt verify fails on these`));
    for (const problem of status.problems) out.push(`  ${problem.message}`);
  } else {
    out.push("no problems: wgqt verify passes");
  }
  io.stdout(`${out.join("\n")}\n`);
  return 0;
}
