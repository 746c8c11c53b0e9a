/**
 * node:fs/promises, loaded when first used: node:fs loads it on first access
 * to `promises`. Requiring it (with the stream and readline code it brings)
 * costs a command 1 to 2 ms, which the commands that only read need not pay:
 * they read a few small files synchronously.
 */
import * as fs from "node:fs";

/** The node:fs/promises module. */
export function nodeFsPromises(): typeof fs.promises {
  return fs.promises;
}
