/** `wgqt machine list`: every machine, its public key, recipients, endpoint and networks. */
import { meshesOf, sortedNames, vpnsOf } from "../../config/types.js";
import { openContext } from "../context.js";
import type { CliIO } from "../io.js";
import type { GlobalOptions } from "../options.js";
import { tableLines } from "../table.js";

export async function machineListCommand(
  io: CliIO,
  global: GlobalOptions,
  options: { json?: boolean },
): Promise<number> {
  const { config, store, color } = await openContext(io, global);
  const publicKeys = store.publicKeys();
  // Each machine's networks, from one pass over them (not one per machine).
  const networksOf = new Map<string, string[]>();
  const joins = (network: string, machines: Iterable<string>) => {
    for (const machine of new Set(machines)) {
      const list = networksOf.get(machine);
      if (list) list.push(network);
      else networksOf.set(machine, [network]);
    }
  };
  for (const name of sortedNames(config.proxies)) {
    const proxy = config.proxies[name]!;
    joins(name, [proxy.gateway, ...proxy.clients]);
  }
  for (const mesh of meshesOf(config)) joins(mesh.name, mesh.members);
  for (const vpn of vpnsOf(config)) joins(vpn.name, vpn.machines);
  const rows = sortedNames(config.machines).map((name) => {
    const machine = config.machines[name]!;
    const networks = (networksOf.get(name) ?? []).sort();
    return {
      name,
      publicKey: publicKeys[name] ?? null,
      ownKey: machine.publicKey !== undefined,
      recipients: machine.recipients,
      endpoint: machine.endpoint ?? null,
      networks,
    };
  });
  if (options.json) {
    io.stdout(`${JSON.stringify({ machines: rows }, null, 2)}\n`);
    return 0;
  }
  const table = [["MACHINE", "PUBLIC KEY", "RECIPIENTS", "ENDPOINT", "NETWORKS"]];
  for (const row of rows) {
    table.push([
      row.name,
      row.publicKey ? `${row.publicKey.slice(0, 10)}…${row.ownKey ? " (own)" : ""}` : "(none yet)",
      row.recipients
        .map((recipient) => recipient.split(" ")[0]!.replace(/^(age1).*/, "$1"))
        .join(",") || "-",
      row.endpoint ?? "-",
      row.networks.join(",") || "-",
    ]);
  }
  tableLines(table).forEach((line, index) => {
    io.stdout(`${index === 0 ? color.bold(line) : line}\n`);
  });
  return 0;
}
