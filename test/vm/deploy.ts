/**
 * Deploying wgqt's networkd output on a Debian host, as a user does it: the
 * host's rendered directory (`wgqt render --format networkd --out DIR`, then
 * DIR/<host>) and the store files its keys come from are copied to the host,
 * which decrypts its own keys with its SSH host key and installs everything
 * where the rendered files' headers say.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { GuestFile, Vm } from "./machine.js";

const KEY_FILE = /^(?:PrivateKeyFile|PresharedKeyFile)=\/etc\/wireguard\/wgqt\/(.+)\.key$/gm;

/** docs/vm.md's section whose sh block is the procedure, run exactly as written. */
const DEPLOY_HEADING = "Deploying networkd output on a Debian host";
const SSH_HOST_KEY = "/etc/ssh/ssh_host_ed25519_key";
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Where the copies go on the host (docs/vm.md's script reads the store from there). */
export const RENDERED_ON_HOST = "/root/wgqt";
export const STORE_ON_HOST = "/root/wireguard_keys";

/**
 * The procedure, run as root in RENDERED_ON_HOST: every step is one a user
 * types. Keys go to /etc/wireguard/wgqt/, which mirrors the store with .age
 * decrypted to .key; systemd-networkd reads them as user systemd-network, so
 * the files are root:systemd-network 0640 (the .netdev header says so) and
 * the directories on the way must let that group through (/etc/wireguard is
 * 0700 on Debian). systemd-networkd never changes a WireGuard interface that
 * exists (it logs "netdev exists, using existing without changing its
 * parameters", and reads key files only when it creates one), so a redeploy
 * deletes wgqt's WireGuard interfaces before the reload creates them anew.
 */
export function networkdDeployScript(identity = SSH_HOST_KEY): string {
  const readme = readFileSync(join(ROOT, "docs", "vm.md"), "utf8");
  const section = readme.indexOf(`## ${DEPLOY_HEADING}`);
  const block = section < 0 ? null : /```sh\n([\s\S]*?)```/.exec(readme.slice(section));
  if (block === null) throw new Error(`docs/vm.md: no sh block under "## ${DEPLOY_HEADING}"`);
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
  await vm.writeFiles([...copies.values()]);
}
