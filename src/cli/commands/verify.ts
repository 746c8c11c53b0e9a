/**
 * `wgqt verify [--identity FILE]… [--json]`: the CI gate. Each problem on its
 * own line on stdout, a summary on stderr, exit 1; or a one-line summary and
 * exit 0. With `--json`, `{ ok, problems, checked }` on stdout (problems as in
 * `wgqt status --json`; checked: files decrypted with the identities, or null).
 */

import { byteOrder } from "../../order.js";
import { findProblems, type Problem } from "../../store/inspect/problems.js";
import { checkWithIdentities } from "../../store/inspect/verify.js";
import { loadIdentities } from "../identities.js";
import { openInspection } from "../inspection.js";
import type { CliIO } from "../io.js";
import type { GlobalOptions } from "../options.js";

interface VerifyOptions {
  identity?: string[];
  json?: boolean;
}

function summary(problems: Problem[]): string {
  const kinds = new Map<string, number>();
  for (const problem of problems) kinds.set(problem.kind, (kinds.get(problem.kind) ?? 0) + 1);
  const byKind = [...kinds].map(([kind, count]) => `${count} ${kind}`).join(", ");
  return `${problems.length} ${problems.length === 1 ? "problem" : "problems"} (${byKind})`;
}

export async function verifyCommand(
  io: CliIO,
  global: GlobalOptions,
  options: VerifyOptions,
): Promise<number> {
  const { config, store, color, inspection } = await openInspection(io, global);
  const problems = findProblems(inspection);
  let checked: string[] | null = null;
  if (options.identity?.length) {
    const identities = await loadIdentities(io, color, options.identity);
    const result = await checkWithIdentities(inspection, identities.identities);
    problems.push(...result.problems);
    problems.sort((a, b) => byteOrder(a.file, b.file));
    checked = result.checked;
  }
  if (options.json) {
    io.stdout(`${JSON.stringify({ ok: problems.length === 0, problems, checked }, null, 2)}\n`);
  } else {
    for (const problem of problems) io.stdout(`${problem.message}\n`);
  }
  const keys = store.encryptedFiles.size;
  const decrypted =
    checked === null ? "" : `; ${checked.length} decrypted and checked with the given identities`;
  if (problems.length) {
    io.stderr(
      `${color.red("verify failed:")} ${summary(problems)} in ${config.keysDirSetting}${decrypted}\n`,
    );
    return 1;
  }
  io.stderr(
    `${color.green("verify ok:")} ${keys} encrypted files in ${config.keysDirSetting}, each to exactly the recipients wgqt.toml asks; nothing missing or orphaned; generated files up to date${decrypted}\n`,
  );
  return 0;
}
