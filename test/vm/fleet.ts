/**
 * The example fleet on Debian VMs, wired to an "internet" host:
 *
 *                          internet (router; 203.0.113.1 answers "what is my address";
 *                          the VPN providers mullvad 203.0.113.10, proton 203.0.113.11)
 *        ┌─────────────┬──────────┴──┬───────────────┬───────────────┐
 *   lighthouse       tavern         nyaa            spark          archive
 *   198.51.100.1     .5             .9              .13            .17      (internet side: +1)
 *
 * Each host's only link is a /30 to the internet host, which routes between
 * them and is their default gateway. lighthouse (gateway of proxy finland)
 * and tavern (germany) masquerade their clients; nyaa, spark and archive are
 * clients of both. archive also has two imported commercial VPNs, whose
 * servers are WireGuard interfaces on the internet host.
 *
 * Outputs as users deploy them: networkd on lighthouse, tavern, nyaa and
 * archive; wg-quick on spark. Identities as the example fleet has them:
 * lighthouse and archive age X25519 files, tavern and nyaa SSH ed25519 host
 * keys, spark an SSH RSA host key. Reverse-path filtering: nyaa and the
 * gateways as Debian ships them (off), spark loose (2: systemd's default,
 * shipped by Ubuntu, Arch and Fedora), archive strict (1: RHEL, hardening guides).
 */
import { execFileSync } from "node:child_process";
import { cpSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { ROOT, run, WGQT } from "../helpers/run.js";
import { copyDeployment, type DeployFormat, deployScript, RENDERED_ON_HOST } from "./deploy.js";
import type { Image } from "./image.js";
import { type Vm, VmLab } from "./machine.js";

export const GATEWAYS = ["lighthouse", "tavern"] as const;
export const CLIENTS = ["nyaa", "spark", "archive"] as const;
export const HOSTS = [...GATEWAYS, ...CLIENTS] as const;
export type Gateway = (typeof GATEWAYS)[number];
export type Client = (typeof CLIENTS)[number];
export type Host = (typeof HOSTS)[number];
export const PROXIES = { finland: "lighthouse", germany: "tavern" } as const;
export type ProxyName = keyof typeof PROXIES;

export const FORMAT: Record<Host, DeployFormat> = {
  lighthouse: "networkd",
  tavern: "networkd",
  nyaa: "networkd",
  spark: "wg-quick",
  archive: "networkd",
};
/** Each host's identity: the file `age -d -i` decrypts its keys with. */
const IDENTITY: Record<Host, string> = {
  lighthouse: "/etc/age/host.key",
  tavern: "/etc/ssh/ssh_host_ed25519_key",
  nyaa: "/etc/ssh/ssh_host_ed25519_key",
  spark: "/etc/ssh/ssh_host_rsa_key",
  archive: "/etc/age/host.key",
};
const RP_FILTER: Partial<Record<Host, number>> = { spark: 2, archive: 1 };

/** Each host's uplink address; the internet host's end of the /30 is one more. */
export const UPLINK: Record<Host, string> = {
  lighthouse: "198.51.100.1",
  tavern: "198.51.100.5",
  nyaa: "198.51.100.9",
  spark: "198.51.100.13",
  archive: "198.51.100.17",
};
/** Tunnel addresses from `wgqt plan`: finland is 10.128.0.0/29, germany 10.128.0.8/29. */
export const TUNNEL: Record<ProxyName, Record<string, string>> = {
  finland: {
    lighthouse: "10.128.0.1",
    archive: "10.128.0.2",
    nyaa: "10.128.0.3",
    spark: "10.128.0.4",
  },
  germany: {
    tavern: "10.128.0.9",
    archive: "10.128.0.10",
    nyaa: "10.128.0.11",
    spark: "10.128.0.12",
  },
};
/** The clients' default tunnel: the lowest key (VPNs 1–99 before proxies 100+). */
export const DEFAULT_TUNNEL: Record<Client, string> = {
  nyaa: "finland",
  spark: "finland",
  archive: "mullvad",
};

/** The VPN providers: archive's end of each tunnel, and the server on the internet host. */
export const PROVIDERS = {
  mullvad: { address: "10.64.1.2", server: "10.64.0.1", endpoint: "203.0.113.10", port: 51820 },
  proton: { address: "10.2.0.2", server: "10.2.0.1", endpoint: "203.0.113.11", port: 51821 },
} as const;
export type Provider = keyof typeof PROVIDERS;

/** The internet host's "what is my address" service. */
export const WHOAMI = { address: "203.0.113.1", port: 7007 };
const WHOAMI_LOG = "/run/whoami.log";
const WHOAMI_SERVER = `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("${WHOAMI.address}", ${WHOAMI.port}))
log = open("${WHOAMI_LOG}", "a", buffering=1)
while True:
    data, (host, port) = s.recvfrom(512)
    log.write(host + "\\n")
    s.sendto(host.encode(), (host, port))
`;
const HOSTS_FILE =
  "127.0.0.1 localhost\n198.51.100.1 lighthouse.example.org\n198.51.100.5 tavern.example.org\n";

function wg(args: string[], input?: string): string {
  return execFileSync("wg", args, { input, encoding: "utf8" }).trim();
}

/** Files of a directory tree, relative to it, sorted. */
export function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((path) => statSync(join(dir, path)).isFile())
    .sort();
}

/** A .network file for a NIC, matched by its MAC address. */
function uplinkNetwork(mac: string, address: string, gateway?: string): string {
  const route = gateway ? `Gateway=${gateway}\n` : "";
  return `[Match]\nMACAddress=${mac}\n\n[Network]\nAddress=${address}/30\n${route}`;
}

/** The internet side of a host's /30. */
export function internetSide(host: Host): string {
  const octets = UPLINK[host].split(".").map(Number);
  octets[3]! += 1;
  return octets.join(".");
}

export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

export class FleetLab {
  readonly fleet: string;
  readonly rendered: string;
  readonly vms = {} as Record<Host | "internet", Vm>;
  readonly timings: string[] = [];
  private lab: VmLab | undefined;
  /** Public keys of the providers' servers, and of archive's end of each VPN. */
  private readonly providerKeys = {} as Record<Provider, { server: string; client: string }>;
  private readonly tunnel6: Record<string, string> = {};

  constructor(
    private readonly work: string,
    private readonly image: Image,
  ) {
    this.fleet = join(work, "fleet");
    this.rendered = join(work, "rendered");
  }

  /** The committed example fleet plus archive's two VPNs, rendered as a user renders it. */
  makeFleet(): void {
    cpSync(join(ROOT, "wgqt.toml"), join(this.fleet, "wgqt.toml"));
    cpSync(join(ROOT, "wireguard_keys"), join(this.fleet, "wireguard_keys"), { recursive: true });
    for (const [name, provider] of Object.entries(PROVIDERS) as [
      Provider,
      (typeof PROVIDERS)[Provider],
    ][]) {
      const serverKey = wg(["genkey"]);
      const clientKey = wg(["genkey"]);
      this.providerKeys[name] = { server: serverKey, client: wg(["pubkey"], clientKey) };
      // A provider's file as Mullvad or Proton hand them out.
      const file = join(this.work, `${name}.conf`);
      writeFileSync(
        file,
        `[Interface]\nPrivateKey = ${clientKey}\nAddress = ${provider.address}/32\nDNS = ${provider.server}\n\n` +
          `[Peer]\nPublicKey = ${wg(["pubkey"], serverKey)}\nAllowedIPs = 0.0.0.0/0\n` +
          `Endpoint = ${provider.endpoint}:${provider.port}\n`,
        { mode: 0o600 },
      );
      const imported = run(WGQT, ["vpn", "import", name, "--from", file, "--machine", "archive"], {
        cwd: this.fleet,
      });
      expect(imported.status, imported.stderr).toBe(0);
    }
    this.render();
    const plan = run(WGQT, ["plan", "--json"], { cwd: this.fleet });
    expect(plan.status, plan.stderr).toBe(0);
    for (const network of JSON.parse(plan.stdout).networks) {
      for (const member of network.members) {
        this.tunnel6[`${network.name}/${member.machine}`] = member.address6;
      }
    }
  }

  /** A member's IPv6 (ULA) address in a network, from `wgqt plan --json`. */
  address6(network: string, host: Host): string {
    const address = this.tunnel6[`${network}/${host}`];
    if (address === undefined) throw new Error(`no IPv6 address for ${host} in ${network}`);
    return address;
  }

  /** `wgqt render --format F --out DIR` for both formats the hosts use. */
  render(): void {
    for (const format of new Set(Object.values(FORMAT))) {
      const out = join(this.rendered, format);
      const render = run(WGQT, ["render", "--format", format, "--out", out], { cwd: this.fleet });
      expect(render.status, render.stderr).toBe(0);
    }
  }

  hostDir(host: Host): string {
    return join(this.rendered, FORMAT[host], host);
  }

  async boot(): Promise<void> {
    this.lab = new VmLab(this.image);
    const macs = {} as Record<Host, { host: string; internet: string }>;
    for (const host of HOSTS) {
      const link = await this.lab.link("internet", host);
      macs[host] = { host: link[host]!, internet: link.internet! };
    }
    const started = Date.now();
    const names = ["internet", ...HOSTS] as const;
    const booted = await Promise.all(names.map((name) => this.lab!.boot(name)));
    names.forEach((name, index) => {
      this.vms[name] = booted[index]!;
    });
    this.timings.push(
      `${names.length} VMs booted (${booted[0]!.accelerator}) in ${(Date.now() - started) / 1000} s`,
    );
    await Promise.all([
      this.setUpInternet(macs),
      ...HOSTS.map((host) => this.setUpHost(host, macs[host].host)),
    ]);
  }

  /** The router between every host, the whoami service and the providers' servers. */
  private async setUpInternet(macs: Record<Host, { internet: string }>): Promise<void> {
    const internet = this.vms.internet;
    await internet.writeFiles([
      ...HOSTS.map((host) => ({
        path: `/etc/systemd/network/10-${host}.network`,
        content: uplinkNetwork(macs[host].internet, internetSide(host)),
      })),
      { path: "/usr/local/sbin/whoami-server", content: WHOAMI_SERVER, mode: "0755" },
      ...(Object.keys(PROVIDERS) as Provider[]).map((name) => ({
        path: `/etc/wireguard/${name}.key`,
        content: `${this.providerKeys[name].server}\n`,
        mode: "0600",
      })),
    ]);
    const providers = (Object.entries(PROVIDERS) as [Provider, (typeof PROVIDERS)[Provider]][]).map(
      ([name, p]) =>
        `ip link add srv-${name} type wireguard
wg set srv-${name} private-key /etc/wireguard/${name}.key listen-port ${p.port} peer ${this.providerKeys[name].client} allowed-ips ${p.address}/32
ip address add ${p.server}/32 dev srv-${name}
ip link set srv-${name} up
ip route add ${p.address}/32 dev srv-${name}
ip address add ${p.endpoint}/32 dev web`,
    );
    await internet.exec(`set -e
sysctl -q -w net.ipv4.ip_forward=1
ip link add web type dummy
ip address add ${WHOAMI.address}/32 dev web
ip link set web up
${providers.join("\n")}
systemd-run --quiet --unit whoami python3 /usr/local/sbin/whoami-server
networkctl reload`);
  }

  private async setUpHost(host: Host, mac: string): Promise<void> {
    const vm = this.vms[host];
    const rpFilter = RP_FILTER[host];
    await vm.writeFiles([
      { path: "/etc/hosts", content: HOSTS_FILE },
      {
        path: IDENTITY[host],
        content: readFileSync(join(ROOT, "examples/identities", `${host}.key`)),
        mode: "0600",
      },
      {
        path: "/etc/systemd/network/10-uplink.network",
        content: uplinkNetwork(mac, UPLINK[host], internetSide(host)),
      },
      ...(rpFilter === undefined
        ? []
        : [
            {
              path: "/etc/sysctl.d/10-rp-filter.conf",
              content: `net.ipv4.conf.default.rp_filter = ${rpFilter}\nnet.ipv4.conf.all.rp_filter = ${rpFilter}\n`,
            },
          ]),
    ]);
    await vm.exec("sysctl --system >/dev/null && networkctl reload");
  }

  /** Copy a host's rendered directory (or `dir`) and key files to it and run the procedure there. */
  async deploy(host: Host, dir = this.hostDir(host)): Promise<void> {
    await copyDeployment(this.vms[host], dir, filesUnder(dir), join(this.fleet, "wireguard_keys"));
    await this.vms[host].exec(
      `cd ${RENDERED_ON_HOST} && ${deployScript(FORMAT[host], IDENTITY[host])}`,
      { timeoutMs: 120_000 },
    );
  }

  /** The address the internet host sees `host`'s request come from, or undefined if none came back. */
  async whoami(host: Host, source?: string): Promise<string | undefined> {
    const bind = source ? `s.bind(("${source}", 0))\n` : "";
    const ask = await this.vms[host].exec(
      `python3 - <<'EOF'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
${bind}s.settimeout(3)
s.sendto(b"?", ("${WHOAMI.address}", ${WHOAMI.port}))
print(s.recv(64).decode())
EOF`,
      { allowFailure: true },
    );
    return ask.code === 0 ? ask.stdout.trim() : undefined;
  }

  /** Until `host`'s request is answered (a tunnel coming up); the address seen. */
  whoamiAnswered(host: Host, source?: string, timeoutMs = 90_000): Promise<string> {
    return waitFor(
      `${host}'s request ${source ? `from ${source} ` : ""}to be answered`,
      () => this.whoami(host, source),
      timeoutMs,
    );
  }

  /** Every source address the whoami service has seen so far, in order. */
  async whoamiLog(): Promise<string[]> {
    const log = await this.vms.internet.exec(`cat ${WHOAMI_LOG} 2>/dev/null || true`);
    return log.stdout.split("\n").filter(Boolean);
  }

  async cleanup(): Promise<void> {
    console.log(this.timings.join("\n"));
    await this.lab?.cleanup();
  }
}
