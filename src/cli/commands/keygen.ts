/** `wgqt keygen [--machine NAME]… [--yes] [--verbose] [--no-commit]` */

import type { Pair } from "../../config/peers.js";
import {
  applyKeygen,
  describeCounts,
  type KeygenPlan,
  keygenIsEmpty,
  planKeygen,
} from "../../store/keygen.js";
import { type Context, gitCommitStep, goAhead, openContext } from "../context.js";
import type { CliIO } from "../io.js";
import { grouped } from "../numbers.js";
import type { GlobalOptions } from "../options.js";
import {
  keypairItem,
  listNames,
  type PlanItem,
  planLines,
  presharedKeyItem,
  someNames,
} from "../plan-lines.js";
import { startProgress } from "../progress.js";
import { tableLines } from "../table.js";

interface KeygenOptions {
  machine?: string[];
  yes?: boolean;
  verbose?: boolean;
  commit: boolean;
}

function describePlan(context: Context, plan: KeygenPlan, verbose: boolean): string[] {
  const { color } = context;
  const plus = color.green("+");
  const items: PlanItem[] = [
    ...plan.keypairs.map((name) => keypairItem(plus, name)),
    ...plan.externalPublicKeys.map((name) => ({
      line: `  ${plus} public key ${name} (its own)`,
      machines: [name],
      what: "own public key",
    })),
    ...plan.presharedKeys.map((peers) => presharedKeyItem(plus, peers)),
  ];
  const lines = planLines(items, { verbose, symbol: plus, noun: "keys" });
  const kept = plan.kept.keypairs.length + plan.kept.presharedKeys.length;
  if (verbose || items.length + kept < 40) {
    for (const name of plan.kept.keypairs) lines.push(`  ${color.dim(`= kept keypair ${name}`)}`);
    for (const peers of plan.kept.presharedKeys)
      lines.push(`  ${color.dim(`= kept preshared key ${peers.join("+")}`)}`);
  } else if (kept > 0) {
    lines.push(
      `  ${color.dim(`= kept ${describeCounts(plan.kept.keypairs.length, plan.kept.presharedKeys.length)}`)}`,
    );
  }
  return lines;
}

/** What each machine is missing, for the interactive picker: its keypair, and pairs' keys with whom. */
function missingByMachine(plan: KeygenPlan): Map<string, { own: string[]; peers: string[] }> {
  const missing = new Map<string, { own: string[]; peers: string[] }>();
  const of = (name: string) => {
    let entry = missing.get(name);
    if (entry === undefined) {
      entry = { own: [], peers: [] };
      missing.set(name, entry);
    }
    return entry;
  };
  for (const name of plan.keypairs) of(name).own.push("keypair");
  for (const name of plan.externalPublicKeys) of(name).own.push("its own public key");
  for (const [a, b] of plan.presharedKeys) {
    of(a).peers.push(b);
    of(b).peers.push(a);
  }
  return missing;
}

/** `keypair, preshared keys with spark, tavern`: what the picker says a machine is missing. */
function missingText(entry: { own: string[]; peers: string[] }): string {
  const parts = [...entry.own];
  if (entry.peers.length)
    parts.push(
      `${entry.peers.length === 1 ? "preshared key" : "preshared keys"} with ${listNames([...entry.peers].sort())}`,
    );
  return parts.join(", ");
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
    // On a terminal with no --machine: let the user pick among machines that need work,
    // each shown with what it is missing.
    const missing = missingByMachine(plan);
    const candidates = [...missing.keys()].sort();
    const labels = tableLines(candidates.map((name) => [name, missingText(missing.get(name)!)]));
    const { default: inquirer } = await import("inquirer");
    const answer = await inquirer.prompt<{ machines: string[] }>([
      {
        type: "checkbox",
        name: "machines",
        message:
          "Create missing keys for which machines? (a pair's preshared key needs both machines picked)",
        choices: candidates.map((name, index) => ({
          name: labels[index]!,
          value: name,
          checked: true,
        })),
      },
    ]);
    if (answer.machines.length === 0) {
      io.stderr("nothing selected; no keys created\n");
      return 0;
    }
    selected = answer.machines;
    const picked = new Set(selected);
    // A machine left out is left alone: no key of a pair it is in is made either.
    const both = ([a, b]: Pair) => picked.has(a) && picked.has(b);
    const full = planKeygen(config, store, selected);
    plan = { ...full, presharedKeys: full.presharedKeys.filter(both) };
  }

  const lines = describePlan(context, plan, options.verbose === true);
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
  io.stderr(`keygen${selected.length ? ` ${listNames(selected)}` : ""}:\n${lines.join("\n")}\n`);
  // Only a terminal is asked; on a pipe keygen just does the work
  // (docs/design.md "Prompts and scripts").
  if (!(await goAhead(io, `Create ${counts}?`, options.yes))) return 1;
  // A commit subject is one line: a long selection is named in part and counted.
  const subject = `wgqt: keygen${selected.length ? ` ${someNames(selected)}` : ""} (${counts})`;
  const total = plan.keypairs.length + plan.presharedKeys.length;
  const progress = await startProgress(io, "making keys", total);
  let made = 0;
  try {
    await applyKeygen(config, store, plan, {
      now: io.now,
      message: subject,
      onProgress: (done) => {
        progress.advance(done);
        made += done;
        if (made >= total) progress.step(`writing ${grouped(total)} keys`);
      },
      afterApply: async (files, message) => {
        progress.stop();
        io.stderr(`created ${counts}\n`);
        // git takes a while for a fleet's thousands of files: a spinner meanwhile.
        const committing = await startProgress(io, "committing", files.length);
        committing.step(`committing ${grouped(files.length)} files`);
        const above = { ...io, stderr: (text: string) => committing.log(text) };
        try {
          await gitCommitStep(above, config, options.commit)(files, message);
        } finally {
          committing.stop();
        }
      },
    });
  } finally {
    progress.stop();
  }
  return 0;
}
