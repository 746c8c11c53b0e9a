/**
 * node:fs/promises, loaded when first used. Requiring it (with the stream
 * and readline code it brings) costs a command 1 to 2 ms, which the commands
 * that only read need not pay: they read a few small files synchronously.
 */
import { createRequire } from "node:module";

const load = createRequire(import.meta.url);
let fsPromises: typeof import("node:fs/promises") | undefined;

/** The node:fs/promises module. */
export function nodeFsPromises(): typeof import("node:fs/promises") {
  fsPromises ??= load("node:fs/promises") as typeof import("node:fs/promises");
  return fsPromises;
}
