/**
 * `wgqt rekey [--identity FILE]… [--check-all] [--accept FILE]… [--yes]
 * [--no-commit]`. Reads only the files manifest.json says are stale, unless
 * `--check-all`; refuses files it cannot vouch for (see `rekeyRefusal`),
 * unless `--accept` names them as changed on purpose.
 */
import { StoreError } from "../../errors.js";
import type { LoadedIdentities } from "../../store/identities.js";
import { displayPath, shortRecipient } from "../../store/inspect/names.js";
import {
  acceptedFiles,
  describeRekey,
  inspectForRekey,
  planRekey,
  type RekeyPlan,
  rekeyRefusal,
} from "../../store/rekey.js";
import { applyRekey } from "../../store/rekey-apply.js";
import { type Context, gitCommitStep, goAhead, openContext } from "../context.js";
import { loadIdentities } from "../identities.js";
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

function describePlan(
  context: Pick<Context, "color" | "config">,
  plan: RekeyPlan,
  verbose: boolean,
): string[] {
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
  const { config, store, color } = await openContext(io, global);
  const accept = acceptedFiles(config, store, options.accept ?? [], io.cwd);
  const inspection = await inspectForRekey(config, store, { checkAll: options.checkAll, accept });
  const plan = planRekey(inspection);
  const refusal = rekeyRefusal(inspection, plan, accept);
  if (refusal !== undefined) throw new StoreError("store/unvouched", refusal);
  // An identity named on the command line must load even when nothing needs it.
  let identities: LoadedIdentities | undefined = options.identity?.length
    ? await loadIdentities(io, color, options.identity)
    : undefined;
  if (plan.files.length === 0) {
    io.stderr(
      `nothing to re-encrypt: all ${plan.unchanged.length} files are encrypted to the recipients wgqt.toml asks\n`,
    );
  } else {
    io.stderr(
      `rekey (${plan.unchanged.length} other files stay as they are):\n${describePlan({ color, config }, plan, options.verbose === true).join("\n")}\n`,
    );
    identities ??= await loadIdentities(io, color, []);
    // Secrets do not change, so, like keygen, only a terminal is asked.
    if (!(await goAhead(io, `Re-encrypt ${describeRekey(plan)}?`, options.yes))) return 1;
  }
  const progress = await startProgress(io, "re-encrypting", plan.files.length);
  try {
    const none: LoadedIdentities = { sources: [], identities: [], warnings: [] };
    await applyRekey(config, store, inspection, plan, identities ?? none, {
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
