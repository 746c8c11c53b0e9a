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
import { rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const outdir = join(root, "dist", "bundle");

rmSync(outdir, { recursive: true, force: true });
await build({
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
  logLevel: "warning",
});
