/**
 * `wgqt render [--machine NAME]… [--format F] [--out DIR] [--identity FILE]…
 * [--mobile] [--interface NAME]`: each host's WireGuard configuration. Keys are
 * referenced by path; they are decrypted and inlined only for an explicit
 * export of one host (`--identity`, e.g. for a phone), which goes to stdout
 * only. A `--mobile` export is one tunnel, exactly one wg-quick file and
 * nothing else on stdout, so it can be piped into `qrencode` whole: the
 * WireGuard apps import one tunnel per QR code.
 */
import { basename, isAbsolute, join, relative, resolve, sep } from "node:path";
import { setImmediate } from "node:timers/promises";
import { decryptWith } from "../../age/crypt.js";
import { ConfigError, quote, StoreError, UsageError } from "../../errors.js";
import { parseKeyFileContent } from "../../keys/encoding.js";
import type { MemberChange } from "../../net/diff.js";
import { hostSecretFiles, hostView, plannedHosts } from "../../net/host.js";
import type { RenderedFile } from "../../render/common.js";
import { renderNixosEntry } from "../../render/nixos.js";
import { FORMATS, type Format, render } from "../../render/render.js";
import { movedHosts, planAcceptPlan } from "../../store/accepted-plan.js";
import { readIfExists } from "../../store/files.js";
import { loadIdentityFiles } from "../../store/identities.js";
import { PLAN_FILE } from "../../store/layout.js";
import { openContext } from "../context.js";
import type { CliIO } from "../io.js";
import type { GlobalOptions } from "../options.js";
import { describeRenumbering } from "../plan-lines.js";
import { countFiles, FLEET, OutputWriter } from "../render-output.js";

interface RenderOptions {
  machine?: string[];
  format: string;
  out?: string;
  identity?: string[];
  mobile?: boolean;
  interface?: string;
}

export async function renderCommand(
  io: CliIO,
  global: GlobalOptions,
  options: RenderOptions,
): Promise<number> {
  if (!(FORMATS as readonly string[]).includes(options.format)) {
    throw new UsageError(
      "usage/bad-value",
      `--format: expected one of ${FORMATS.join(", ")}, got ${quote(options.format)}`,
    );
  }
  const format = options.format as Format;
  const exporting = (options.identity?.length ?? 0) > 0;
  if (exporting && format !== "wg-quick")
    throw new UsageError(
      "usage/conflict",
      "--identity: exporting keys is only for --format wg-quick",
    );
  if (options.mobile && !exporting)
    throw new UsageError(
      "usage/conflict",
      "--mobile: needs --identity to decrypt the keys it inlines",
    );
  if (options.interface !== undefined && format !== "wg-quick")
    throw new UsageError(
      "usage/conflict",
      "--interface: picks one wg-quick file; only for --format wg-quick",
    );
  // Exported keys are plaintext: print them for the user to pipe (qrencode,
  // a password manager), never write them to a file ourselves.
  if (exporting && options.out !== undefined)
    throw new UsageError(
      "usage/conflict",
      "--identity: exported keys go to stdout only, not to --out",
    );

  const { config, store, color } = await openContext(io, global);
  const machines = options.machine ?? [];
  for (const name of machines) {
    if (!config.machines[name])
      throw new UsageError("usage/unknown-name", `--machine: unknown machine ${quote(name)}`);
  }
  const { plan, accepted, moves: changes } = planAcceptPlan(config, store);
  // Hosts in a network that moves against plan.json are not rendered until the
  // move is accepted: their deployed peers still use the accepted addresses.
  const requested = machines.length ? machines : plannedHosts(plan);
  const moved = new Set(accepted ? movedHosts(accepted, plan) : []);
  const held = requested.filter((host) => moved.has(host));
  const refusal = () =>
    new ConfigError(
      "config/renumbering",
      `${config.path}: renumbers ${renumbering(changes, PLAN_FILE)}, so ${held.join(", ")} ${held.length === 1 ? "is" : "are"} not rendered; review with 'wgqt plan', accept with 'wgqt plan --write'`,
    );
  const outDir = options.out === undefined ? undefined : resolve(io.cwd, options.out);
  const keysDir = relative(outDir ?? config.dir, config.keysDir) || ".";

  if (outDir !== undefined) {
    if (format === "nixos") warnOutside(io, config.dir, outDir, keysDir);
    // Rendered host by host and written in batches, so a large fleet's files
    // are never all in memory at once.
    const out = new OutputWriter(outDir, format);
    for (const machine of requested) {
      if (moved.has(machine)) continue;
      for (const file of render(plan, config, { format, machine, keysDir }))
        await out.add(file, machine);
      // Let the event loop turn: V8 finishes its garbage collections in tasks
      // there, and without them the heap grows host after host.
      await setImmediate();
    }
    // default.nix imports every host's file: kept as it is while some are held back.
    if (format === "nixos" && machines.length === 0 && held.length === 0)
      await out.add(renderNixosEntry(plan), FLEET);
    const { removed, changed } = await out.finish(machines.length ? machines : undefined, held);
    for (const path of changed)
      io.stderr(
        `${color.yellow("warning:")} left ${join(outDir, path)}: wgqt rendered it before and no longer does, but it changed since\n`,
      );
    io.stderr(
      `${color.green("rendered")} ${countFiles(out.files)} under ${outDir} (${out.written} changed${removed.length ? `; removed ${removed.length} no longer rendered` : ""})\n`,
    );
    if (held.length) throw refusal();
    return 0;
  }
  // stdout is one stream a script reads whole: all of it or nothing.
  if (held.length) throw refusal();

  if (options.mobile && machines.length !== 1)
    throw new UsageError("usage/missing", "--mobile: export one host at a time (--machine NAME)");
  const files: RenderedFile[] = [];
  for (const machine of machines.length ? machines : [undefined]) {
    if (exporting && machine === undefined) {
      throw new UsageError(
        "usage/missing",
        "--identity: export one host at a time (--machine NAME)",
      );
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
  const shown = pickInterface(files, options.interface, options.mobile === true, machines[0]);
  for (const file of shown) {
    if (shown.length > 1) io.stdout(`==> ${file.path} <==\n`);
    io.stdout(file.content);
  }
  return 0;
}

/**
 * `2 existing members against plan.json (germany nyaa: 10.128.0.11 -> 10.128.0.10; …)`:
 * the count, then the first moves.
 */
function renumbering(changes: readonly MemberChange[], file: string): string {
  const moves = describeRenumbering(changes).map((line) => line.trim());
  const shown = moves.slice(0, 2).join("; ");
  const more = moves.length > 2 ? `; and ${moves.length - 2} more` : "";
  return `${moves.length} existing ${moves.length === 1 ? "member" : "members"} against ${file} (${shown}${more})`;
}

/**
 * NixOS modules name the store's files by paths relative to themselves
 * (`file = ../wireguard_keys/tavern.age`): output written outside the
 * repository works only while both stay exactly where they are.
 */
function warnOutside(io: CliIO, root: string, outDir: string, keysDir: string): void {
  const inside = relative(root, outDir);
  if (inside !== ".." && !inside.startsWith(`..${sep}`) && !isAbsolute(inside)) return;
  io.stderr(
    `warning: --out ${outDir} is outside ${root}: its modules reach the key store as ${keysDir}/…, which holds only while both stay where they are (render into the repository to keep them together)\n`,
  );
}

/**
 * The files `--interface` names (wg-quick's `<host>/<interface>.conf`), or all
 * of them; a `--mobile` export must come down to one file.
 */
function pickInterface(
  files: RenderedFile[],
  name: string | undefined,
  mobile: boolean,
  machine: string | undefined,
): RenderedFile[] {
  // `<host>/hosts` (its names) is no interface.
  const confs = files.filter((file) => file.path.endsWith(".conf"));
  const interfaceOf = (file: RenderedFile) => basename(file.path).replace(/\.conf$/, "");
  const picked = name === undefined ? files : confs.filter((file) => interfaceOf(file) === name);
  const names = confs.map(interfaceOf).join(", ");
  if (picked.length === 0) {
    throw new UsageError(
      "usage/bad-value",
      `--interface: ${quote(machine ?? "")} has no interface ${quote(name)} (it has ${names || "none"})`,
    );
  }
  if (mobile && picked.length > 1) {
    throw new UsageError(
      "usage/missing",
      `--mobile: ${quote(machine ?? "")} has ${picked.length} tunnels (${names}); a phone imports one per QR code: add --interface NAME`,
    );
  }
  return picked;
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
      throw new StoreError(
        "store/missing-key",
        `${join(store.dir, file)}: missing (run wgqt keygen --machine ${machine})`,
      );
    secrets[file] = parseKeyFileContent(
      await decryptWith(bytes, identities.identities, join(store.dir, file)),
      file,
    );
  }
  return secrets;
}
