/**
 * `wgqt render [--machine NAME]… [--format F] [--out DIR] [--identity FILE]…
 * [--mobile] [--interface NAME]`: each host's WireGuard configuration. Keys are
 * referenced by path; they are decrypted and inlined only for an explicit
 * export of one host (`--identity`, e.g. for a phone), which goes to stdout
 * only. A `--mobile` export is one tunnel, exactly one wg-quick file and
 * nothing else on stdout, so it can be piped into `qrencode` whole: the
 * WireGuard apps import one tunnel per QR code.
 */
import { readdirSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { setImmediate } from "node:timers/promises";
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
import { readIfExists, readIfExistsSync, writeFilesAtomic } from "../../store/files.js";
import { loadIdentityFiles } from "../../store/rekey.js";
import { openContext } from "../context.js";
import type { CliIO } from "../io.js";
import type { GlobalOptions } from "../main.js";
import { currentPlans, describeRenumbering, PLAN_FILE } from "./plan.js";

/**
 * How many bytes, and at most how many files, are written and flushed
 * together (see OutputWriter): few flushes, but a batch of many small files
 * (networkd's) still kept short, since its paths and buffers stay in memory
 * until it is written.
 */
const WRITE_BATCH_BYTES = 16 * 1024 * 1024;
const WRITE_BATCH_FILES = 2048;

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
      `--format: expected one of ${FORMATS.join(", ")}, got ${quote(options.format)}`,
    );
  }
  const format = options.format as Format;
  const exporting = (options.identity?.length ?? 0) > 0;
  if (exporting && format !== "wg-quick")
    throw new UsageError("--identity: exporting keys is only for --format wg-quick");
  if (options.mobile && !exporting)
    throw new UsageError("--mobile: needs --identity to decrypt the keys it inlines");
  if (options.interface !== undefined && format !== "wg-quick")
    throw new UsageError("--interface: picks one wg-quick file; only for --format wg-quick");
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
    // Rendered host by host and written in batches, so a large fleet's files
    // are never all in memory at once.
    const hosts = machines.length ? machines : plannedHosts(plan);
    const out = new OutputWriter(outDir);
    for (const machine of hosts) {
      for (const file of render(plan, config, { format, machine, keysDir })) await out.add(file);
      // Let the event loop turn: V8 finishes its garbage collections in tasks
      // there, and without them the heap grows host after host.
      await setImmediate();
    }
    if (format === "nixos" && machines.length === 0) await out.add(renderNixosEntry(plan));
    await out.flush();
    io.stderr(
      `${color.green("rendered")} ${out.files} files under ${outDir} (${out.written} changed)\n`,
    );
    return 0;
  }

  if (options.mobile && machines.length !== 1)
    throw new UsageError("--mobile: export one host at a time (--machine NAME)");
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
  const shown = pickInterface(files, options.interface, options.mobile === true, machines[0]);
  for (const file of shown) {
    if (shown.length > 1) io.stdout(`==> ${file.path} <==\n`);
    io.stdout(file.content);
  }
  return 0;
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
  const interfaceOf = (file: RenderedFile) => basename(file.path).replace(/\.conf$/, "");
  const picked = name === undefined ? files : files.filter((file) => interfaceOf(file) === name);
  const names = files.map(interfaceOf).join(", ");
  if (picked.length === 0) {
    throw new UsageError(
      `--interface: ${quote(machine ?? "")} has no interface ${quote(name)} (it has ${names || "none"})`,
    );
  }
  if (mobile && picked.length > 1) {
    throw new UsageError(
      `--mobile: ${quote(machine ?? "")} has ${picked.length} tunnels (${names}); a phone imports one per QR code: add --interface NAME`,
    );
  }
  return picked;
}

/**
 * Writes rendered files under `--out`, each only when its content changed.
 * Files are replaced atomically in batches, each batch made durable at once
 * (one syncfs for a large batch) rather than with an fsync per file: a
 * fleet's configuration is thousands of files. A crash part-way leaves each
 * file old or new, as a crash between two files would; running render again
 * completes it.
 */
class OutputWriter {
  /** Distinct paths rendered. */
  files = 0;
  /** Paths whose content changed, written. */
  written = 0;
  private readonly seen = new Set<string>();
  /** Each output directory's entries, listed once: most files of a fresh render do not exist yet. */
  private readonly listings = new Map<string, Set<string>>();
  /**
   * The batch's bytes, one buffer reused from batch to batch: a buffer per
   * file would be freed only by a later garbage collection, and a large
   * fleet's output would pile up in memory until then.
   */
  private readonly arena = Buffer.allocUnsafe(WRITE_BATCH_BYTES);
  private used = 0;
  private batch: { path: string; data: Buffer; mode: number }[] = [];

  constructor(private readonly outDir: string) {}

  async add(file: RenderedFile): Promise<void> {
    if (this.seen.has(file.path)) return; // shared files (options.nix) come with every host
    this.seen.add(file.path);
    this.files++;
    const size = Buffer.byteLength(file.content);
    if (size > this.arena.length - this.used) await this.flush();
    // A file larger than the whole arena gets a buffer of its own.
    const inArena = size <= this.arena.length;
    const data = inArena
      ? this.arena.subarray(this.used, this.used + size)
      : Buffer.allocUnsafe(size);
    data.write(file.content);
    const path = join(this.outDir, file.path);
    if (this.exists(path) && readIfExistsSync(path)?.equals(data)) return;
    if (inArena) this.used += size;
    this.batch.push({ path, data, mode: file.mode ?? 0o644 });
    if (this.batch.length >= WRITE_BATCH_FILES) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.used = 0;
    await writeFilesAtomic(batch);
    this.written += batch.length;
  }

  private exists(path: string): boolean {
    const dir = dirname(path);
    let names = this.listings.get(dir);
    if (names === undefined) {
      names = new Set(listDirectory(dir));
      this.listings.set(dir, names);
    }
    return names.has(basename(path));
  }
}

/** A directory's entries; none when it does not exist yet. */
function listDirectory(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
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
