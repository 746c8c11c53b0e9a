/** `wgqt vpn import NAME --from FILE --machine M [--id N] [--yes] [--no-commit]` */
import { open, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { appendVpn, replaceVpn } from "../../config/edit.js";
import { MAX_PROVIDER_FILE_BYTES, parseProviderFile } from "../../config/provider.js";
import { ConfigError, quote, UsageError } from "../../errors.js";
import { expectedSecrets } from "../../store/expected.js";
import { displayPath } from "../../store/inspect/names.js";
import { vpnKeyFile, vpnPresharedKeyFile } from "../../store/layout.js";
import {
  applyVpnImport,
  planVpnImport,
  type VpnImportPlan,
  vpnImportMessage,
} from "../../store/vpn-import.js";
import { confirm, gitCommitStep, openContext } from "../context.js";
import type { CliIO } from "../io.js";
import type { GlobalOptions } from "../options.js";

interface ImportOptions {
  from: string;
  machine: string;
  id?: string;
  yes?: boolean;
  commit: boolean;
}

function parseId(text: string): number {
  if (!/^\d{1,3}$/.test(text))
    throw new UsageError(
      "usage/bad-value",
      `--id: expected a whole number 1…99, got ${quote(text)}`,
    );
  return Number(text);
}

function describeImport(
  plan: VpnImportPlan,
  recipients: number,
  where: (file: string) => string,
): string[] {
  const { vpn } = plan;
  const lines = [
    `  + [vpns.${vpn.name}] id ${vpn.id}, machines ${vpn.machines.join(", ")}, endpoint ${vpn.endpoint}, address ${vpn.address}${vpn.address6 === undefined ? "" : `, address6 ${vpn.address6}`}${vpn.dns.length ? `, dns ${vpn.dns.join(", ")}` : ""}${vpn.mtu === undefined ? "" : `, mtu ${vpn.mtu}`}${vpn.keepalive === undefined ? "" : `, keepalive ${vpn.keepalive}`}`,
    `  + ${where(vpnKeyFile(vpn.name))} (the provider's private key, encrypted to ${recipients} recipients)`,
  ];
  if (vpn.presharedKey)
    lines.push(`  + ${where(vpnPresharedKeyFile(vpn.name))} (its preshared key)`);
  return lines;
}

export async function vpnImportCommand(
  io: CliIO,
  global: GlobalOptions,
  name: string,
  options: ImportOptions,
): Promise<number> {
  const id = options.id === undefined ? undefined : parseId(options.id);
  const context = await openContext(io, global);
  const { config, store } = context;
  const from = resolve(io.cwd, options.from);
  let text: string;
  try {
    text = await readAtMost(from, MAX_PROVIDER_FILE_BYTES);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new UsageError("usage/unreadable", `--from: cannot read ${from} (${code})`);
  }
  const { vpn: provider, warnings } = parseProviderFile(text, from);
  for (const warning of warnings) io.stderr(`warning: ${options.from}: ${warning}\n`);
  const plan = planVpnImport(config, store, await readFile(config.path, "utf8"), {
    name,
    machine: options.machine,
    ...(id === undefined ? {} : { id }),
    provider,
  });
  const recipients = expectedSecrets(plan.config).get(vpnKeyFile(name))?.recipients.length ?? 0;
  io.stderr(
    `vpn import ${name} for ${options.machine}:\n${describeImport(plan, recipients, (file) => displayPath(config, file)).join("\n")}\n`,
  );
  if (plan.action !== "new") {
    const question =
      plan.action === "share"
        ? `Share the key of VPN ${name} with ${options.machine} (only one of ${plan.vpn.machines.join(", ")} may be connected at a time)?`
        : `Replace the provider key and settings of VPN ${name} (used by ${plan.vpn.machines.join(", ")})?`;
    if (!(await confirm(io, question, options.yes))) {
      io.stderr("cancelled; nothing written\n");
      return 1;
    }
  }
  await applyVpnImport(config, store, plan, {
    now: io.now,
    message: vpnImportMessage(plan),
    afterApply: async (files, message) => {
      io.stderr(
        `imported VPN ${name} (id ${plan.vpn.id}) for ${options.machine}\n` +
          `${options.from} holds the private key in plaintext: delete it now that the store has it\n` +
          `next: wgqt render --machine ${options.machine}\n`,
      );
      // The same table edit, applied alone to the committed wgqt.toml (config-commit.ts).
      const edit = (text: string) =>
        plan.action === "new" ? appendVpn(text, plan.vpn) : replaceVpn(text, plan.vpn, config.path);
      await gitCommitStep(io, config, options.commit, edit)(files, message);
    },
  });
  return 0;
}

/**
 * A provider file's text, reading no more than `limit` + 1 bytes: `--from`
 * may name a device or a pipe that never ends (`/dev/zero`), and a file past
 * the limit is refused without being read whole.
 */
async function readAtMost(path: string, limit: number): Promise<string> {
  const file = await open(path, "r");
  try {
    const buffer = Buffer.alloc(limit + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await file.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > limit) {
      const stat = await file.stat();
      const size = stat.isFile() ? `${stat.size} bytes` : `more than ${limit} bytes`;
      throw new ConfigError(
        "config/invalid",
        `${path}: ${size}; wgqt reads no provider file over 64 KiB (they are a few hundred bytes: is this the right file?)`,
      );
    }
    return buffer.toString("utf8", 0, length);
  } finally {
    await file.close();
  }
}
