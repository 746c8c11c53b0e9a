/**
 * bin/wgqt's entry in the bundle (dist/bundle/start.js): loads the rest of
 * the bundle, from main.js on, through the code cache (code-cache.ts) and
 * runs the command.
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleLoader, codeCacheDir } from "./code-cache.js";
import type * as Main from "./main.js";

/** The bundle's build: scripts/bundle.mjs writes the hash of its files here. */
const BUILD = "unbundled";

/** Run wgqt with `argv` (without node and script); resolves to the exit code. */
export function main(argv: string[]): Promise<number> {
  const dir = dirname(fileURLToPath(import.meta.url));
  const loader = bundleLoader(dir, codeCacheDir(process.env, BUILD));
  process.once("exit", () => loader.save());
  return (loader.load("main.js") as typeof Main).main(argv);
}
