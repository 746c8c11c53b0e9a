/**
 * Which `wgqt.toml` goes into a commit. Every commit wgqt makes must be
 * self-consistent: a fresh clone of it passes `wgqt verify`. The store's
 * files (who each key is encrypted to, secrets.nix, machines.nix, plan.json)
 * are made from the wgqt.toml in the work tree, which may hold edits the
 * user has not committed:
 *
 * - edits the store depends on (a proxy added by hand, then `wgqt keygen`
 *   made its preshared keys) go into the commit with it, and the command
 *   says so: without them HEAD's store would hold keys for a proxy its
 *   wgqt.toml does not have, which `verify` calls orphans;
 * - edits the store does not depend on (a new `udp_start`) stay out, and
 *   stay in the file, uncommitted. When the command itself edits wgqt.toml
 *   (`machine add`), the commit holds HEAD's text with only that edit.
 *
 * Whether the store depends on an edit is decided by comparing what the two
 * texts make of the store (`storeView`): the files wgqt.toml asks for with
 * their recipients, the machines with their endpoints and own public keys,
 * and, when plan.json is committed, the plan.
 */
import { spawn } from "node:child_process";
import { readFile, realpath } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, sep } from "node:path";
import { parseConfig } from "../config/load.js";
import { type Config, sortedNames } from "../config/types.js";
import { plan as makePlan, planJson } from "../net/plan.js";
import { byteOrder } from "../order.js";
import { expectedFor } from "../store/expected.js";
import { PLAN_FILE } from "../store/layout.js";

export interface ConfigInCommit {
  /** The paths to commit: the command's, and wgqt.toml when the store depends on its edits. */
  files: string[];
  /** Paths committed with these bytes instead of the work tree's. */
  contents: Map<string, Uint8Array>;
  /** One line for the user about wgqt.toml, when there is something to say. */
  note?: string;
  /** A paragraph for the commit message, likewise. */
  body?: string;
}

/** What a wgqt.toml makes of the store, as one comparable string. */
export function storeView(config: Config, withPlan: boolean): string {
  const machines = sortedNames(config.machines).map((name) => {
    const machine = config.machines[name]!;
    return [name, machine.endpoint ?? null, machine.publicKey ?? null];
  });
  const expected = [...expectedFor(config).values()]
    .map((secret) => [secret.file, secret.kind, secret.machines, secret.recipients])
    .sort(([a], [b]) => byteOrder(a as string, b as string));
  let plan: unknown = null;
  if (withPlan) {
    try {
      plan = planJson(makePlan(config));
    } catch {
      plan = "no plan";
    }
  }
  return JSON.stringify({ keysDir: config.keysDirSetting, machines, expected, plan });
}

/** Whether two texts of wgqt.toml make the same store (false when either does not load). */
function sameStore(path: string, a: string, b: string, withPlan: boolean): boolean {
  try {
    return storeView(parseConfig(a, path), withPlan) === storeView(parseConfig(b, path), withPlan);
  } catch {
    return false;
  }
}

/**
 * Decide how `config`'s wgqt.toml goes into a commit of `files`. `edit`: the
 * change the command made to the file's text, when it made one, so it can
 * be applied to HEAD's text alone.
 */
export async function configForCommit(
  config: Config,
  files: string[],
  edit?: (text: string) => string,
): Promise<ConfigInCommit> {
  const plain: ConfigInCommit = { files, contents: new Map() };
  const path = config.path;
  if (!(await insideWorkTree(path))) return plain;
  const head = await git(dirname(path), ["show", `HEAD:./${basename(path)}`]);
  const working = await readFile(path, "utf8").catch(() => undefined);
  if (working === undefined) return plain;
  const withPlan = files.some((file) => file === join(config.keysDir, PLAN_FILE));
  const included = (why: string): ConfigInCommit => ({
    files: files.includes(path) ? files : [...files, path].sort(),
    contents: new Map(),
    note: `committed ${basename(path)} with your uncommitted edits too: ${why}`,
    body: `With the uncommitted edits to ${basename(path)}: ${why}.`,
  });

  if (files.includes(path)) {
    // The command edited wgqt.toml: compare HEAD + its edit with the file.
    if (head === undefined || edit === undefined) return plain;
    let candidate: string;
    try {
      candidate = edit(head);
    } catch {
      return included("the change needs them (it does not apply to the committed text)");
    }
    if (candidate === working) return plain;
    if (!sameStore(path, candidate, working, withPlan))
      return included("the key store's files depend on them");
    return {
      files,
      contents: new Map([[path, Buffer.from(candidate)]]),
      note: `left your other uncommitted edits to ${basename(path)} out of the commit (they stay in the file)`,
    };
  }
  if (head === working) return plain;
  if (head === undefined) return included("the key store's files depend on them");
  if (sameStore(path, head, working, withPlan)) return plain;
  return included("the key store's files depend on them");
}

/** Whether `path` lies inside a git work tree (and is not ignored by being outside it). */
async function insideWorkTree(path: string): Promise<boolean> {
  const top = await git(dirname(path), ["rev-parse", "--show-toplevel"]);
  if (top === undefined) return false;
  // git prints the top level with symlinks resolved.
  const real = await realpath(dirname(path)).catch(() => dirname(path));
  const inside = relative(top.trim(), join(real, basename(path)));
  return inside !== "" && !inside.startsWith(`..${sep}`) && !isAbsolute(inside);
}

/** git's stdout, or undefined when it fails. */
function git(cwd: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn("git", args, { cwd, stdio: ["ignore", "pipe", "ignore"] });
    const out: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.on("error", () => resolve(undefined));
    child.on("close", (code) =>
      resolve(code === 0 ? Buffer.concat(out).toString("utf8") : undefined),
    );
  });
}
