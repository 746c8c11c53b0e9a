/**
 * `<host>/hosts`, beside a host's wg-quick or networkd files: the names of
 * every member of its proxies and meshes (net/names.ts) as /etc/hosts lines,
 * `<address> <machine>.<network>`, IPv4 and IPv6. Neither wg-quick nor
 * networkd installs names, so the file says how: a block between two marker
 * lines in /etc/hosts, replaced as a whole (docs/networks.md "Names"). NixOS
 * takes the same names as `networking.hosts` (nixos-names.ts). Pure.
 *
 * The lines come network by network: each network's block is made once and
 * every member's file is those blocks put together, not ninety thousand
 * names sorted again for each host of a dense fleet.
 */
import type { HostView } from "../net/host.js";
import { type HostName, hostsLines, type NetworkNames } from "../net/names.js";
import { commentLines, generatedNotice, type RenderedFile } from "./common.js";

/** The marker lines around wgqt's block in /etc/hosts. */
export const HOSTS_BEGIN = "# BEGIN wgqt";
export const HOSTS_END = "# END wgqt";

/** The shell lines that install `hosts` (in the working directory) as wgqt's block in /etc/hosts. */
export const HOSTS_INSTALL = [
  `tmp=$(mktemp) && sed '/^${HOSTS_BEGIN}$/,/^${HOSTS_END}$/d' /etc/hosts > "$tmp" &&`,
  `  { echo '${HOSTS_BEGIN}'; grep -v '^#' hosts; echo '${HOSTS_END}'; } >> "$tmp" &&`,
  `  cat "$tmp" > /etc/hosts && rm "$tmp"`,
];

/** `<host>/hosts`, or nothing for a host in no proxy or mesh (a VPN's server has no name). */
export function hostsFile(view: HostView): RenderedFile[] {
  if (view.names === undefined) return [];
  const host = view.machine;
  const notice = commentLines([
    ...generatedNotice(`the names ${host} reaches in its networks`),
    "",
    "Every member of a network is <machine>.<network>. Install as wgqt's block in /etc/hosts,",
    "between two marker lines, replacing the block a previous render put there; written in",
    "place, as /etc/hosts may be a mount point (containers, `ip netns`):",
    ...HOSTS_INSTALL.map((line) => `  ${line}`),
  ]);
  const content = `${notice}\n${view.names.map(hostsBlock).join("")}`;
  // Root-only like every file beside it: the output directory is the host's deployment.
  return [{ path: `${host}/hosts`, content, mode: 0o600 }];
}

/** Each network's lines, made once: its names are shared by every member's view. */
const hostsBlocks = new WeakMap<NetworkNames, string>();

/** One network's `/etc/hosts` lines, each ending in a newline. */
function hostsBlock(names: NetworkNames): string {
  let block = hostsBlocks.get(names);
  if (block === undefined) {
    block = hostsLines(names.names)
      .map((line) => `${line}\n`)
      .join("");
    hostsBlocks.set(names, block);
  }
  return block;
}

/** `networking.hosts` (attrsOf (listOf str), keyed by address): `<machine>.<network>` of every member. */
export function nixosHosts(names: readonly HostName[]): Map<string, string[]> {
  const hosts = new Map<string, string[]>();
  const add = (address: string, name: string) =>
    hosts.set(address, [...(hosts.get(address) ?? []), name]);
  for (const entry of names) {
    add(entry.address, entry.name);
    if (entry.address6 !== undefined) add(entry.address6, entry.name);
  }
  return hosts;
}
