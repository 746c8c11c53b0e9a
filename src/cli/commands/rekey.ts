/**
 * `wgqt rekey [--identity FILE]… [--check-all] [--accept FILE]… [--yes]
 * [--no-commit]`. Reads only the files manifest.json says are stale, unless
 * `--check-all`; refuses files it cannot vouch for (see `rekeyRefusal`),
 * unless `--accept` names them as changed on purpose.
 */
import { StoreError } from "../../errors.js";
import { displayPath, shortRecipient } from "../../store/inspect/names.js";
import {
  acceptedFiles,
  applyRekey,
  describeRekey,
  inspectForRekey,
  type LoadedIdentities,
  loadIdentityFiles,
  planRekey,
  type RekeyPlan,
  rekeyRefusal,
} from "../../store/rekey.js";
import { type Context, confirm, gitCommitStep, openContext } from "../context.js";
import type { CliIO } from "../io.js";
import type { GlobalOptions } from "../options.js";
import { planLines } from "../plan-lines.js";
import { startProgress } from "../progress.js";

interface RekeyOptions {
  identity?: string[];
  checkAll?: boolean;
  accept?: string[];
  yes?: boolean;
  verbose?: boolean;
  commit: boolean;
}

function describePlan(context: Context, plan: RekeyPlan, verbose: boolean): string[] {
  const { color, config } = context;
  const symbol = color.yellow("~");
  const items = plan.files.map(({ secret, added, removed, untrusted }) => {
    const changes = [
      ...added.map((recipient) => color.green(`+${shortRecipient(recipient)}`)),
      ...removed.map((recipient) => color.red(`-${shortRecipient(recipient)}`)),
      ...(untrusted ? [`${untrusted}; accepted (--accept)`] : []),
    ];
    return {
      line: `  ${symbol} ${displayPath(config, secret.file)}: ${changes.join(", ")}`,
      machines: secret.vpn === undefined ? secret.machines : [`vpn ${secret.vpn}`],
      what: secret.kind.replace(/-/g, " "),
    };
  });
  return planLines(items, { verbose, symbol, noun: "files" });
}

export async function rekeyCommand(
  io: CliIO,
  global: GlobalOptions,
  options: RekeyOptions,
): Promise<number> {
  const context = await openContext(io, global);
  const { config, store } = context;
  const accept = acceptedFiles(config, store, options.accept ?? [], io.cwd);
  const inspection = await inspectForRekey(config, store, { checkAll: options.checkAll, accept });
  const plan = planRekey(inspection);
  const refusal = rekeyRefusal(inspection, plan, accept);
  if (refusal !== undefined) throw new StoreError("store/unvouched", refusal);
  let identities: LoadedIdentities = { sources: [], identities: [], warnings: [] };
  const loadIdentities = async () => {
    identities = await loadIdentityFiles(options.identity ?? [], {
      cwd: io.cwd,
      home: io.env.HOME,
    });
    for (const warning of identities.warnings)
      io.stderr(`${context.color.yellow("warning:")} ${warning}\n`);
  };
  // An identity named on the command line must load even when nothing needs it.
  if (options.identity?.length) await loadIdentities();
  if (plan.files.length === 0) {
    io.stderr(
      `nothing to re-encrypt: all ${plan.unchanged.length} files are encrypted to the recipients wgqt.toml asks\n`,
    );
  } else {
    io.stderr(
      `rekey (${plan.unchanged.length} other files stay as they are):\n${describePlan(context, plan, options.verbose === true).join("\n")}\n`,
    );
    if (identities.identities.length === 0) await loadIdentities();
    // Secrets do not change, so, like keygen, only a terminal is asked.
    if (
      io.interactive &&
      !(await confirm(io, `Re-encrypt ${describeRekey(plan)}?`, options.yes, { default: true }))
    ) {
      io.stderr("cancelled; nothing written\n");
      return 1;
    }
  }
  const progress = await startProgress(io, "re-encrypting", plan.files.length);
  try {
    await applyRekey(config, store, inspection, plan, identities, {
      now: io.now,
      accept,
      onProgress: (done) => progress.advance(done),
      afterApply: async (files, message) => {
        progress.stop();
        if (plan.files.length) io.stderr(`re-encrypted ${describeRekey(plan)}\n`);
        await gitCommitStep(io, config, options.commit)(files, message);
      },
    });
  } finally {
    progress.stop();
  }
  return 0;
}
