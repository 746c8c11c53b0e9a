/**
 * The example fleet's networkd output on real Debian hosts: systemd-networkd
 * creates the interfaces from wgqt's .netdev/.network files, kernel WireGuard
 * runs them, each host decrypts its own keys with `age` and its SSH host key.
 *
 *   tavern 198.51.100.5/30 ── nyaa 198.51.100.6/30   (one point-to-point link)
 *
 * tavern is the gateway of proxy germany, nyaa one of its clients (nyaa is
 * also a client of finland, whose gateway lighthouse is not booted here: its
 * interface must still come up cleanly). Distribution defaults (rp_filter,
 * no firewall) stay as Debian ships them.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, run, WGQT } from "../helpers/run.js";
import { copyDeployment, networkdDeployScript, RENDERED_ON_HOST } from "./deploy.js";
import { ensureImage, vmSkipReason } from "./image.js";
import { type Vm, VmLab } from "./machine.js";

const UPLINK = { tavern: "198.51.100.5", nyaa: "198.51.100.6" } as const;
/** What the fleet's endpoints resolve to on every host (/etc/hosts: there is no DNS). */
const HOSTS_FILE = "198.51.100.1 lighthouse.example.org\n198.51.100.5 tavern.example.org\n";
const TUNNEL = { tavern: "10.128.0.9", nyaa: "10.128.0.11" } as const;
type HostName = keyof typeof UPLINK;

const skip = vmSkipReason();

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
    let lab: VmLab | undefined;
    const vms = {} as Record<HostName, Vm>;
    const timings: string[] = [];

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), "wgqt-fleet-"));
      rendered = join(work, "rendered");
      let started = Date.now();
      const image = ensureImage((line) => console.log(line));
      timings.push(`image ready in ${(Date.now() - started) / 1000} s`);

      // The committed example fleet, rendered as a user renders it.
      const fleet = join(work, "fleet");
      cpSync(join(ROOT, "wgqt.toml"), join(fleet, "wgqt.toml"));
      cpSync(join(ROOT, "wireguard_keys"), join(fleet, "wireguard_keys"), { recursive: true });
      const render = run(WGQT, ["render", "--format", "networkd", "--out", rendered], {
        cwd: fleet,
      });
      expect(render.status, render.stderr).toBe(0);

      lab = new VmLab(image);
      const macs = await lab.link("tavern", "nyaa");
      started = Date.now();
      const [tavern, nyaa] = await Promise.all([lab.boot("tavern"), lab.boot("nyaa")]);
      vms.tavern = tavern;
      vms.nyaa = nyaa;
      timings.push(`both VMs booted (${tavern.accelerator}) in ${(Date.now() - started) / 1000} s`);

      started = Date.now();
      for (const name of ["tavern", "nyaa"] as const) {
        const vm = vms[name];
        await vm.writeFile("/etc/hosts", `127.0.0.1 localhost\n${HOSTS_FILE}`);
        await vm.writeFile(
          "/etc/ssh/ssh_host_ed25519_key",
          readFileSync(join(ROOT, "examples/identities", `${name}.key`)),
          "0600",
        );
        await vm.writeFile(
          "/etc/systemd/network/10-uplink.network",
          `[Match]\nMACAddress=${macs[name]}\n\n[Network]\nAddress=${UPLINK[name]}/30\n` +
            (name === "nyaa" ? `Gateway=${UPLINK.tavern}\n` : ""),
        );
        await vm.exec("networkctl reload");
        const hostDir = join(rendered, name);
        await copyDeployment(vm, hostDir, filesUnder(hostDir), join(fleet, "wireguard_keys"));
        await vm.exec(`cd ${RENDERED_ON_HOST} && ${networkdDeployScript()}`);
      }
      timings.push(`deployed in ${(Date.now() - started) / 1000} s`);
    });

    afterAll(() => {
      console.log(timings.join("\n"));
      lab?.cleanupNow();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it.each(["tavern", "nyaa"] as const)(
      "systemd-networkd configures every wgqt interface of %s",
      async (name) => {
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
          return Object.values(states).every(
            (state) => state === "configured" || state === "failed",
          )
            ? states
            : undefined;
        });
        expect(states).toEqual(Object.fromEntries(interfaces.map((link) => [link, "configured"])));
      },
    );

    it.each(["tavern", "nyaa"] as const)(
      "the journal of systemd-networkd on %s has no warnings or errors",
      async (name) => {
        const journal = await vms[name].exec(
          "journalctl --no-pager -o cat -p warning -u systemd-networkd",
        );
        expect(journal.stdout.trim()).toBe("");
      },
    );

    it("nyaa reaches tavern's tunnel address over kernel WireGuard, and back", async () => {
      await vms.nyaa.exec(`ping -c 3 -W 5 ${TUNNEL.tavern}`);
      await vms.tavern.exec(`ping -c 3 -W 5 ${TUNNEL.nyaa}`);
      const publicKey = (name: HostName) =>
        readFileSync(join(ROOT, "wireguard_keys", `${name}.pub`), "utf8").trim();
      for (const [name, peer] of [
        ["tavern", "nyaa"],
        ["nyaa", "tavern"],
      ] as const) {
        const handshakes = await vms[name].exec("wg show germany latest-handshakes");
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
    });
  },
);
