#!/usr/bin/env node
// The command's own build, after `tsc`: dist/cli/main.js and everything it
// imports, dependencies included, bundled into dist/bundle/ for bin/wgqt.
//
// Node 20 loads an ES module graph file by file, resolving, reading and
// compiling each; wgqt and its dependencies are a few hundred modules, which
// cost every command about 100 ms before it did anything. Bundled, a command
// loads a handful of files. Subcommands stay lazily loaded chunks
// (`--help` still loads neither age nor git), and the key-making worker is
// an entry of its own beside them, where secrets.ts looks for it. The
// library (dist/index.js) stays unbundled tsc output.
//
// esbuild splits code into chunks only for ES modules; the chunks are then
// written as CommonJS (dist/bundle/package.json says so). Node 20 loads an
// ES module through its asynchronous loader: it resolves URLs, reads each file
// on the thread pool and links the graph in promises, which cost `plan` about
// 20 ms more than require() reading and compiling the same files. Node's
// built-in modules are taken with require() either way: an import of a
// built-in builds an ES module facade over each of its exports.
import { createHash } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compileFunction } from "node:vm";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const outdir = join(root, "dist", "bundle");

/** `a, b as c` of an import or export clause, as [exported, local] pairs. */
function clauseNames(list) {
  return list
    .split(",")
    .map((field) => field.trim())
    .filter(Boolean)
    .map((field) => {
      const named = /^([\w$]+)(?:\s+as\s+([\w$]+))?$/.exec(field);
      if (!named) throw new Error(`bundle: cannot read the name ${field}`);
      return [named[1], named[2] ?? named[1]];
    });
}

/**
 * One of esbuild's ES module chunks, written as CommonJS: its static imports
 * (of chunks and of Node's built-ins) become require() calls, its dynamic
 * imports require() inside a promise, its export list getters on
 * module.exports, and import.meta.url the file's URL. Returns the code and
 * the chunks it requires when it loads.
 */
function toCommonJS(code, file) {
  const requires = [];
  let converted = code.replace(
    /^import (?:([^;"]+?) from )?"([^"]+)";$/gm,
    (statement, clause, module) => {
      const required = `require(${JSON.stringify(module)})`;
      const local = module.startsWith("./");
      if (local) requires.push(module.slice(2));
      if (clause === undefined) return `${required};`;
      const named = /^(?:([\w$]+)\s*,\s*)?\{([^}]*)\}$/.exec(clause.trim());
      if (named && !(local && named[1])) {
        const fields = clauseNames(named[2]).map(([name, as]) =>
          name === as ? name : `${name}: ${as}`,
        );
        const whole = named[1] ? `const ${named[1]} = ${required}; ` : "";
        return `${whole}const { ${fields.join(", ")} } = ${required};`;
      }
      const single = /^(?:\* as )?([\w$]+)$/.exec(clause.trim());
      if (single && !local) return `const ${single[1]} = ${required};`;
      throw new Error(`bundle: ${file}: cannot turn into require(): ${statement}`);
    },
  );
  const exports = [...converted.matchAll(/^export \{([^}]*)\};$/gm)];
  if (exports.length > 1) throw new Error(`bundle: ${file}: more than one export list`);
  if (exports.length === 1) {
    const names = clauseNames(exports[0][1]);
    // An importer takes a binding's value once, when it loads: a binding the
    // chunk assigns again later would not reach it.
    for (const [local] of names) {
      const name = local.replace(/\$/g, "\\$");
      if (!new RegExp(`^(?:var|let) ${name}\\b`, "m").test(converted)) continue;
      const assignments = converted.match(
        new RegExp(`(?:^|[^.\\w$])${name}\\s*(?:=[^=>]|[-+*/|&]=|\\+\\+|--)`, "gm"),
      );
      if ((assignments?.length ?? 0) > 1)
        throw new Error(`bundle: ${file}: exports ${local}, which it assigns again`);
    }
    const getters = names.map(([local, exported]) => `  get ${exported}() { return ${local}; }`);
    // A function, so that a `$` in a name is not read as a replacement pattern.
    converted = converted.replace(
      exports[0][0],
      () => `module.exports = {\n${getters.join(",\n")}\n};`,
    );
  }
  converted = converted
    .replace(
      /\bimport\(("(?:\.\/[^"]+|node:[a-z_/]+)")\)/g,
      "Promise.resolve().then(() => require($1))",
    )
    .replaceAll("import.meta.url", 'require("node:url").pathToFileURL(__filename).href');
  // An ES module is strict mode code; a CommonJS one only when it says so.
  converted = `"use strict";\n${converted}`;
  // What is left of the ES module syntax is a syntax error here.
  compileFunction(converted, ["exports", "require", "module", "__filename", "__dirname"], {
    filename: file,
  });
  const left = /\bimport\(\s*["'`]|\bimport\.meta\b/.exec(converted);
  if (left) throw new Error(`bundle: ${file}: cannot turn into CommonJS: ${left[0]}`);
  return { code: converted, requires };
}

/** Fails if a chunk requires itself through others: a chunk must load whole before its importers read it. */
function checkAcyclic(graph) {
  const state = new Map();
  const visit = (file, path) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "open")
      throw new Error(`bundle: chunks require each other: ${[...path, file].join(" → ")}`);
    state.set(file, "open");
    for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    state.set(file, "done");
  };
  for (const file of graph.keys()) visit(file, []);
}

/**
 * commander requires node:child_process when it loads, for subcommands that
 * are executables of their own, which wgqt has none of; loading it costs
 * every command several ms. Here it is required when first used instead.
 */
const lazyChildProcess = {
  name: "lazy-child-process",
  setup(build) {
    build.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      const eager = "const childProcess = require('node:child_process');";
      if (!source.includes(eager)) throw new Error(`bundle: ${args.path} no longer has ${eager}`);
      const lazy =
        "const childProcess = { spawn: (...spawnArgs) => require('node:child_process').spawn(...spawnArgs) };";
      return { contents: source.replace(eager, lazy), loader: "js" };
    });
  },
};

/**
 * start.js loads the rest of the bundle itself, with V8's code cache
 * (src/cli/code-cache.ts), keyed by the build: the hash of every other file
 * written here goes into start.js in place of its `BUILD`. V8 checks only a
 * source's length against a cache, and main.js keeps its name from build to
 * build. start.js itself is loaded by Node: it must require none of the
 * chunks, or they would load twice, once through each loader (it is built
 * on its own for that).
 */
function stampBuild(written, graph) {
  if (graph.get("start.js")?.length !== 0)
    throw new Error(`bundle: start.js requires ${graph.get("start.js")}: it must load them itself`);
  const digest = createHash("sha256");
  let start;
  for (const entry of [...written].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (entry[0] === join(outdir, "start.js")) {
      start = entry;
      continue;
    }
    digest.update(`${entry[0].slice(outdir.length + 1)}\0${entry[1].length}\0`).update(entry[1]);
  }
  const placeholder = '"unbundled"';
  if (start === undefined || start[1].split(placeholder).length !== 2)
    throw new Error(`bundle: start.js must have ${placeholder} once, as its BUILD`);
  start[1] = start[1].replace(placeholder, JSON.stringify(digest.digest("hex").slice(0, 16)));
}

rmSync(outdir, { recursive: true, force: true });
const { outputFiles } = await build({
  absWorkingDir: root,
  entryPoints: {
    main: "dist/cli/main.js",
    "secrets-worker": "dist/store/secrets-worker.js",
  },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  legalComments: "eof",
  plugins: [lazyChildProcess],
  logLevel: "warning",
  write: false,
});
// bin/wgqt's entry, built on its own: it shares no chunk with the rest.
const { outputFiles: startFiles } = await build({
  absWorkingDir: root,
  entryPoints: { start: "dist/cli/start.js" },
  outdir,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  logLevel: "warning",
  write: false,
});
const graph = new Map();
const written = [];
for (const file of [...outputFiles, ...startFiles]) {
  if (!file.path.endsWith(".js")) {
    written.push([file.path, file.contents]);
    continue;
  }
  const name = file.path.slice(outdir.length + 1);
  const { code, requires } = toCommonJS(file.text, name);
  graph.set(name, requires);
  written.push([file.path, code]);
}
checkAcyclic(graph);
stampBuild(written, graph);
for (const [path, contents] of written) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, contents);
}
writeFileSync(join(outdir, "package.json"), `${JSON.stringify({ type: "commonjs" })}\n`);
