/**
 * Node's built-in modules that most commands never use, loaded when first
 * used. On a command that only reads the fleet each is a measurable part of
 * what it adds to Node's own start (instructions, callgrind):
 * - node:crypto (key objects, ciphers, X.509 and the rest, about 20 of
 *   Node's modules), about 15M to 25M: `machine list` neither hashes nor
 *   draws a random byte;
 * - node:tty, which loads Node's net and stream code, about 9M: only a
 *   terminal needs it (io.ts);
 * - node:os, about 4M: only taking the fleet's lock asks for the host name;
 * - node:net, which loads Node's stream code, about 9M: wgqt asks it only
 *   whether a text is an IP address, and a fleet whose endpoints are host
 *   names and that has no VPN never needs to;
 * - node:fs/promises (with the stream and readline code it brings), 1 to
 *   2 ms: the commands that only read read a few small files synchronously.
 *   node:fs loads it on first access to `promises`.
 */
import type * as Crypto from "node:crypto";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import type * as Net from "node:net";
import type * as Os from "node:os";
import type * as Tty from "node:tty";

const load = createRequire(import.meta.url);

function lazy<Module>(name: string): () => Module {
  let loaded: Module | undefined;
  return () => {
    loaded ??= load(name) as Module;
    return loaded;
  };
}

/** The node:crypto module. */
export const nodeCrypto = lazy<typeof Crypto>("node:crypto");
/** The node:tty module. */
export const nodeTty = lazy<typeof Tty>("node:tty");
/** The node:os module. */
export const nodeOs = lazy<typeof Os>("node:os");
/** The node:net module. */
export const nodeNet = lazy<typeof Net>("node:net");
/** The node:fs/promises module. */
export function nodeFsPromises(): typeof fs.promises {
  return fs.promises;
}
