/**
 * Deploying wgqt's output on a Debian host, as a user does it: the host's
 * rendered directory (`wgqt render --format networkd|wg-quick --out DIR`, then
 * DIR/<host>) and the store files its keys come from are copied to the host,
 * which decrypts its own keys with its own identity and installs everything
 * where the rendered files' headers say.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { GuestFile, Vm } from "./machine.js";

/** Every key file a rendered file names (networkd's `PrivateKeyFile=`, wg-quick's PostUp). */
const KEY_FILE = /\/etc\/wireguard\/wgqt\/([^\s]+)\.key\b/g;

export type DeployFormat = "networkd" | "wg-quick";

/** docs/vm.md's sections whose sh blocks are the procedures, run exactly as written. */
const DEPLOY_HEADING: Record<DeployFormat, string> = {
  networkd: "Deploying networkd output on a Debian host",
  "wg-quick": "Deploying wg-quick output on a Debian host",
};
const SSH_HOST_KEY = "/etc/ssh/ssh_host_ed25519_key";
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Where the copies go on the host (docs/vm.md's scripts read the store from there). */
export const RENDERED_ON_HOST = "/root/wgqt";
export const STORE_ON_HOST = "/root/wireguard_keys";

/**
 * The procedure for one output format, run as root in RENDERED_ON_HOST: every
 * step is one a user types, with `identity` in place of the SSH host key.
 *
 * networkd: keys go to /etc/wireguard/wgqt/, which mirrors the store with .age
 * decrypted to .key; systemd-networkd reads them as group systemd-network, so
 * the files are root:systemd-network 0640 (the .netdev header says so) and the
 * directories on the way let that group through (/etc/wireguard is 0700 on
 * Debian). systemd-networkd never changes a WireGuard interface that exists
 * (it reads key files only when it creates one), so a redeploy deletes wgqt's
 * WireGuard interfaces before the reload creates them anew.
 *
 * wg-quick: the same keys, root only, and one `wg-quick@<net>` unit per file,
 * restarted so that new keys and peers take effect.
 */
export function deployScript(format: DeployFormat, identity = SSH_HOST_KEY): string {
  const heading = DEPLOY_HEADING[format];
  const doc = readFileSync(join(ROOT, "docs", "vm.md"), "utf8");
  const section = doc.indexOf(`## ${heading}`);
  const block = section < 0 ? null : /```sh\n([\s\S]*?)```/.exec(doc.slice(section));
  if (block === null) throw new Error(`docs/vm.md: no sh block under "## ${heading}"`);
  return `set -eu\n${block[1]!.replaceAll(SSH_HOST_KEY, identity)}`;
}

/** Copy a host's rendered files and the store files its keys come from. */
export async function copyDeployment(
  vm: Vm,
  renderedHostDir: string,
  files: string[],
  storeDir: string,
): Promise<void> {
  const copies = new Map<string, GuestFile>();
  for (const file of files) {
    const content = readFileSync(join(renderedHostDir, file), "utf8");
    copies.set(file, { path: `${RENDERED_ON_HOST}/${file}`, content });
    for (const match of content.matchAll(KEY_FILE)) {
      const storeFile = `${match[1]}.age`;
      const content = readFileSync(join(storeDir, storeFile));
      copies.set(storeFile, { path: `${STORE_ON_HOST}/${storeFile}`, content, mode: "0600" });
    }
  }
  // A redeploy starts from what is rendered now: no file of an earlier render stays.
  await vm.exec(`rm -rf ${RENDERED_ON_HOST} ${STORE_ON_HOST}`);
  await vm.writeFiles([...copies.values()]);
}
