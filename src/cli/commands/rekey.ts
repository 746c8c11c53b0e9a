/**
 * `wgqt rekey [--identity FILE]… [--check-all] [--yes] [--no-commit]`. Reads
 * only the files manifest.json says are stale, unless `--check-all`.
 */
import { displayPath, shortRecipient } from "../../store/inspect.js";
import {
  applyRekey,
  describeRekey,
  inspectForRekey,
  type LoadedIdentities,
  loadIdentityFiles,
  planRekey,
  type RekeyPlan,
} from "../../store/rekey.js";
import { type Context, confirm, gitCommitStep, openContext } from "../context.js";
import type { CliIO } from "../io.js";
import type { GlobalOptions } from "../main.js";

interface RekeyOptions {
  identity?: string[];
  checkAll?: boolean;
  yes?: boolean;
  commit: boolean;
}

function describePlan(context: Context, plan: RekeyPlan): string[] {
  const { color, config } = context;
  return plan.files.map(({ secret, added, removed, untrusted }) => {
    const changes = [
      ...added.map((recipient) => color.green(`+${shortRecipient(recipient)}`)),
      ...removed.map((recipient) => color.red(`-${shortRecipient(recipient)}`)),
      ...(untrusted ? [untrusted] : []),
    ];
    return `  ${color.yellow("~")} ${displayPath(config, secret.file)}: ${changes.join(", ")}`;
  });
}

export async function rekeyCommand(
  io: CliIO,
  global: GlobalOptions,
  options: RekeyOptions,
): Promise<number> {
  const context = await openContext(io, global);
  const { config, store } = context;
  const inspection = await inspectForRekey(config, store, { checkAll: options.checkAll });
  const plan = planRekey(inspection);
  let identities: LoadedIdentities = { sources: [], identities: [], warnings: [] };
  if (plan.files.length === 0) {
    io.stderr(
      `nothing to re-encrypt: all ${plan.unchanged.length} files are encrypted to the recipients wgqt.toml asks\n`,
    );
  } else {
    io.stderr(
      `rekey (${plan.unchanged.length} other files stay as they are):\n${describePlan(context, plan).join("\n")}\n`,
    );
    identities = await loadIdentityFiles(options.identity ?? [], {
      cwd: io.cwd,
      home: io.env.HOME,
    });
    for (const warning of identities.warnings)
      io.stderr(`${context.color.yellow("warning:")} ${warning}\n`);
    // Secrets do not change, so, like keygen, only a terminal is asked.
    if (io.interactive && !(await confirm(io, `Re-encrypt ${describeRekey(plan)}?`, options.yes))) {
      io.stderr("cancelled; nothing written\n");
      return 1;
    }
  }
  await applyRekey(config, store, inspection, plan, identities, {
    now: io.now,
    afterApply: async (files, message) => {
      if (plan.files.length) io.stderr(`re-encrypted ${describeRekey(plan)}\n`);
      await gitCommitStep(io, config, options.commit)(files, message);
    },
  });
  return 0;
}
