/**
 * The example fleet's networkd output on real Debian hosts: systemd-networkd
 * creates the interfaces from wgqt's .netdev/.network files, kernel WireGuard
 * runs them, each host decrypts its own keys with `age` and its SSH host key.
 *
 *   lighthouse 198.51.100.1/30 ── 198.51.100.2/30 nyaa 198.51.100.6/30 ── tavern 198.51.100.5/30
 *
 * Two point-to-point links: lighthouse is the gateway of proxy finland,
 * tavern of germany, nyaa a client of both (its default route is via
 * tavern's link). lighthouse's recipient is an age X25519 key, the others'
 * their SSH host keys: each host decrypts with what it has. Distribution
 * defaults (rp_filter, no firewall) stay as Debian ships them.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, run, WGQT } from "../helpers/run.js";
import { copyDeployment, networkdDeployScript, RENDERED_ON_HOST } from "./deploy.js";
import { ensureImage, vmSkipReason } from "./image.js";
import { type Vm, VmLab } from "./machine.js";

const HOSTS = ["lighthouse", "tavern", "nyaa"] as const;
type HostName = (typeof HOSTS)[number];
/** Each host's identity: the file `age -d -i` decrypts its keys with. */
const IDENTITY: Record<HostName, string> = {
  lighthouse: "/etc/age/host.key",
  tavern: "/etc/ssh/ssh_host_ed25519_key",
  nyaa: "/etc/ssh/ssh_host_ed25519_key",
};
/** What the fleet's endpoints resolve to on every host (/etc/hosts: there is no DNS). */
const HOSTS_FILE = "198.51.100.1 lighthouse.example.org\n198.51.100.5 tavern.example.org\n";
/** Tunnel addresses: finland is 10.128.0.0/29, germany 10.128.0.8/29. */
const TUNNEL = {
  finland: { lighthouse: "10.128.0.1", nyaa: "10.128.0.3" },
  germany: { tavern: "10.128.0.9", nyaa: "10.128.0.11" },
} as const;

const skip = vmSkipReason();

// CI sets WGQT_VM_REQUIRED: there a missing tool is a failure, not a skip.
describe.runIf(skip !== undefined && process.env.WGQT_VM_REQUIRED === "1")("the VM suite", () => {
  it("can run here", () => {
    throw new Error(`WGQT_VM_REQUIRED is set, but the VM suite cannot run: ${skip}`);
  });
});

/** Files of a directory tree, relative to it, sorted. */
function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((path) => statSync(join(dir, path)).isFile())
    .sort();
}

/** The interface names wgqt's .netdev files create. */
function wgqtInterfaces(hostDir: string): string[] {
  return filesUnder(hostDir)
    .filter((file) => file.endsWith(".netdev"))
    .map((file) => /^Name=(.+)$/m.exec(readFileSync(join(hostDir, file), "utf8"))![1]!)
    .sort();
}

/** A .network file for one end of a link, matched by its MAC address (files split by NUL). */
function uplink(mac: string, address: string, gateway?: string): string {
  const route = gateway ? `Gateway=${gateway}\n` : "";
  return `[Match]\nMACAddress=${mac}\n\n[Network]\nAddress=${address}\n${route}\0`;
}

async function waitFor<T>(
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

describe.skipIf(skip !== undefined)(
  `the example fleet's networkd output on Debian VMs${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    let work = "";
    let rendered = "";
    let fleet = "";
    let lab: VmLab | undefined;
    const vms = {} as Record<HostName, Vm>;
    const timings: string[] = [];

    /** `wgqt render --format networkd --out DIR`, as a user runs it. */
    function renderFleet(): void {
      const render = run(WGQT, ["render", "--format", "networkd", "--out", rendered], {
        cwd: fleet,
      });
      expect(render.status, render.stderr).toBe(0);
    }

    /** Copy a host's rendered directory and key files to it and run the procedure there. */
    async function deploy(name: HostName): Promise<void> {
      const hostDir = join(rendered, name);
      await copyDeployment(vms[name], hostDir, filesUnder(hostDir), join(fleet, "wireguard_keys"));
      await vms[name].exec(`cd ${RENDERED_ON_HOST} && ${networkdDeployScript(IDENTITY[name])}`);
    }

    /** Ping until an answer comes (a tunnel coming up), or fail after `timeoutMs`. */
    function pingUntilAnswered(vm: Vm, address: string, timeoutMs = 90_000): Promise<true> {
      return waitFor(
        `${vm.name} to reach ${address}`,
        async () => {
          const ping = await vm.exec(`ping -c 1 -W 2 ${address}`, { allowFailure: true });
          return ping.code === 0 ? true : undefined;
        },
        timeoutMs,
      );
    }

    /** Every interface wgqt's .netdev files name is `configured` in `networkctl list`. */
    async function expectConfigured(name: HostName): Promise<void> {
      const interfaces = wgqtInterfaces(join(rendered, name));
      const states = await waitFor(`${name}'s interfaces to be configured`, async () => {
        const list = await vms[name].exec("networkctl list --no-legend --no-pager");
        const setup = new Map(
          list.stdout
            .trim()
            .split("\n")
            .map((line) => line.trim().split(/\s+/))
            .map((fields) => [fields[1]!, fields[4]!]),
        );
        const states = Object.fromEntries(interfaces.map((link) => [link, setup.get(link)]));
        return Object.values(states).every((state) => state === "configured" || state === "failed")
          ? states
          : undefined;
      });
      expect(states).toEqual(Object.fromEntries(interfaces.map((link) => [link, "configured"])));
    }

    /** systemd-networkd logged no warning or error on the host. */
    async function expectQuietJournal(name: HostName): Promise<void> {
      const journal = await vms[name].exec(
        "journalctl --no-pager -o cat -p warning -u systemd-networkd",
      );
      expect(journal.stdout.trim()).toBe("");
    }

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), "wgqt-fleet-"));
      rendered = join(work, "rendered");
      let started = Date.now();
      const image = ensureImage((line) => console.log(line));
      timings.push(`image ready in ${(Date.now() - started) / 1000} s`);

      // The committed example fleet, rendered as a user renders it.
      fleet = join(work, "fleet");
      cpSync(join(ROOT, "wgqt.toml"), join(fleet, "wgqt.toml"));
      cpSync(join(ROOT, "wireguard_keys"), join(fleet, "wireguard_keys"), { recursive: true });
      renderFleet();

      lab = new VmLab(image);
      const finlandLink = await lab.link("lighthouse", "nyaa");
      const germanyLink = await lab.link("tavern", "nyaa");
      const uplinks: Record<HostName, string> = {
        lighthouse: uplink(finlandLink.lighthouse!, "198.51.100.1/30"),
        tavern: uplink(germanyLink.tavern!, "198.51.100.5/30"),
        nyaa:
          uplink(finlandLink.nyaa!, "198.51.100.2/30") +
          uplink(germanyLink.nyaa!, "198.51.100.6/30", "198.51.100.5"),
      };
      started = Date.now();
      const booted = await Promise.all(HOSTS.map((name) => lab!.boot(name)));
      HOSTS.forEach((name, index) => {
        vms[name] = booted[index]!;
      });
      timings.push(
        `${HOSTS.length} VMs booted (${booted[0]!.accelerator}) in ${(Date.now() - started) / 1000} s`,
      );

      started = Date.now();
      await Promise.all(
        HOSTS.map(async (name) => {
          const vm = vms[name];
          await vm.writeFiles([
            { path: "/etc/hosts", content: `127.0.0.1 localhost\n${HOSTS_FILE}` },
            {
              path: IDENTITY[name],
              content: readFileSync(join(ROOT, "examples/identities", `${name}.key`)),
              mode: "0600",
            },
            ...uplinks[name]
              .split("\0")
              .filter(Boolean)
              .map((content, index) => ({
                path: `/etc/systemd/network/10-uplink${index}.network`,
                content,
              })),
          ]);
          await vm.exec("networkctl reload");
          await deploy(name);
        }),
      );
      timings.push(`deployed in ${(Date.now() - started) / 1000} s`);
    });

    afterAll(async () => {
      console.log(timings.join("\n"));
      await lab?.cleanup();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it.each(HOSTS)("systemd-networkd configures every wgqt interface of %s", expectConfigured);

    it.each(HOSTS)(
      "the journal of systemd-networkd on %s has no warnings or errors",
      expectQuietJournal,
    );

    it.each([
      ["germany", "tavern"],
      ["finland", "lighthouse"],
    ] as const)(
      "nyaa and its %s gateway %s reach each other over kernel WireGuard",
      async (network, gateway) => {
        const addresses: Record<string, string> = TUNNEL[network];
        await vms.nyaa.exec(`ping -c 3 -W 5 ${addresses[gateway]}`);
        await vms[gateway].exec(`ping -c 3 -W 5 ${addresses.nyaa}`);
        const publicKey = (name: HostName) =>
          readFileSync(join(ROOT, "wireguard_keys", `${name}.pub`), "utf8").trim();
        for (const [name, peer] of [
          [gateway, "nyaa"],
          ["nyaa", gateway],
        ] as const) {
          const handshakes = await vms[name].exec(`wg show ${network} latest-handshakes`);
          const latest = new Map(
            handshakes.stdout
              .trim()
              .split("\n")
              .map((line) => line.split("\t") as [string, string]),
          );
          expect(
            Number(latest.get(publicKey(peer))),
            `${name}'s handshake with ${peer}`,
          ).toBeGreaterThan(0);
        }
        const modules = await vms.nyaa.exec("lsmod");
        expect(modules.stdout).toMatch(/^wireguard\s/m);
      },
    );

    it("after `wgqt rotate --machine nyaa` and a redeploy of what it lists, the tunnels come back", async () => {
      const rotate = run(WGQT, ["rotate", "--machine", "nyaa", "--yes"], { cwd: fleet });
      expect(rotate.status, rotate.stderr).toBe(0);
      const listed = /redeploy these machines[^\n]*\n((?: {2}\S+ .*\n)+)/.exec(
        rotate.stderr + rotate.stdout,
      );
      const redeploy = listed![1]!
        .trim()
        .split("\n")
        .map((line) => line.trim().split(/\s+/)[0]!)
        .sort();
      expect(redeploy).toEqual(["lighthouse", "nyaa", "tavern"]);
      renderFleet();
      const started = Date.now();
      await Promise.all((redeploy as HostName[]).map((name) => deploy(name)));
      for (const name of redeploy as HostName[]) {
        await expectConfigured(name);
        await expectQuietJournal(name);
      }
      await pingUntilAnswered(vms.nyaa, TUNNEL.germany.tavern);
      await pingUntilAnswered(vms.nyaa, TUNNEL.finland.lighthouse);
      timings.push(`redeployed and both tunnels back in ${(Date.now() - started) / 1000} s`);
      const newKey = readFileSync(join(fleet, "wireguard_keys", "nyaa.pub"), "utf8").trim();
      expect(newKey).not.toBe(
        readFileSync(join(ROOT, "wireguard_keys", "nyaa.pub"), "utf8").trim(),
      );
      const shown = await vms.nyaa.exec("wg show germany public-key; wg show finland public-key");
      expect(shown.stdout).toBe(`${newKey}\n${newKey}\n`);
      // The gateways took nyaa's new key as its peer: the old tunnels did not just live on.
      const tavernPeers = await vms.tavern.exec("wg show germany peers");
      const lighthousePeers = await vms.lighthouse.exec("wg show finland peers");
      expect(tavernPeers.stdout.split("\n")).toContain(newKey);
      expect(lighthousePeers.stdout.split("\n")).toContain(newKey);
    });
  },
);
