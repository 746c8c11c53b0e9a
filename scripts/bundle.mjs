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
// Node's built-in modules are taken with require() rather than import: an
// import of a built-in builds an ES module facade over each of its exports
// (several ms for node:fs, node:process or node:worker_threads, where
// require() hands over the object as it is), and a command imports a dozen.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const outdir = join(root, "dist", "bundle");

/**
 * esbuild's `import … from "node:x";` statements, as require() calls. The
 * banner's own import of node:module, which makes `require`, stays.
 */
function requireBuiltins(code) {
  return code.replace(
    /^import ([^;"]+?) from "(node:[a-z_/]+)";$/gm,
    (statement, clause, module) => {
      if (clause.includes("__wgqtCreateRequire")) return statement;
      const required = `require(${JSON.stringify(module)})`;
      const named = /^(?:([\w$]+)\s*,\s*)?\{([^}]*)\}$/.exec(clause.trim());
      if (named) {
        const fields = named[2]
          .split(",")
          .map((field) => field.trim())
          .filter(Boolean)
          .map((field) => field.replace(/^([\w$]+) as ([\w$]+)$/, "$1: $2"));
        const whole = named[1] ? `const ${named[1]} = ${required}; ` : "";
        return `${whole}const { ${fields.join(", ")} } = ${required};`;
      }
      const single = /^(?:\* as )?([\w$]+)$/.exec(clause.trim());
      if (single) return `const ${single[1]} = ${required};`;
      throw new Error(`bundle: cannot turn into require(): ${statement}`);
    },
  );
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
  // CommonJS dependencies (simple-git, commander) call require() for Node's
  // built-ins; an ES module has no require of its own.
  banner: {
    js: 'import { createRequire as __wgqtCreateRequire } from "node:module"; const require = __wgqtCreateRequire(import.meta.url);',
  },
  legalComments: "eof",
  plugins: [lazyChildProcess],
  logLevel: "warning",
  write: false,
});
for (const file of outputFiles) {
  mkdirSync(dirname(file.path), { recursive: true });
  writeFileSync(file.path, file.path.endsWith(".js") ? requireBuiltins(file.text) : file.contents);
}
