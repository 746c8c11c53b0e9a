/**
 * Writing rendered files under `wgqt render --out DIR`.
 *
 * - Each file is written only when its content changed, atomically, in
 *   batches made durable at once (one syncfs for a large batch) rather than
 *   with an fsync per file: a fleet's configuration is thousands of files.
 *   A crash part-way leaves each file old or new; rendering again completes
 *   it.
 * - Directories are made one level at a time, so a path that cannot hold
 *   one (`/proc/x`, `/etc/hostname/x`, `/sys/x`) is a one-line error naming
 *   it. (Node's recursive mkdir retries ENOENT under /proc forever.)
 * - `DIR/.wgqt-rendered.json` records, per format, each file render wrote
 *   there, the hosts it was rendered for and a hash of its content. A later
 *   render removes the files it rendered before and no longer renders (a
 *   machine removed, a host out of a network), so they are not deployed
 *   again. It never removes anything it did not write, nor a file changed
 *   since it wrote it.
 */
import { hash } from "node:crypto";
import { lstatSync, mkdirSync, readdirSync, rmdirSync, statSync, unlinkSync } from "node:fs";
import { basename, dirname, join, relative, sep } from "node:path";
import { ConfigError } from "../errors.js";
import { byteOrder } from "../order.js";
import type { RenderedFile } from "../render/common.js";
import { readIfExistsSync, writeFilesAtomic } from "../store/files.js";

/** The record of what render wrote, beside what it wrote. */
export const RENDER_RECORD = ".wgqt-rendered.json";

/**
 * How many bytes, and at most how many files, are written and flushed
 * together: few flushes, but a batch of many small files (networkd's) still
 * kept short, since its paths and buffers stay in memory until it is written.
 */
const WRITE_BATCH_BYTES = 16 * 1024 * 1024;
const WRITE_BATCH_FILES = 2048;

/** Tag of a file rendered for the whole fleet (NixOS's default.nix), not for one host. */
export const FLEET = "*";

interface RecordedFile {
  /** Hosts it was rendered for (FLEET for the entry module), byte order. */
  hosts: string[];
  /** First 16 hex digits of the SHA-256 of what was written. */
  sha256: string;
}

type Record = { [format: string]: { [path: string]: RecordedFile } };

function hashOf(data: Uint8Array): string {
  return hash("sha256", data).slice(0, 16);
}

/** `code` of a failed system call, for messages. */
function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}

/**
 * Make `dir` and any missing parents, one level at a time. Refuses, naming
 * the path, when a part of it is not a directory or cannot be made.
 */
export function ensureDirectory(dir: string, flag = "--out"): void {
  const missing: string[] = [];
  let current = dir;
  for (;;) {
    let stats: ReturnType<typeof statSync> | undefined;
    try {
      stats = statSync(current, { throwIfNoEntry: false });
    } catch (error) {
      // A file on the way: its parent is found, and named, next.
      if (codeOf(error) !== "ENOTDIR")
        throw new ConfigError("config/output", `${flag}: cannot use ${current} (${codeOf(error)})`);
    }
    if (stats !== undefined) {
      if (!stats.isDirectory())
        throw new ConfigError("config/output", `${flag}: ${current} is not a directory`);
      break;
    }
    missing.push(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const path of missing.reverse()) {
    try {
      mkdirSync(path);
    } catch (error) {
      if (codeOf(error) === "EEXIST" && statSync(path).isDirectory()) continue;
      throw new ConfigError("config/output", `${flag}: cannot create ${path} (${codeOf(error)})`);
    }
  }
}

export class OutputWriter {
  /** Distinct paths rendered. */
  files = 0;
  /** Paths whose content changed, written. */
  written = 0;
  /** This format's files rendered now: path → hosts and hash. */
  private readonly rendered = new Map<string, { hosts: Set<string>; sha256: string }>();
  /** Each output directory's entries, listed once: most files of a fresh render do not exist yet. */
  private readonly listings = new Map<string, Set<string>>();
  private readonly made = new Set<string>();
  /**
   * The batch's bytes, one buffer reused from batch to batch: a buffer per
   * file would be freed only by a later garbage collection, and a large
   * fleet's output would pile up in memory until then.
   */
  private readonly arena = Buffer.allocUnsafe(WRITE_BATCH_BYTES);
  private used = 0;
  private batch: { path: string; data: Buffer; mode: number }[] = [];
  private readonly record: Record;

  constructor(
    private readonly outDir: string,
    private readonly format: string,
  ) {
    ensureDirectory(outDir);
    this.record = readRecord(outDir);
  }

  /** Add a file rendered for `host` (FLEET for a fleet-wide one). */
  async add(file: RenderedFile, host: string): Promise<void> {
    const known = this.rendered.get(file.path);
    if (known !== undefined) {
      // Shared files (options.nix) come with every host.
      known.hosts.add(host);
      return;
    }
    this.files++;
    const size =
      file.utf8?.reduce((sum, piece) => sum + piece.length, 0) ?? Buffer.byteLength(file.content);
    if (size > this.arena.length - this.used) await this.flush();
    // A file larger than the whole arena gets a buffer of its own.
    const inArena = size <= this.arena.length;
    const data = inArena
      ? this.arena.subarray(this.used, this.used + size)
      : Buffer.allocUnsafe(size);
    if (file.utf8 === undefined) data.write(file.content);
    else {
      let offset = 0;
      for (const piece of file.utf8) {
        data.set(piece, offset);
        offset += piece.length;
      }
    }
    this.rendered.set(file.path, { hosts: new Set([host]), sha256: hashOf(data) });
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
    for (const { path } of batch) this.makeParent(path);
    try {
      await writeFilesAtomic(batch);
    } catch (error) {
      const where = (error as { path?: string }).path ?? this.outDir;
      throw new ConfigError("config/output", `--out: cannot write ${where} (${codeOf(error)})`);
    }
    this.written += batch.length;
  }

  /**
   * Write what is left, remove the files this format rendered before and no
   * longer renders, and record what is there now. `selected`: the hosts
   * asked for (--machine), or undefined for the whole fleet. `held`: hosts
   * not rendered this time whose files stay as they are. Returns the paths
   * removed and those left because they changed since render wrote them.
   */
  async finish(
    selected: readonly string[] | undefined,
    held: readonly string[],
  ): Promise<{ removed: string[]; changed: string[] }> {
    await this.flush();
    const before = this.record[this.format] ?? {};
    const keep = new Set(held);
    if (keep.size > 0) keep.add(FLEET);
    const chosen = selected === undefined ? undefined : new Set(selected);
    const after: { [path: string]: RecordedFile } = {};
    const stale: string[] = [];
    for (const [path, entry] of Object.entries(before)) {
      if (this.rendered.has(path)) continue;
      const heldBack = entry.hosts.some((host) => keep.has(host));
      // With --machine, only files rendered for nothing but the chosen hosts are theirs to drop.
      const outOfScope = chosen !== undefined && !entry.hosts.every((host) => chosen.has(host));
      if (heldBack || outOfScope) after[path] = entry;
      else stale.push(path);
    }
    for (const [path, { hosts, sha256 }] of this.rendered) {
      const merged = new Set(hosts);
      if (chosen !== undefined) for (const host of before[path]?.hosts ?? []) merged.add(host);
      after[path] = { hosts: [...merged].sort(byteOrder), sha256 };
    }
    const removed: string[] = [];
    const changed: string[] = [];
    for (const path of stale.sort(byteOrder)) {
      const full = join(this.outDir, path);
      // Never through a link: a planted record and symlink must not aim a removal elsewhere.
      if (!this.isPlainFile(path)) continue;
      const bytes = readIfExistsSync(full);
      if (bytes === undefined) continue;
      if (hashOf(bytes) !== before[path]!.sha256) {
        changed.push(path);
        continue;
      }
      try {
        unlinkSync(full);
      } catch (error) {
        throw new ConfigError("config/output", `--out: cannot remove ${full} (${codeOf(error)})`);
      }
      removed.push(path);
      this.removeEmptyParents(full);
    }
    this.record[this.format] = sortedRecord(after);
    const text = recordText(this.record);
    const recordPath = join(this.outDir, RENDER_RECORD);
    if (readIfExistsSync(recordPath)?.toString("utf8") !== text) {
      try {
        // Only wgqt reads it: owner-only, like the most private file render writes.
        await writeFilesAtomic([{ path: recordPath, data: Buffer.from(text), mode: 0o600 }]);
      } catch (error) {
        throw new ConfigError(
          "config/output",
          `--out: cannot write ${recordPath} (${codeOf(error)})`,
        );
      }
    }
    return { removed, changed };
  }

  /** Whether `path` (relative) is a regular file reached without following a symlink. */
  private isPlainFile(path: string): boolean {
    let current = this.outDir;
    const parts = path.split("/");
    for (const [index, part] of parts.entries()) {
      current = join(current, part);
      const stats = lstatSync(current, { throwIfNoEntry: false });
      if (stats === undefined || stats.isSymbolicLink()) return false;
      if (index === parts.length - 1) return stats.isFile();
      if (!stats.isDirectory()) return false;
    }
    return false;
  }

  private makeParent(path: string): void {
    const dir = dirname(path);
    if (this.made.has(dir)) return;
    ensureDirectory(dir);
    this.made.add(dir);
  }

  /** Remove directories left empty below the output directory (render made them). */
  private removeEmptyParents(file: string): void {
    let dir = dirname(file);
    while (dir !== this.outDir && relative(this.outDir, dir).split(sep)[0] !== "..") {
      try {
        if (readdirSync(dir).length > 0) return;
        rmdirSync(dir);
      } catch {
        return;
      }
      dir = dirname(dir);
    }
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

/** The record as JSON, one line per file (sorted), so it stays small and diffs well. */
function recordText(record: Record): string {
  const formats = Object.keys(record).sort(byteOrder);
  const blocks = formats.map((format) => {
    const files = Object.entries(record[format]!).sort(([a], [b]) => byteOrder(a, b));
    const lines = files.map(
      ([path, entry]) =>
        `    ${JSON.stringify(path)}: ${JSON.stringify({ hosts: entry.hosts, sha256: entry.sha256 })}`,
    );
    return `  ${JSON.stringify(format)}: {${lines.length ? `\n${lines.join(",\n")}\n  ` : ""}}`;
  });
  return `{${blocks.length ? `\n${blocks.join(",\n")}\n` : ""}}\n`;
}

function sortedRecord<T>(object: { [key: string]: T }): { [key: string]: T } {
  return Object.fromEntries(Object.entries(object).sort(([a], [b]) => byteOrder(a, b)));
}

/**
 * The record in `outDir`; empty when there is none. One that does not read
 * as a record is replaced (and nothing is removed on its say).
 */
function readRecord(outDir: string): Record {
  const bytes = readIfExistsSync(join(outDir, RENDER_RECORD));
  if (bytes === undefined) return {};
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch {
    return {};
  }
  const record: Record = {};
  if (typeof json !== "object" || json === null) return record;
  for (const [format, files] of Object.entries(json)) {
    if (typeof files !== "object" || files === null) continue;
    const entries: { [path: string]: RecordedFile } = {};
    for (const [path, entry] of Object.entries(files as object)) {
      const { hosts, sha256 } = (entry ?? {}) as Partial<RecordedFile>;
      // Only a relative path inside the output directory is ever removed.
      if (
        !Array.isArray(hosts) ||
        !hosts.every((host) => typeof host === "string") ||
        typeof sha256 !== "string" ||
        !isInside(path)
      )
        continue;
      entries[path] = { hosts, sha256 };
    }
    record[format] = entries;
  }
  return record;
}

function isInside(path: string): boolean {
  const parts = path.split("/");
  return (
    path !== "" &&
    !path.startsWith("/") &&
    !path.includes("\\") &&
    !parts.some((part) => part === "" || part === "." || part === "..")
  );
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

/** `1 file`, `3 files`. */
export function countFiles(count: number): string {
  return `${count} ${count === 1 ? "file" : "files"}`;
}
