/**
 * Deploying wgqt's networkd output on a Debian host, as a user does it: the
 * host's rendered directory (`wgqt render --format networkd --out DIR`, then
 * DIR/<host>) and the store files its keys come from are copied to the host,
 * which decrypts its own keys with its SSH host key and installs everything
 * where the rendered files' headers say.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { GuestFile, Vm } from "./machine.js";

const KEY_FILE = /^(?:PrivateKeyFile|PresharedKeyFile)=\/etc\/wireguard\/wgqt\/(.+)\.key$/gm;

/** Where the copies go on the host. */
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
export function networkdDeployScript(identity = "/etc/ssh/ssh_host_ed25519_key"): string {
  return `set -eu
install -d -m 0750 -g systemd-network /etc/wireguard /etc/wireguard/wgqt /etc/wireguard/wgqt/preshared_keys
for key in $(sed -n -E 's#^(PrivateKeyFile|PresharedKeyFile)=/etc/wireguard/wgqt/##p' *.netdev | sort -u); do
  age -d -i ${identity} -o /etc/wireguard/wgqt/$key.new ${STORE_ON_HOST}/\${key%.key}.age
  chown root:systemd-network /etc/wireguard/wgqt/$key.new
  chmod 0640 /etc/wireguard/wgqt/$key.new
  mv /etc/wireguard/wgqt/$key.new /etc/wireguard/wgqt/$key
done
if [ -d sysctl.d ]; then install -m 0644 sysctl.d/* /etc/sysctl.d/ && sysctl --system >/dev/null; fi
if [ -d networkd.conf.d ]; then install -D -m 0644 -t /etc/systemd/networkd.conf.d networkd.conf.d/*; fi
if [ -d system ]; then
  install -m 0644 system/* /etc/systemd/system/
  systemctl daemon-reload
  systemctl enable --now $(cd system && ls)
fi
install -m 0644 *.netdev *.network /etc/systemd/network/
for netdev in *.netdev; do
  name=$(sed -n 's/^Name=//p' "$netdev")
  if grep -qx Kind=wireguard "$netdev" && ip link show dev "$name" >/dev/null 2>&1; then
    networkctl delete "$name"
  fi
done
networkctl reload
`;
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
