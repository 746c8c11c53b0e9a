/**
 * node:crypto, loaded when first used. Loading it (key objects, ciphers,
 * X.509 and the rest, about 20 of Node's modules) costs a command about 25M
 * instructions, some 3 ms: a tenth of what `machine list` adds to Node's own
 * start, and `machine list` neither hashes nor draws a random byte.
 */
import type * as Crypto from "node:crypto";
import { createRequire } from "node:module";

let loaded: typeof Crypto | undefined;

/** The node:crypto module. */
export function nodeCrypto(): typeof Crypto {
  loaded ??= createRequire(import.meta.url)("node:crypto") as typeof Crypto;
  return loaded;
}
