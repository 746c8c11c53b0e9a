/**
 * How files and recipients are named in messages: paths relative to
 * `wgqt.toml`, shortened keys, and who in `wgqt.toml` a key belongs to.
 */
import { join, posix, relative, sep } from "node:path";
import type { Config } from "../../config/types.js";

/** A store-relative path as the user sees it: relative to `wgqt.toml`'s directory, '/'-separated. */
export function displayPath(config: Config, file: string): string {
  return relative(config.dir, join(config.keysDir, file)).split(sep).join(posix.sep);
}

/** A recipient shortened for one-line messages: `age1qy8…x7kq`, `ssh-ed25519 …Tq3w9Zk`. */
export function shortRecipient(recipient: string): string {
  const [type, blob] = recipient.split(" ");
  if (blob === undefined)
    return recipient.length > 16 ? `${recipient.slice(0, 8)}…${recipient.slice(-6)}` : recipient;
  return `${type} …${blob.slice(-10)}`;
}

/**
 * Each recipient of a config with its owners, built once per config (a
 * config is never changed after it is parsed): asked for every recipient of
 * every file, a scan of all machines each time grows with files × machines.
 */
const ownerIndexes = new WeakMap<Config, Map<string, readonly string[]>>();

function ownerIndex(config: Config): Map<string, readonly string[]> {
  let index = ownerIndexes.get(config);
  if (index !== undefined) return index;
  const owners = new Map<string, string[]>();
  for (const name of Object.keys(config.machines).sort()) {
    for (const recipient of config.machines[name]!.recipients) {
      const list = owners.get(recipient);
      if (list === undefined) owners.set(recipient, [name]);
      else if (list.at(-1) !== name) list.push(name); // a recipient listed twice by one machine
    }
  }
  for (const recipient of new Set(config.admins)) {
    const list = owners.get(recipient);
    if (list === undefined) owners.set(recipient, ["admin"]);
    else list.push("admin");
  }
  index = owners;
  ownerIndexes.set(config, index);
  return index;
}

/** Who a recipient is in `wgqt.toml`: machine names and/or `admin`; empty when no longer there. */
export function ownersOf(config: Config, recipient: string): string[] {
  return ownerIndex(config).get(recipient)?.slice() ?? [];
}

/** A recipient with who it is: `nyaa's ssh-ed25519 …abc`, `admin age1…`, or the bare key. */
export function labelled(config: Config, recipient: string): string {
  const owners = ownersOf(config, recipient);
  const who = owners.map((owner) => (owner === "admin" ? "admin" : `${owner}'s`)).join("/");
  return `${who ? `${who} ` : ""}${shortRecipient(recipient)}`;
}
