/** `wgqt prune [--yes] [--no-commit]` */
import { displayPath } from "../../store/inspect/names.js";
import { findTempFiles } from "../../store/inspect/read.js";
import { applyPrune, type PrunePlan, planPrune, pruneIsEmpty } from "../../store/prune.js";
import { confirm, gitCommitStep, openContext } from "../context.js";
import type { CliIO } from "../io.js";
import type { GlobalOptions } from "../main.js";

interface PruneOptions {
  yes?: boolean;
  commit: boolean;
}

function counted(count: number, singular: string, plural: string): string {
  return `${count} ${count === 1 ? singular : plural}`;
}

function describeCounts(plan: PrunePlan): string {
  const parts: string[] = [];
  if (plan.orphans.length)
    parts.push(counted(plan.orphans.length, "orphaned file", "orphaned files"));
  if (plan.tempFiles.length) parts.push(counted(plan.tempFiles.length, "temp file", "temp files"));
  return parts.join(" + ") || "stale manifest entries";
}

export async function pruneCommand(
  io: CliIO,
  global: GlobalOptions,
  options: PruneOptions,
): Promise<number> {
  const context = await openContext(io, global);
  const { config, store, color } = context;
  // Only the temp files: prune goes by file names, never by what is in the files.
  const plan = planPrune(config, store, await findTempFiles(store));
  if (pruneIsEmpty(plan)) {
    io.stderr("nothing to prune: every key file is one wgqt.toml asks for\n");
    return 0;
  }
  const lines = [
    ...plan.orphans.map((file) => `  ${color.red("-")} ${displayPath(config, file)}`),
    ...plan.tempFiles.map((file) => `  ${color.red("-")} ${displayPath(config, file)} (temp file)`),
    ...plan.manifestEntries
      .filter((file) => !plan.orphans.includes(file))
      .map((file) => `  ${color.red("-")} manifest entry ${file} (file already gone)`),
  ];
  const counts = describeCounts(plan);
  io.stderr(`prune:\n${lines.join("\n")}\n`);
  // Deleting keys is not undone by a rerun: always confirmed, --yes on a pipe.
  if (!(await confirm(io, `Remove ${counts}?`, options.yes))) {
    io.stderr("cancelled; nothing removed\n");
    return 1;
  }
  await applyPrune(config, store, plan, {
    message: `wgqt: prune (${counts})`,
    afterApply: async (files, message) => {
      io.stderr(`removed ${counts}\n`);
      await gitCommitStep(io, config, options.commit)(files, message);
    },
  });
  return 0;
}
