/** `wgqt rotate --machine NAME… | --pair A B | --all [--keep-psks] [--yes] [--no-commit]` */
import { UsageError } from "../../errors.js";
import {
  applyRotate,
  describeRotation,
  planRotate,
  type RotatePlan,
  type RotateRequest,
  unrotatableVpns,
} from "../../store/rotate.js";
import { type Context, confirm, gitCommitStep, openContext } from "../context.js";
import type { CliIO } from "../io.js";
import type { GlobalOptions } from "../options.js";
import { keypairItem, planLines, presharedKeyItem } from "../plan-lines.js";
import { startProgress } from "../progress.js";
import { tableLines } from "../table.js";

interface RotateOptions {
  machine?: string[];
  /** commander's variadic `--pair <machines...>`: must be exactly two names. */
  pair?: string[];
  all?: boolean;
  keepPsks?: boolean;
  vpn?: string[];
  yes?: boolean;
  verbose?: boolean;
  commit: boolean;
}

function describePlan(context: Context, plan: RotatePlan, verbose: boolean): string[] {
  const symbol = context.color.yellow("~");
  return planLines(
    [
      ...plan.keypairs.map((name) => keypairItem(symbol, name)),
      ...plan.presharedKeys.map((peers) => presharedKeyItem(symbol, peers)),
    ],
    { verbose, symbol, noun: "keys" },
  );
}

function describeRedeploy(plan: RotatePlan, verbose: boolean): string[] {
  // A gateway of a large network has a reason per client: a few, then a count.
  const reasons = (list: string[]) =>
    verbose || list.length <= 4
      ? list.join(", ")
      : `${list.slice(0, 3).join(", ")} and ${list.length - 3} more`;
  return tableLines(plan.redeploy.map((entry) => [entry.machine, reasons(entry.reasons)])).map(
    (line) => `  ${line}`,
  );
}

export async function rotateCommand(
  io: CliIO,
  global: GlobalOptions,
  options: RotateOptions,
): Promise<number> {
  if (options.pair !== undefined && options.pair.length !== 2) {
    throw new UsageError(
      "usage/bad-value",
      `--pair: give exactly two machines (--pair A B), got ${options.pair.length}`,
    );
  }
  const context = await openContext(io, global);
  const { config, store } = context;
  const request: RotateRequest = {
    machines: options.machine ?? [],
    pairs: options.pair ? [[options.pair[0]!, options.pair[1]!]] : [],
    all: Boolean(options.all),
    keepPresharedKeys: Boolean(options.keepPsks),
    vpns: options.vpn ?? [],
  };
  const plan = planRotate(config, request);
  const counts = describeRotation(plan);
  const vpns = request.all ? unrotatableVpns(config) : [];
  if (vpns.length) {
    io.stderr(
      `not rotated: VPN keys (${vpns.join(", ")}) are the providers'; get new ones from the provider and re-import them (wgqt vpn import)\n`,
    );
  }
  const verbose = options.verbose === true;
  io.stderr(`rotate ${plan.subject}:\n${describePlan(context, plan, verbose).join("\n")}\n`);
  // Rotation breaks deployed tunnels until redeploy: never without a yes, even on a pipe.
  if (
    !(await confirm(
      io,
      `Replace ${counts} (${plan.subject}); deployed machines keep the old keys until redeployed?`,
      options.yes,
    ))
  ) {
    io.stderr("cancelled; nothing written\n");
    return 1;
  }
  const progress = await startProgress(
    io,
    "making keys",
    plan.keypairs.length + plan.presharedKeys.length,
  );
  try {
    await applyRotate(config, store, plan, {
      now: io.now,
      onProgress: (done) => progress.advance(done),
      afterApply: async (files, message) => {
        progress.stop();
        io.stderr(
          `rotated ${counts}\nredeploy these machines; until then their tunnels using the old keys fail:\n${describeRedeploy(plan, verbose).join("\n")}\n`,
        );
        await gitCommitStep(io, config, options.commit)(files, message);
      },
    });
  } finally {
    progress.stop();
  }
  return 0;
}
