/** `wgqt keygen [--machine NAME]… [--yes] [--no-commit]` */
import {
  applyKeygen,
  describeCounts,
  type KeygenPlan,
  keygenIsEmpty,
  planKeygen,
} from "../../store/keygen.js";
import { type Context, confirm, gitCommitStep, openContext } from "../context.js";
import type { CliIO } from "../io.js";
import type { GlobalOptions } from "../main.js";

interface KeygenOptions {
  machine?: string[];
  yes?: boolean;
  commit: boolean;
}

function describePlan(context: Context, plan: KeygenPlan): string[] {
  const { color } = context;
  const lines: string[] = [];
  for (const name of plan.keypairs) lines.push(`  ${color.green("+")} keypair ${name}`);
  for (const name of plan.externalPublicKeys)
    lines.push(`  ${color.green("+")} public key ${name} (its own)`);
  for (const peers of plan.presharedKeys)
    lines.push(`  ${color.green("+")} preshared key ${peers.join("+")}`);
  for (const name of plan.kept.keypairs) lines.push(`  ${color.dim(`= kept keypair ${name}`)}`);
  for (const peers of plan.kept.presharedKeys)
    lines.push(`  ${color.dim(`= kept preshared key ${peers.join("+")}`)}`);
  return lines;
}

/** Machines that have something missing, for the interactive picker. */
function machinesWithWork(plan: KeygenPlan): Set<string> {
  return new Set([...plan.keypairs, ...plan.externalPublicKeys, ...plan.presharedKeys.flat()]);
}

export async function keygenCommand(
  io: CliIO,
  global: GlobalOptions,
  options: KeygenOptions,
): Promise<number> {
  const context = await openContext(io, global);
  const { config, store } = context;
  let selected = options.machine ?? [];
  let plan = planKeygen(config, store, selected);

  if (io.interactive && !options.yes && selected.length === 0 && !keygenIsEmpty(plan)) {
    // On a terminal with no --machine: let the user pick among machines that need work.
    const candidates = [...machinesWithWork(plan)].sort();
    const { default: inquirer } = await import("inquirer");
    const answer = await inquirer.prompt<{ machines: string[] }>([
      {
        type: "checkbox",
        name: "machines",
        message: "Create missing keys for which machines?",
        choices: candidates.map((name) => ({ name, value: name, checked: true })),
      },
    ]);
    if (answer.machines.length === 0) {
      io.stderr("nothing selected; no keys created\n");
      return 0;
    }
    selected = answer.machines;
    plan = planKeygen(config, store, selected);
  }

  const lines = describePlan(context, plan);
  if (keygenIsEmpty(plan)) {
    // Every key exists; still bring the generated files in line with
    // wgqt.toml (after a hand edit, say).
    io.stderr(`${lines.join("\n")}${lines.length ? "\n" : ""}nothing to do: every key exists\n`);
    await applyKeygen(config, store, plan, {
      now: io.now,
      log: context.log,
      message: "wgqt: keygen (update generated files)",
      afterApply: async (files, message) => {
        io.stderr(`updated ${files.length} generated files\n`);
        await gitCommitStep(io, config, options.commit)(files, message);
      },
    });
    return 0;
  }
  const counts = describeCounts(plan.keypairs.length, plan.presharedKeys.length);
  io.stderr(`keygen${selected.length ? ` ${selected.join(", ")}` : ""}:\n${lines.join("\n")}\n`);
  // Only a terminal is asked; on a pipe keygen just does the work (DESIGN.md).
  if (io.interactive && !(await confirm(io, `Create ${counts}?`, options.yes))) {
    io.stderr("cancelled; nothing written\n");
    return 1;
  }
  const subject = `wgqt: keygen${selected.length ? ` ${selected.join(" ")}` : ""} (${counts})`;
  await applyKeygen(config, store, plan, {
    now: io.now,
    message: subject,
    afterApply: async (files, message) => {
      io.stderr(`created ${counts}\n`);
      await gitCommitStep(io, config, options.commit)(files, message);
    },
  });
  return 0;
}
