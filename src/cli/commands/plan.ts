/**
 * `wgqt plan [--json] [--write [--yes]]`: every network's block, id, port and
 * each member's address. The accepted plan is kept as `plan.json` next to the
 * store (committed), so a change to wgqt.toml that would renumber existing
 * machines shows up as a diff before anything is written.
 */
import { join } from "node:path";
import type { Config } from "../../config/types.js";
import { diffPlans, type PlanDiff } from "../../net/diff.js";
import { plan as makePlan, type Plan, type PlanJson } from "../../net/plan.js";
import { readAcceptedPlan, serializePlan } from "../../store/accepted-plan.js";
import type { KeyStore } from "../../store/keystore.js";
import { PLAN_FILE } from "../../store/layout.js";
import { LOCK_FILE } from "../../store/lock.js";
import { Transaction } from "../../store/transaction.js";
import { PUBLIC_MODE } from "../../store/write.js";
import { confirm, gitCommitStep, openContext } from "../context.js";
import type { CliIO } from "../io.js";
import { holdLock } from "../lock-hold.js";
import type { GlobalOptions } from "../options.js";

export { PLAN_FILE };

interface PlanOptions {
  json?: boolean;
  write?: boolean;
  yes?: boolean;
  commit: boolean;
}

/** The plan for the config and store, and the accepted one from plan.json (if any). */
export async function currentPlans(
  config: Config,
  store: KeyStore,
): Promise<{ plan: Plan; accepted?: PlanJson; path: string }> {
  const path = join(config.keysDir, PLAN_FILE);
  const plan = makePlan(config, store.publicKeys());
  const accepted = readAcceptedPlan(config.keysDir);
  return accepted === undefined ? { plan, path } : { plan, accepted, path };
}

/**
 * A line for a command that changed the fleet when wgqt.toml now moves
 * existing members against plan.json (removing a client moves the clients
 * after it), or undefined when nobody moves.
 */
export function pendingRenumbering(
  config: Config,
  publicKeys: Record<string, string>,
): string | undefined {
  let moves: number;
  try {
    const accepted = readAcceptedPlan(config.keysDir);
    if (accepted === undefined) return undefined;
    moves = diffPlans(accepted, makePlan(config, publicKeys)).changed.length;
  } catch {
    return undefined; // `wgqt plan` and `wgqt render` report it
  }
  if (moves === 0) return undefined;
  return `renumbering: wgqt.toml now moves ${moves} existing ${moves === 1 ? "member" : "members"} against ${PLAN_FILE}; review with 'wgqt plan', accept with 'wgqt plan --write' (render holds back their hosts until then)`;
}

/** One line per renumbered member: `germany nyaa: 10.128.0.11 -> 10.128.0.12, port 16843 -> 16844`. */
export function describeRenumbering(diff: PlanDiff): string[] {
  return diff.changed.map((change) => {
    const parts: string[] = [];
    if (change.address) parts.push(`${change.address.from} -> ${change.address.to}`);
    if (change.port) parts.push(`port ${change.port.from} -> ${change.port.to}`);
    return `  ${change.network} ${change.machine}: ${parts.join(", ")}`;
  });
}

function table(plan: Plan): string {
  const rows = [["NETWORK", "ID", "PORT", "BLOCK", "MEMBER", "ROLE", "ADDRESS"]];
  for (const network of plan.networks) {
    network.members.forEach((member, index) => {
      const first = index === 0;
      rows.push([
        first ? network.name : "",
        first ? String(network.id) : "",
        first ? String(network.port) : "",
        first ? network.cidr : "",
        member.machine,
        member.role,
        member.address,
      ]);
    });
  }
  // A fleet's table has a row per member: widths by a loop (spreading every
  // row into Math.max would pass too many arguments for a large fleet).
  const widths = rows[0]!.map(() => 0);
  for (const row of rows) {
    row.forEach((cell, column) => {
      widths[column] = Math.max(widths[column]!, cell.length);
    });
  }
  let text = "";
  for (const row of rows) {
    text += `${row
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join("  ")
      .trimEnd()}\n`;
  }
  return text;
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
    const { plan, accepted, path } = await currentPlans(config, store);
    io.stdout(options.json ? serializePlan(plan) : table(plan));
    const diff = accepted ? diffPlans(accepted, plan) : undefined;
    const renumbered = diff ? describeRenumbering(diff) : [];
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
    const tx = new Transaction(config.dir, async (files, message) => {
      io.stderr(`wrote ${path}\n`);
      await gitCommitStep(io, config, options.commit)(files, message);
    });
    tx.write(path, serializePlan(plan), PUBLIC_MODE);
    const message = `wgqt: plan (${plan.networks.length} networks${renumbered.length ? `, ${renumbered.length} members renumbered` : ""})`;
    const changed = await tx.commit(message);
    if (changed.length === 0) io.stderr(`${path} is up to date\n`);
    return 0;
  } finally {
    await release?.();
  }
}
