/**
 * `names/<network>.nix`: one proxy's or mesh's names (net/names.ts) as
 * `networking.hosts`, keyed by address, set only where `networking.hostName`
 * is one of its members. Each member's module (`hosts/<host>.nix`) imports
 * the modules of its networks, so a network's names are written once, not
 * once in every member's module: in a dense fleet (a thousand machines, each
 * in a hundred proxies of nine hundred members) that is ninety thousand
 * entries where every host's module would otherwise hold ninety thousand.
 *
 * The module system imports a module imported by path once, however many
 * host modules import it (`default.nix` imports them all), and merges a
 * host's networks' `networking.hosts` into one set: attrsOf (listOf str)
 * concatenates the lists of an address set by two modules, and no address
 * is in two networks (each has its own block and /64). A host module
 * imported on its own brings its networks' modules with it. Pure.
 */
import type { NetworkNames } from "../net/names.js";
import { commentLines, generatedNotice, type RenderedFile } from "./common.js";
import { nixosHosts } from "./hosts.js";
import { NixCall, printNix } from "./nix-syntax.js";

export const NAMES_DIR = "names";
export const namesFile = (network: string) => `${NAMES_DIR}/${network}.nix`;

/** Each network's module, made once: its names are shared by every member's view. */
const namesModules = new WeakMap<NetworkNames, RenderedFile>();

/** The module of one network's names, `names/<network>.nix`. */
export function namesModule(names: NetworkNames): RenderedFile {
  let file = namesModules.get(names);
  if (file !== undefined) return file;
  const notes = commentLines([
    ...generatedNotice(`the names of ${names.network}'s members`),
    "",
    `networking.hosts: <machine>.${names.network} of every member, by address, where`,
    "networking.hostName is one of them. Each member's module (hosts/<host>.nix) imports it.",
  ]);
  const module = printNix({
    config: new NixCall("lib.mkIf (lib.elem config.networking.hostName members)", {
      networking: { hosts: nixosHosts(names.names) },
    }),
  });
  const members = printNix(names.machines, "  ");
  file = {
    path: namesFile(names.network),
    content: `${notes}\n{ config, lib, ... }:\nlet\n  members = ${members};\nin\n${module}\n`,
  };
  namesModules.set(names, file);
  return file;
}
