/**
 * The journal of a transaction (transaction.ts): how it is laid out on disk,
 * and what a journal found in the repository may touch before recovery
 * applies it.
 */
import { basename, dirname, isAbsolute, relative, sep } from "node:path";
import * as v from "valibot";
import { quote } from "../errors.js";
import { table, wholeNumber } from "../schema.js";
import { TEMP_PREFIX } from "./files.js";
import { isRemovableStoreName, isStoreFileName, storeDirEntry } from "./layout.js";

export const JOURNAL_FILE = ".wgqt-journal.json";
/** `wgqt init` lists the journal and the lock here so that neither is ever committed. */
export const GITIGNORE_FILE = ".gitignore";

/** What a journal holds: paths relative to the root, the bytes of each file written. */
export interface Journal {
  /** What the change was, for the git commit made after recovery. */
  message: string;
  writes: { path: string; mode: number; data: Buffer }[];
  removes: string[];
}

/**
 * The journal's first line. Version 2 lists each write's size; the files'
 * bytes follow the line back to back, in that order, as they are: the
 * journal of a keygen of thousands of files is about as big as the files,
 * and is written without first encoding them into one long string.
 */
const headSchema = table({
  version: v.literal(2),
  message: v.string(),
  writes: v.array(
    table({
      path: v.string(),
      mode: wholeNumber,
      size: v.pipe(wholeNumber, v.minValue(0)),
    }),
  ),
  removes: v.array(v.string()),
});

/** The journal's bytes, in pieces: its first line, then each file's bytes. */
export function encodeJournal({ message, writes, removes }: Journal): Buffer[] {
  const head = {
    version: 2,
    message,
    writes: writes.map(({ path, mode, data }) => ({ path, mode, size: data.length })),
    removes,
  };
  return [Buffer.from(`${JSON.stringify(head)}\n`), ...writes.map(({ data }) => data)];
}

/** The journal in `bytes`, or undefined when they are not a whole wgqt journal. */
export function decodeJournal(bytes: Buffer): Journal | undefined {
  const newline = bytes.indexOf(0x0a);
  const headEnd = newline < 0 ? bytes.length : newline;
  let head: v.InferOutput<typeof headSchema>;
  try {
    head = v.parse(headSchema, JSON.parse(bytes.subarray(0, headEnd).toString("utf8")));
  } catch {
    return undefined;
  }
  const { message, removes } = head;
  let offset = headEnd + 1;
  const writes = head.writes.map(({ path, mode, size }) => {
    const data = bytes.subarray(offset, offset + size);
    offset += size;
    return { path, mode, data };
  });
  // Exactly the bytes the head announces, no fewer and no more.
  return offset === bytes.length ? { message, writes, removes } : undefined;
}

/** What a journal may touch: the files of one fleet. */
export interface JournalScope {
  /** Absolute path of the fleet's wgqt.toml, in the journal's directory. */
  configFile: string;
  /**
   * Absolute key store directory. Undefined when wgqt.toml does not load:
   * then no store file may be named, since where the store is is unknown.
   */
  keysDir?: string;
  /**
   * Whether git tracks this file (absolute path). wgqt never commits its
   * journal, so one that git tracks came from a commit and is refused.
   */
  isTracked?: (path: string) => Promise<boolean>;
}

/** The longest commit message a journal may carry. */
const MAX_MESSAGE = 1000;

/**
 * Why `journal` names something no wgqt transaction of this fleet writes,
 * or undefined when it does not. A journal may write only wgqt.toml, the
 * `.gitignore` beside it, and store files under the names wgqt gives them
 * (layout.ts), never with an executable or special mode; it may remove only
 * store files (prune removes orphans whatever their name, and temp files).
 * Anything else, `.git/hooks/…` above all, is a planted journal.
 */
export function journalProblem(
  root: string,
  scope: JournalScope,
  journal: Journal,
): string | undefined {
  // The message becomes a commit subject and a line on the terminal: one
  // line, no control characters (no escape sequences).
  if (/\p{Cc}/u.test(journal.message) || journal.message.length > MAX_MESSAGE)
    return "its message is not one line of text";
  const rootFiles = new Set([GITIGNORE_FILE]);
  if (dirname(scope.configFile) === root) rootFiles.add(basename(scope.configFile));
  const keys =
    scope.keysDir === undefined ? undefined : relative(root, scope.keysDir).split(sep).join("/");
  const storeFile = (path: string): string | undefined =>
    keys !== undefined && keys !== "" && path.startsWith(`${keys}/`)
      ? path.slice(keys.length + 1)
      : undefined;
  const check = (path: string, removal: boolean): string | undefined => {
    const parts = path.split("/");
    if (isAbsolute(path) || parts.includes("..")) return `names ${quote(path)}, outside ${root}`;
    const notOurs = `names ${quote(path)}, which is not a file wgqt writes${scope.keysDir === undefined ? " (wgqt.toml does not load, so where the key store is is unknown)" : ""}`;
    if (parts.some((part) => part === "" || part === ".")) return notOurs;
    if (!removal && rootFiles.has(path)) return undefined;
    const file = storeFile(path);
    if (file === undefined) return notOurs;
    if (removal) {
      const temp = storeDirEntry(file)?.name.startsWith(TEMP_PREFIX) ?? false;
      return temp || isRemovableStoreName(file) ? undefined : notOurs;
    }
    return isStoreFileName(file) ? undefined : notOurs;
  };
  for (const { path, mode } of journal.writes) {
    const problem = check(path, false);
    if (problem !== undefined) return problem;
    // Key files, public files and wgqt.toml are 0644: never executable, setuid or sticky.
    if ((mode & ~0o666) !== 0)
      return `would give ${quote(path)} mode ${mode.toString(8)}; wgqt never writes executable or special files`;
  }
  for (const path of journal.removes) {
    const problem = check(path, true);
    if (problem !== undefined) return problem;
  }
  return undefined;
}
