/**
 * `wgqt render [--machine NAME]… [--format F] [--out DIR] [--identity FILE]… [--mobile]`:
 * each host's WireGuard configuration. Keys are referenced by path; they are
 * decrypted and inlined only for an explicit export of one host
 * (`--identity`, e.g. for a phone), which goes to stdout only.
 */
import { join, relative, resolve } from "node:path";
import { decryptWith } from "../../age/crypt.js";
import { ConfigError, quote, UsageError } from "../../errors.js";
import { parseKeyFileContent } from "../../keys/wireguard.js";
import { diffPlans } from "../../net/diff.js";
import { hostSecretFiles, hostView, plannedHosts } from "../../net/host.js";
import {
  FORMATS,
  type Format,
  type RenderedFile,
  render,
  renderNixosEntry,
} from "../../render/index.js";
import { readIfExists, writeFileAtomic } from "../../store/files.js";
import { loadIdentityFiles } from "../../store/rekey.js";
import { openContext } from "../context.js";
import type { CliIO } from "../io.js";
import type { GlobalOptions } from "../main.js";
import { currentPlans, describeRenumbering, PLAN_FILE } from "./plan.js";

interface RenderOptions {
  machine?: string[];
  format: string;
  out?: string;
  identity?: string[];
  mobile?: boolean;
}

export async function renderCommand(
  io: CliIO,
  global: GlobalOptions,
  options: RenderOptions,
): Promise<number> {
  if (!(FORMATS as readonly string[]).includes(options.format)) {
    throw new UsageError(
      `--format: expected one of ${FORMATS.join(", ")}, got ${quote(options.format)}`,
    );
  }
  const format = options.format as Format;
  const exporting = (options.identity?.length ?? 0) > 0;
  if (exporting && format !== "wg-quick")
    throw new UsageError("--identity: exporting keys is only for --format wg-quick");
  if (options.mobile && !exporting)
    throw new UsageError("--mobile: needs --identity to decrypt the keys it inlines");
  // Exported keys are plaintext: print them for the user to pipe (qrencode,
  // a password manager), never write them to a file ourselves.
  if (exporting && options.out !== undefined)
    throw new UsageError("--identity: exported keys go to stdout only, not to --out");

  const { config, store, color } = await openContext(io, global);
  const machines = options.machine ?? [];
  for (const name of machines) {
    if (!config.machines[name]) throw new UsageError(`--machine: unknown machine ${quote(name)}`);
  }
  const { plan, accepted } = await currentPlans(config, store);
  if (accepted) {
    const renumbered = describeRenumbering(diffPlans(accepted, plan));
    if (renumbered.length) {
      throw new ConfigError(
        `${config.path}: renumbers ${renumbered.length} existing members against ${PLAN_FILE} (${renumbered[0]!.trim()}${renumbered.length > 1 ? ", …" : ""}); review with 'wgqt plan', accept with 'wgqt plan --write'`,
      );
    }
  }
  const outDir = options.out === undefined ? undefined : resolve(io.cwd, options.out);
  const keysDir = relative(outDir ?? config.dir, config.keysDir) || ".";

  if (outDir !== undefined) {
    // Written host by host, so a large fleet's files are never all in memory at once.
    const hosts = machines.length ? machines : plannedHosts(plan);
    const seen = new Set<string>();
    let written = 0;
    const writeOut = async (file: RenderedFile) => {
      if (seen.has(file.path)) return; // shared files (options.nix) come with every host
      seen.add(file.path);
      const path = join(outDir, file.path);
      if ((await readIfExists(path))?.equals(Buffer.from(file.content))) return;
      await writeFileAtomic(path, file.content, file.mode ?? 0o644);
      written++;
    };
    for (const machine of hosts) {
      for (const file of render(plan, config, { format, machine, keysDir })) await writeOut(file);
    }
    if (format === "nixos" && machines.length === 0) await writeOut(renderNixosEntry(plan));
    io.stderr(
      `${color.green("rendered")} ${seen.size} files under ${outDir} (${written} changed)\n`,
    );
    return 0;
  }

  const files: RenderedFile[] = [];
  for (const machine of machines.length ? machines : [undefined]) {
    if (exporting && machine === undefined) {
      throw new UsageError("--identity: export one host at a time (--machine NAME)");
    }
    const exported =
      exporting && machine !== undefined
        ? await decryptHostSecrets(io, config, store, plan, machine, options.identity!)
        : undefined;
    files.push(
      ...render(plan, config, {
        format,
        ...(machine === undefined ? {} : { machine }),
        keysDir,
        ...(exported ? { export: exported } : {}),
        ...(options.mobile ? { mobile: true } : {}),
      }),
    );
  }
  for (const file of files) {
    if (files.length > 1) io.stdout(`==> ${file.path} <==\n`);
    io.stdout(file.content);
  }
  return 0;
}

/** Decrypt the files a host's configuration needs, keyed by store file, for an export. */
async function decryptHostSecrets(
  io: CliIO,
  config: Parameters<typeof hostView>[1],
  store: { dir: string },
  plan: Parameters<typeof hostView>[0],
  machine: string,
  identityFiles: string[],
): Promise<Record<string, string>> {
  const identities = await loadIdentityFiles(identityFiles, { cwd: io.cwd, home: io.env.HOME });
  for (const warning of identities.warnings) io.stderr(`warning: ${warning}\n`);
  const secrets: Record<string, string> = {};
  for (const file of hostSecretFiles(hostView(plan, config, machine))) {
    const bytes = await readIfExists(join(store.dir, file));
    if (bytes === undefined)
      throw new ConfigError(
        `${join(store.dir, file)}: missing (run wgqt keygen --machine ${machine})`,
      );
    secrets[file] = parseKeyFileContent(
      await decryptWith(bytes, identities.identities, join(store.dir, file)),
      file,
    );
  }
  return secrets;
}
