/**
 * The example fleet on real Debian hosts (fleet.ts draws the wiring):
 * systemd-networkd and wg-quick bring wgqt's rendered files up on kernel
 * WireGuard, each host decrypting its own keys with `age` and its own
 * identity, and an internet host checks where every client's traffic comes
 * from: through its default tunnel's gateway, through the other tunnels by
 * source address, and nowhere when a tunnel is gone.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, run, WGQT } from "../helpers/run.js";
import { pruneImages } from "./cache.js";
import {
  CLIENTS,
  type Client,
  DEFAULT_TUNNEL,
  FleetLab,
  FORMAT,
  filesUnder,
  type GATEWAYS,
  HOSTS,
  type Host,
  PROVIDERS,
  PROXIES,
  type ProxyName,
  TUNNEL,
  UPLINK,
  waitFor,
} from "./fleet.js";
import { ensureImage, vmSkipReason } from "./image.js";

const skip = vmSkipReason();

// CI sets WGQT_VM_REQUIRED: there a missing tool is a failure, not a skip.
describe.runIf(skip !== undefined && process.env.WGQT_VM_REQUIRED === "1")("the VM suite", () => {
  it("can run here", () => {
    throw new Error(`WGQT_VM_REQUIRED is set, but the VM suite cannot run: ${skip}`);
  });
});

const NETWORKD_HOSTS = HOSTS.filter((host) => FORMAT[host] === "networkd");
const WGQUICK_HOSTS = HOSTS.filter((host) => FORMAT[host] === "wg-quick");

/** The interface names of a host's rendered files (.netdev `Name=`, wg-quick file names). */
function wgqtInterfaces(lab: FleetLab, host: Host): string[] {
  const dir = lab.hostDir(host);
  const files = filesUnder(dir);
  if (FORMAT[host] === "wg-quick") {
    return files.filter((file) => /^[^/]+\.conf$/.test(file)).map((file) => file.slice(0, -5));
  }
  return files
    .filter((file) => file.endsWith(".netdev"))
    .map((file) => /^Name=(.+)$/m.exec(readFileSync(join(dir, file), "utf8"))![1]!)
    .sort();
}

/** The address the internet host sees each of a client's tunnels come from. */
function expectedSources(client: Client): [string, string | undefined, string][] {
  const proxies = (Object.keys(PROXIES) as ProxyName[]).map((proxy): [string, string, string] => [
    proxy,
    TUNNEL[proxy][client]!,
    UPLINK[PROXIES[proxy]],
  ]);
  const vpns =
    client === "archive"
      ? (Object.entries(PROVIDERS).map(([name, p]) => [name, p.address, p.address]) as [
          string,
          string,
          string,
        ][])
      : [];
  return [...vpns, ...proxies].map(([tunnel, source, seen]) => [
    tunnel,
    tunnel === DEFAULT_TUNNEL[client] ? undefined : source,
    seen,
  ]);
}

describe.skipIf(skip !== undefined)(
  `the example fleet on Debian VMs${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    let work = "";
    let lab: FleetLab;

    /** Every interface the host's rendered files name is up: networkd `configured`, wg-quick active. */
    async function expectConfigured(host: Host): Promise<void> {
      const interfaces = wgqtInterfaces(lab, host);
      const vm = lab.vms[host];
      if (FORMAT[host] === "wg-quick") {
        const units = interfaces.map((name) => `wg-quick@${name}`);
        const active = await vm.exec(`systemctl is-active ${units.join(" ")}`, {
          allowFailure: true,
        });
        expect(active.stdout.trim().split("\n")).toEqual(units.map(() => "active"));
        return;
      }
      const current = async () => {
        const list = await vm.exec("networkctl list --no-legend --no-pager");
        const setup = new Map(
          list.stdout
            .trim()
            .split("\n")
            .map((line) => line.trim().split(/\s+/))
            .map((fields) => [fields[1]!, fields[4]!]),
        );
        return Object.fromEntries(interfaces.map((link) => [link, setup.get(link)]));
      };
      const settled = await waitFor(`${host}'s interfaces to be configured`, async () => {
        const states = await current();
        return Object.values(states).every((state) => state === "configured" || state === "failed")
          ? states
          : undefined;
      }).catch(() => undefined);
      const states = settled ?? (await current());
      const wanted = Object.fromEntries(interfaces.map((link) => [link, "configured"]));
      if (JSON.stringify(states) !== JSON.stringify(wanted)) {
        const status = await vm.exec(
          `networkctl status --no-pager -n 15 ${interfaces.join(" ")}; ip rule; systemctl --failed --no-pager`,
          { allowFailure: true },
        );
        expect(states, status.stdout + status.stderr).toEqual(wanted);
      }
    }

    /** systemd-networkd logged no warning or error on the host. */
    async function expectQuietJournal(host: Host): Promise<void> {
      const journal = await lab.vms[host].exec(
        "journalctl --no-pager -o cat -p warning -u systemd-networkd",
      );
      expect(journal.stdout.trim()).toBe("");
    }

    /** Both ends of a WireGuard tunnel have had a handshake with each other. */
    async function expectHandshake(
      host: Host | "internet",
      iface: string,
      peerKey: string,
    ): Promise<void> {
      const handshakes = await lab.vms[host].exec(`wg show ${iface} latest-handshakes`);
      const latest = new Map(
        handshakes.stdout
          .trim()
          .split("\n")
          .map((line) => line.split("\t") as [string, string]),
      );
      expect(Number(latest.get(peerKey)), `${host}'s handshake on ${iface}`).toBeGreaterThan(0);
    }

    /** `request` gets no answer, and the internet host sees nothing at all meanwhile. */
    async function expectNothingLeaves(client: Client, what: string): Promise<void> {
      const before = await lab.whoamiLog();
      for (let attempt = 0; attempt < 2; attempt++) {
        expect(await lab.whoami(client), `${client}: ${what}`).toBeUndefined();
      }
      expect(await lab.whoamiLog(), `the internet host saw ${client}: ${what}`).toEqual(before);
    }

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), "wgqt-fleet-"));
      let started = Date.now();
      const image = ensureImage((line) => console.log(line));
      for (const old of pruneImages(image.disk)) console.log(`removed the old image ${old}`);
      lab = new FleetLab(work, image);
      lab.timings.push(`image ready in ${(Date.now() - started) / 1000} s`);
      lab.makeFleet();
      await lab.boot();
      started = Date.now();
      await Promise.all(HOSTS.map((host) => lab.deploy(host)));
      lab.timings.push(`deployed in ${(Date.now() - started) / 1000} s`);
    });

    afterAll(async () => {
      await lab?.cleanup();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it.each(HOSTS)("every wgqt interface of %s comes up", expectConfigured);

    it.each(NETWORKD_HOSTS)(
      "the journal of systemd-networkd on %s has no warnings or errors",
      expectQuietJournal,
    );

    it.each(WGQUICK_HOSTS)("%s runs wg-quick on the kernel's WireGuard", async (host) => {
      const modules = await lab.vms[host].exec("lsmod");
      expect(modules.stdout).toMatch(/^wireguard\s/m);
    });

    it.each(CLIENTS)(
      "%s and both gateways reach each other over their tunnels, IPv4 and IPv6, with a handshake on both ends",
      async (client) => {
        const publicKey = (name: Host) =>
          readFileSync(join(lab.fleet, "wireguard_keys", `${name}.pub`), "utf8").trim();
        for (const [proxy, gateway] of Object.entries(PROXIES) as [
          ProxyName,
          (typeof GATEWAYS)[number],
        ][]) {
          await waitFor(`${client} to reach ${gateway}`, async () => {
            const ping = await lab.vms[client].exec(`ping -c 1 -W 2 ${TUNNEL[proxy][gateway]}`, {
              allowFailure: true,
            });
            return ping.code === 0 ? true : undefined;
          });
          await lab.vms[gateway].exec(`ping -c 2 -W 5 ${TUNNEL[proxy][client]}`);
          // Dual-stack: the same tunnel carries IPv6 between the members' ULA addresses.
          await lab.vms[client].exec(`ping -6 -c 2 -W 5 ${lab.address6(proxy, gateway)}`);
          await lab.vms[gateway].exec(`ping -6 -c 2 -W 5 ${lab.address6(proxy, client)}`);
          await expectHandshake(client, proxy, publicKey(gateway));
          await expectHandshake(gateway, proxy, publicKey(client));
        }
      },
    );

    it.each(CLIENTS)(
      "%s reaches both gateways by name (<machine>.<network>), IPv4 and IPv6, from the one block its deployment put in /etc/hosts",
      async (client) => {
        const vm = lab.vms[client];
        for (const [proxy, gateway] of Object.entries(PROXIES) as [ProxyName, Host][]) {
          const name = `${gateway}.${proxy}`;
          const v4 = await vm.exec(`getent ahostsv4 ${name}`);
          expect(v4.stdout.split(/\s+/)[0], name).toBe(TUNNEL[proxy][gateway]);
          const v6 = await vm.exec(`getent ahostsv6 ${name}`);
          expect(v6.stdout.split(/\s+/)[0], name).toBe(lab.address6(proxy, gateway));
          await vm.exec(`ping -4 -c 1 -W 5 ${name}`);
          await vm.exec(`ping -6 -c 1 -W 5 ${name}`);
        }
        expect((await vm.exec("grep -c '^# BEGIN wgqt$' /etc/hosts")).stdout.trim()).toBe("1");
      },
    );

    it.each(CLIENTS)(
      "the internet host sees %s's traffic from each tunnel's exit: the default one's, and the others' by source address",
      async (client) => {
        for (const [tunnel, source, seen] of expectedSources(client)) {
          expect(await lab.whoamiAnswered(client, source), `${client} through ${tunnel}`).toBe(
            seen,
          );
        }
      },
    );

    it("the VPN providers' servers have a handshake with archive", async () => {
      for (const name of Object.keys(PROVIDERS)) {
        const peers = await lab.vms.internet.exec(`wg show srv-${name} peers`);
        await expectHandshake("internet", `srv-${name}`, peers.stdout.trim());
      }
    });

    it("spark (wg-quick): its default tunnel's interface gone, nothing leaves, and its other tunnel works", async () => {
      await lab.vms.spark.exec("ip link del finland");
      await expectNothingLeaves("spark", "finland deleted");
      expect(await lab.whoami("spark", TUNNEL.germany.spark)).toBe(UPLINK.tavern);
      await lab.vms.spark.exec("systemctl restart wg-quick@finland");
      expect(await lab.whoamiAnswered("spark")).toBe(UPLINK.lighthouse);
    });

    it("nyaa (networkd): its default tunnel's interface gone, nothing leaves, and its other tunnel works", async () => {
      await lab.vms.nyaa.exec("ip link del finland");
      await expectNothingLeaves("nyaa", "finland deleted");
      expect(await lab.whoami("nyaa", TUNNEL.germany.nyaa)).toBe(UPLINK.tavern);
      await lab.vms.nyaa.exec("networkctl reload");
      expect(await lab.whoamiAnswered("nyaa")).toBe(UPLINK.lighthouse);
      await expectConfigured("nyaa");
    });

    it("archive (kill switch): its default VPN taken down, nothing leaves, and its other tunnels work", async () => {
      await lab.vms.archive.exec("networkctl down mullvad");
      await expectNothingLeaves("archive", "mullvad down");
      expect(await lab.whoami("archive", PROVIDERS.proton.address)).toBe(PROVIDERS.proton.address);
      expect(await lab.whoami("archive", TUNNEL.germany.archive)).toBe(UPLINK.tavern);
      await lab.vms.archive.exec("networkctl up mullvad");
      expect(await lab.whoamiAnswered("archive")).toBe(PROVIDERS.mullvad.address);
    });

    it("after `wgqt rotate --machine nyaa` and a redeploy of what it lists, the tunnels come back", async () => {
      const oldKey = readFileSync(join(ROOT, "wireguard_keys", "nyaa.pub"), "utf8").trim();
      const rotate = run(WGQT, ["rotate", "--machine", "nyaa", "--yes"], { cwd: lab.fleet });
      expect(rotate.status, rotate.stderr).toBe(0);
      const listed = /redeploy these machines[^\n]*\n((?: {2}\S+ .*\n)+)/.exec(
        rotate.stderr + rotate.stdout,
      );
      const redeploy = listed![1]!
        .trim()
        .split("\n")
        .map((line) => line.trim().split(/\s+/)[0]!)
        .sort() as Host[];
      expect(redeploy).toEqual(["lighthouse", "nyaa", "tavern"]);
      lab.render();
      const started = Date.now();
      await Promise.all(redeploy.map((host) => lab.deploy(host)));
      for (const host of redeploy) {
        await expectConfigured(host);
        await expectQuietJournal(host);
      }
      expect(await lab.whoamiAnswered("nyaa")).toBe(UPLINK.lighthouse);
      expect(await lab.whoamiAnswered("nyaa", TUNNEL.germany.nyaa)).toBe(UPLINK.tavern);
      lab.timings.push(`redeployed and both tunnels back in ${(Date.now() - started) / 1000} s`);
      const newKey = readFileSync(join(lab.fleet, "wireguard_keys", "nyaa.pub"), "utf8").trim();
      expect(newKey).not.toBe(oldKey);
      const shown = await lab.vms.nyaa.exec(
        "wg show germany public-key; wg show finland public-key",
      );
      expect(shown.stdout).toBe(`${newKey}\n${newKey}\n`);
      // The redeploy replaced wgqt's block in /etc/hosts rather than adding a second one.
      const blocks = await lab.vms.nyaa.exec("grep -c '^# BEGIN wgqt$' /etc/hosts");
      expect(blocks.stdout.trim()).toBe("1");
      // The gateways took nyaa's new key as its peer: the old tunnels did not just live on.
      for (const [proxy, gateway] of Object.entries(PROXIES)) {
        const peers = await lab.vms[gateway as Host].exec(`wg show ${proxy} peers`);
        expect(peers.stdout.split("\n")).toContain(newKey);
        expect(peers.stdout.split("\n")).not.toContain(oldKey);
      }
    });

    it("the checks catch a broken networkd file: a wrong PrivateKeyFile= path, a missing policy rule", async () => {
      const broken = join(work, "broken", "nyaa");
      cpSync(lab.hostDir("nyaa"), broken, { recursive: true });
      const edit = (file: string, change: (text: string) => string) =>
        writeFileSync(join(broken, file), change(readFileSync(join(broken, file), "utf8")));
      edit("50-wgqt-finland.netdev", (text) =>
        text.replace("PrivateKeyFile=/etc/wireguard/wgqt/", "PrivateKeyFile=/etc/wireguard/"),
      );
      edit("system/wgqt-routing-germany.service", (text) =>
        text
          .split("\n")
          .filter((line) => !line.includes(`from ${TUNNEL.germany.nyaa} lookup`))
          .join("\n"),
      );
      await lab.deploy("nyaa", broken);
      const journal = await lab.vms.nyaa.exec(
        "journalctl --no-pager -o cat -p warning -u systemd-networkd",
      );
      expect(journal.stdout).toContain("/etc/wireguard/nyaa.key");
      expect(await lab.whoami("nyaa")).toBeUndefined();
      expect(await lab.whoami("nyaa", TUNNEL.germany.nyaa)).toBeUndefined();
      // The files as rendered put it right again.
      await lab.deploy("nyaa");
      expect(await lab.whoamiAnswered("nyaa")).toBe(UPLINK.lighthouse);
      expect(await lab.whoamiAnswered("nyaa", TUNNEL.germany.nyaa)).toBe(UPLINK.tavern);
    });
  },
);
