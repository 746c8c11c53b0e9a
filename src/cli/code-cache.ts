/**
 * Loading the command's bundle (dist/bundle/, scripts/bundle.mjs) with V8's
 * code cache: the bytecode V8 compiled for each file in an earlier run, kept
 * in the user's cache directory, so that a command does not parse and
 * compile the same few hundred kilobytes of JavaScript on every start. It is
 * what Node 22 does for every module (`module.enableCompileCache`); Node 20
 * offers it only through `vm.Script`, so the bundle's files, which are
 * CommonJS and require nothing but each other and Node's built-ins, are
 * loaded here instead of by Node's loader.
 *
 * A cache is code the process will run: it is read only from a directory the
 * user owns and no one else can write to, and it is keyed by the bundle's
 * build (a hash of its files), Node's version and the architecture. V8 itself
 * refuses a cache made by another V8 version or with other flags, or for a
 * source of another length; a refused or missing cache is made again when
 * the process exits. Anything that goes wrong with the cache only costs its
 * speed: the file is compiled from source.
 */
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join } from "node:path";
import { Script } from "node:vm";

/** What a bundle loader did: files whose compiled code came from the cache, and files compiled from source. */
export interface LoadCounts {
  fromCache: string[];
  compiled: string[];
}

export interface BundleLoader {
  /** `module.exports` of the bundle's file `name` (e.g. `main.js`), loading it and what it requires once. */
  load(name: string): unknown;
  /** Write the caches of the files compiled from source (at exit). Never throws. */
  save(): void;
  readonly counts: LoadCounts;
}

/** A CommonJS module's wrapper, as Node's own loader applies it. */
const WRAPPER_START = "(function (exports, require, module, __filename, __dirname) { ";
const WRAPPER_END = "\n});";

/**
 * A loader for the bundle in `dir`, with its code cache in `cacheDir`
 * (`codeCacheDir`), or none.
 */
export function bundleLoader(dir: string, cacheDir: string | undefined): BundleLoader {
  const modules = new Map<string, { exports: unknown }>();
  const unsaved: { script: Script; file: string }[] = [];
  const counts: LoadCounts = { fromCache: [], compiled: [] };
  // Node's built-ins, the only modules outside the bundle its files require.
  const nodeRequire = createRequire(join(dir, "start.js"));

  const load = (name: string): unknown => {
    const loaded = modules.get(name);
    if (loaded !== undefined) return loaded.exports;
    const filename = join(dir, name);
    const module = { exports: {} as unknown };
    modules.set(name, module);
    const source = readFileSync(filename, "utf8");
    const cacheFile = cacheDir === undefined ? undefined : join(cacheDir, `${name}.cache`);
    const cachedData = cacheFile === undefined ? undefined : readCache(cacheFile);
    const script = new Script(`${WRAPPER_START}${source}${WRAPPER_END}`, { filename, cachedData });
    if (cachedData !== undefined && !script.cachedDataRejected) counts.fromCache.push(name);
    else {
      counts.compiled.push(name);
      if (cacheFile !== undefined) unsaved.push({ script, file: cacheFile });
    }
    // The bundle's files require each other as "./name.js"; anything else is Node's.
    const require = (id: string): unknown =>
      id.startsWith("./") ? load(id.slice(2)) : nodeRequire(id);
    const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
    wrapper.call(module.exports, module.exports, require, module, filename, dir);
    return module.exports;
  };

  const save = (): void => {
    for (const { script, file } of unsaved.splice(0)) {
      // The functions compiled while the command ran are in it too.
      const data = script.createCachedData();
      const temporary = `${file}.${process.pid}.tmp`;
      try {
        writeFileSync(temporary, data, { mode: 0o600 });
        // A rename: a process starting meanwhile reads the old cache or the new one, whole.
        renameSync(temporary, file);
      } catch {
        rmSync(temporary, { force: true });
      }
    }
  };

  return { load, save, counts };
}

function readCache(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/**
 * The directory of the code cache for the bundle's build `build`, made when
 * missing: `$XDG_CACHE_HOME/wgqt/code-<build>-<node version>-<arch>`
 * (`$HOME/.cache` without XDG_CACHE_HOME). Undefined, and nothing made, when
 * WGQT_NO_CODE_CACHE is set, when neither variable is, when the cache
 * directory (or, while it does not exist, the home directory) is another
 * user's, or when it is not a directory of this user's that only this user
 * can write to (with the `wgqt` directory above it): a cache there could be
 * someone else's code. Making a build's directory removes the least recently
 * written beyond KEPT_BUILDS.
 */
export function codeCacheDir(env: NodeJS.ProcessEnv, build: string): string | undefined {
  if (env.WGQT_NO_CODE_CACHE) return undefined;
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  // XDG Base Directory: a relative XDG_CACHE_HOME is invalid and ignored.
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : env.HOME ? join(env.HOME, ".cache") : undefined;
  if (base === undefined) return undefined;
  const root = join(base, "wgqt");
  const dir = join(root, `code-${build}-${process.version}-${process.arch}`);
  const ours = (path: string): boolean => {
    const stats = lstatSync(path);
    return stats.isDirectory() && stats.uid === uid && (stats.mode & 0o022) === 0;
  };
  try {
    // Nothing is made in another user's home or cache directory (`sudo -E`
    // keeps the user's HOME): a root-owned ~/.cache would lock its owner out.
    const baseOwner = lstatSync(base, { throwIfNoEntry: false })?.uid;
    if (baseOwner === undefined) {
      if (lstatSync(dirname(base)).uid !== uid) return undefined;
      makeDir(base);
    } else if (baseOwner !== uid) return undefined;
    makeDir(root);
    if (!ours(root)) return undefined;
    const made = makeDir(dir);
    if (!ours(dir)) return undefined;
    if (made) pruneBuilds(root);
    return dir;
  } catch {
    return undefined;
  }
}

/** Make `path` (mode 700) unless it exists; true when it was made. */
function makeDir(path: string): boolean {
  try {
    mkdirSync(path, { mode: 0o700 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/**
 * Builds whose caches are kept: two installed versions of wgqt used in turn
 * (a global one and a project's) each keep theirs, and rebuilding during
 * development does not pile up a megabyte per build.
 */
const KEPT_BUILDS = 4;

/** Remove all but the KEPT_BUILDS most recently written build directories under `root`. */
function pruneBuilds(root: string): void {
  const builds = readdirSync(root)
    .filter((name) => name.startsWith("code-"))
    .map((name) => ({ path: join(root, name), written: lstatSync(join(root, name)).mtimeMs }))
    .sort((a, b) => b.written - a.written);
  for (const { path } of builds.slice(KEPT_BUILDS)) rmSync(path, { recursive: true, force: true });
}
