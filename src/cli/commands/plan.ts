/**
 * `wgqt plan [--json] [--write [--yes]]`: every network's block, id, port and
 * each member's address. The accepted plan is kept as `plan.json` next to the
 * store (committed), so a change to wgqt.toml that would renumber existing
 * machines shows up as a diff before anything is written.
 */
import { join } from "node:path";
import type { Plan } from "../../net/plan.js";
import { applyAcceptPlan, planAcceptPlan, serializePlan } from "../../store/accepted-plan.js";
import { PLAN_FILE } from "../../store/layout.js";
import { LOCK_FILE } from "../../store/lock.js";
import { confirm, gitCommitStep, openContext } from "../context.js";
import type { CliIO } from "../io.js";
import { holdLock } from "../lock-hold.js";
import type { GlobalOptions } from "../options.js";
import { describeRenumbering, listNames } from "../plan-lines.js";
import { columnWidths, tableLine } from "../table.js";

interface PlanOptions {
  json?: boolean;
  write?: boolean;
  yes?: boolean;
  commit: boolean;
}

/** The plan's table, a row at a time: a network's name, id, port and block on its first member's row, its /64 on the second's. */
function* tableRows(plan: Plan): Generator<string[]> {
  yield ["NETWORK", "ID", "PORT", "BLOCK", "MEMBER", "ROLE", "ADDRESS", "IPV6"];
  for (const network of plan.networks) {
    const { members } = network;
    for (let index = 0; index < members.length; index++) {
      const member = members[index]!;
      const first = index === 0;
      yield [
        first ? network.name : "",
        first ? String(network.id) : "",
        first ? String(network.port) : "",
        first ? network.cidr : index === 1 ? (network.cidr6 ?? "") : "",
        member.machine,
        member.role,
        member.address,
        member.address6 ?? "-",
      ];
    }
  }
}

/** How many of the table's lines go to one write. */
const LINES_PER_WRITE = 1000;

/**
 * Print the plan's table a thousand lines at a time: a dense fleet's is
 * megabytes (a line per member of every network), each part garbage as soon
 * as it is written, where the whole table as one string would be held twice
 * (the text and its bytes).
 */
function writeTable(plan: Plan, write: (text: string) => void): void {
  const widths = columnWidths(tableRows(plan));
  let lines: string[] = [];
  for (const row of tableRows(plan)) {
    lines.push(tableLine(row, widths));
    if (lines.length === LINES_PER_WRITE) {
      write(`${lines.join("\n")}\n`);
      lines = [];
    }
  }
  if (lines.length > 0) write(`${lines.join("\n")}\n`);
}

/** Per mesh with two or more members without an endpoint: whether and how they reach each other. */
export function meshReachLines(plan: Plan): string[] {
  return plan.networks.flatMap((network) => {
    const roaming = network.roaming ?? [];
    if (network.kind !== "mesh" || roaming.length < 2) return [];
    const names = listNames(roaming);
    return [
      network.relay === undefined
        ? `mesh ${network.name}: ${names} have no endpoint, so no two of them can reach each other directly; set meshes.${network.name}.relay to a member with an endpoint to connect them`
        : `mesh ${network.name}: ${names} have no endpoint; they reach each other through the relay ${network.relay}`,
    ];
  });
}

export async function planCommand(
  io: CliIO,
  global: GlobalOptions,
  options: PlanOptions,
): Promise<number> {
  // Only --write changes anything: it alone takes the fleet lock, then reads afresh.
  const first = await openContext(io, global);
  const release = options.write ? await holdLock(io, join(first.config.dir, LOCK_FILE)) : undefined;
  try {
    const { config, store, color } = options.write ? await openContext(io, global) : first;
    const accepting = planAcceptPlan(config, store);
    const { plan, path } = accepting;
    if (options.json) io.stdout(serializePlan(plan));
    else writeTable(plan, io.stdout);
    for (const line of meshReachLines(plan)) io.stderr(`${line}\n`);
    const renumbered = describeRenumbering(accepting.moves);
    if (renumbered.length) {
      io.stderr(
        `${color.yellow("renumbering:")} wgqt.toml moves ${renumbered.length} existing members (vs ${PLAN_FILE}):\n${renumbered.join("\n")}\n`,
      );
    }
    if (!options.write) {
      if (renumbered.length)
        io.stderr(`accept it with 'wgqt plan --write' (render refuses until then)\n`);
      return 0;
    }
    if (
      renumbered.length &&
      !(await confirm(io, `Accept renumbering ${renumbered.length} members?`, options.yes))
    ) {
      io.stderr("cancelled; nothing written\n");
      return 1;
    }
    const changed = await applyAcceptPlan(config, accepting, {
      afterApply: async (files, message) => {
        io.stderr(`wrote ${path}\n`);
        await gitCommitStep(io, config, options.commit)(files, message);
      },
    });
    if (changed.length === 0) io.stderr(`${path} is up to date\n`);
    return 0;
  } finally {
    await release?.();
  }
}
