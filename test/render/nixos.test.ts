/**
 * The NixOS output evaluated by a real Nix: `nix-instantiate --eval --strict
 * --json` applies each host's module (and the entry module) to a stub
 * { config, lib, pkgs } — nixpkgs is not installed here, so test/render/nix/
 * holds the few lib functions the modules use — and the values must match the
 * plan. The modules are written to a temporary directory next to a fake key
 * store, so the `age.secrets.*.file` paths are checked to resolve to it.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostView, plannedHosts } from "../../src/net/host.js";
import { plan } from "../../src/net/plan.js";
import { render } from "../../src/render/index.js";
import { secretName } from "../../src/render/nixos.js";
import {
  seedConfig,
  seedPublicKeys,
  seedSecrets,
  vpnConfig,
  vpnPublicKeys,
  vpnSecrets,
} from "../net/fleet.js";

const NIX = join(dirname(fileURLToPath(import.meta.url)), "nix");

let nixMissing: string | undefined;
try {
  execFileSync("nix-instantiate", ["--version"], { stdio: "ignore" });
} catch {
  nixMissing = "nix-instantiate is not installed";
}

function evaluate(expression: string): unknown {
  const output = execFileSync(
    "nix-instantiate",
    ["--eval", "--strict", "--json", "--expr", expression],
    {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  return JSON.parse(output);
}

interface Evaluated {
  unknown: string[];
  imports: string[];
  importsExist: boolean[];
  // biome-ignore lint/suspicious/noExplicitAny: the module's output is checked field by field.
  config: any;
  secretFilesExist: Record<string, boolean>;
}

describe.skipIf(nixMissing !== undefined)(
  `NixOS modules under nix-instantiate${nixMissing ? ` (skipped: ${nixMissing})` : ""}`,
  () => {
    const config = seedConfig();
    const planned = plan(config, seedPublicKeys());
    let root: string;
    let out: string;

    beforeAll(() => {
      // <root>/wireguard_keys/… is the store, <root>/nixos/ the output directory.
      root = mkdtempSync(join(tmpdir(), "wgqt-nixos-"));
      out = join(root, "nixos");
      for (const storeFile of Object.keys(seedSecrets(config))) {
        mkdirSync(dirname(join(root, "wireguard_keys", storeFile)), { recursive: true });
        writeFileSync(
          join(root, "wireguard_keys", storeFile),
          "age-encryption.org/v1 (a stand-in)\n",
        );
      }
      for (const file of render(planned, config, {
        format: "nixos",
        keysDir: "../wireguard_keys",
      })) {
        mkdirSync(dirname(join(out, file.path)), { recursive: true });
        writeFileSync(join(out, file.path), file.content);
      }
    });

    afterAll(() => {
      if (root) rmSync(root, { recursive: true, force: true });
    });

    const evaluateHost = (file: string, hostName: string) =>
      evaluate(
        `import ${JSON.stringify(join(NIX, "eval-host.nix"))} { file = ${JSON.stringify(join(out, file))}; hostName = ${JSON.stringify(hostName)}; }`,
      ) as Evaluated;

    it.each(plannedHosts(planned))("evaluates %s's module with the plan's values", (host) => {
      const result = evaluateHost(`hosts/${host}.nix`, host);
      const view = hostView(planned, config, host);
      expect(result.unknown).toEqual([]);
      expect(result.importsExist).toEqual([true]);
      expect(result.imports[0]!.endsWith("/nixos/options.nix")).toBe(true);

      const { networking, age } = result.config;
      // The seed's networking.wgqt.interfaces.<net>.{address,port}.
      expect(networking.wgqt.interfaces).toEqual(
        Object.fromEntries(
          view.interfaces.map((entry) => [
            entry.name,
            { address: entry.address, port: entry.listenPort },
          ]),
        ),
      );
      for (const network of planned.networks) {
        const member = network.members.find((m) => m.machine === host);
        const wireguard = networking.wireguard.interfaces[network.name];
        if (member === undefined) {
          expect(wireguard).toBeUndefined();
          continue;
        }
        expect(wireguard.ips).toEqual([`${member.address}/${network.prefixLength}`]);
        expect(wireguard.listenPort).toBe(network.port);
        expect(wireguard.privateKeyFile).toBe(`/run/agenix/wgqt-${host}`);
        const expectedPeers =
          member.role === "gateway"
            ? network.members
                .filter((m) => m.role === "client")
                .map((m) => ({
                  publicKey: seedPublicKeys()[m.machine],
                  presharedKeyFile: `/run/agenix/${secretName(`preshared_keys/${[host, m.machine].sort().join("+")}.age`)}`,
                  allowedIPs: [`${m.address}/32`],
                }))
            : [
                {
                  publicKey: seedPublicKeys()[network.gateway],
                  presharedKeyFile: `/run/agenix/${secretName(`preshared_keys/${[host, network.gateway].sort().join("+")}.age`)}`,
                  allowedIPs: ["0.0.0.0/0"],
                  endpoint: `${network.gateway}.example.org:${network.port}`,
                  persistentKeepalive: 25,
                },
              ];
        expect(wireguard.peers).toEqual(expectedPeers);
      }

      // Secrets: the private key and each PSK, root-only, files in the store, never contents.
      const expectedSecrets = [
        `${host}.age`,
        ...view.interfaces.flatMap((entry) => entry.peers.map((peer) => peer.presharedKeyFile!)),
      ];
      expect(Object.keys(age.secrets).sort()).toEqual(expectedSecrets.map(secretName).sort());
      for (const storeFile of expectedSecrets) {
        const secret = age.secrets[secretName(storeFile)];
        expect(secret).toMatchObject({
          owner: "root",
          mode: "0400",
          path: `/run/agenix/${secretName(storeFile)}`,
        });
        expect(secret.file).toBe(join(root, "wireguard_keys", storeFile));
      }
      expect(Object.values(result.secretFilesExist).every(Boolean)).toBe(true);

      const gateways = view.interfaces.filter((entry) => entry.role === "gateway");
      if (gateways.length > 0) {
        expect(networking.nat).toEqual({
          enable: true,
          internalInterfaces: gateways.map((g) => g.name),
        });
        expect(networking.firewall.allowedUDPPorts).toEqual(gateways.map((g) => g.listenPort));
        expect(result.config.boot.kernel.sysctl["net.ipv4.ip_forward"]).toBe(1);
        expect(result.config.systemd).toEqual({});
      } else {
        expect(networking.nat).toEqual({});
        // Clients of two proxies: policy routing, the default through finland (lowest id).
        expect(networking.wireguard.interfaces.finland).toMatchObject({
          table: "52100",
          fwMark: "0x520064",
        });
        expect(networking.wireguard.interfaces.germany).toMatchObject({
          table: "52101",
          fwMark: "0x520065",
        });
        expect(networking.firewall.checkReversePath).toBe("loose");
        const service = result.config.systemd.services["wgqt-routing"];
        expect(service.before).toEqual(["wireguard-finland.service", "wireguard-germany.service"]);
        const address = view.interfaces[1]!.address;
        expect(service.script).toContain(`rule priority 11101 from ${address} lookup 52101\n`);
        expect(service.script).toContain(
          "rule priority 12100 not from all fwmark 0x520000/0xfffc00 lookup 52100\n",
        );
        expect(service.script).toContain(
          "ip -4 route replace unreachable default metric 4294967295 table 52100\n",
        );
        // germany is not the default: its bridge, SNAT-ed into it, for containers.
        expect(networking.bridges).toEqual({ "br-germany": { interfaces: [] } });
        expect(networking.interfaces["br-germany"].ipv4.addresses).toEqual([
          { address: "10.20.101.1", prefixLength: 24 },
        ]);
        expect(networking.wgqt.bridges).toEqual({
          germany: { device: "br-germany", address: "10.20.101.1", prefixLength: 24, dns: [] },
        });
        expect(service.script).toContain(
          `iptables -t nat -A POSTROUTING -s 10.20.101.0/24 -o germany -j SNAT --to-source ${address}\n`,
        );
        expect(service.path).toEqual(["/stub/iproute2", "/stub/iptables"]);
        // The rules live outside networkd: it must not remove them as foreign.
        expect(result.config.systemd.network.config.networkConfig).toEqual({
          ManageForeignRoutingPolicyRules: false,
          ManageForeignRoutes: false,
        });
      }

      const text = JSON.stringify(result);
      for (const secret of Object.values(seedSecrets(config))) expect(text).not.toContain(secret);
    });

    it("the entry module applies exactly the module of networking.hostName", () => {
      for (const host of ["nyaa", "tavern"]) {
        const viaEntry = evaluateHost("default.nix", host);
        const direct = evaluateHost(`hosts/${host}.nix`, host);
        expect(viaEntry.config).toEqual(direct.config);
        expect(viaEntry.unknown).toEqual([]);
      }
      const stranger = evaluateHost("default.nix", "stranger");
      expect(stranger.config.networking.wireguard).toEqual({});
      expect(stranger.config.age.secrets).toEqual({});
    });

    it("declares networking.wgqt.bridges.<tunnel>.{device,address,prefixLength,dns}", () => {
      expect(
        evaluate(
          `import ${JSON.stringify(join(NIX, "eval-options.nix"))} { file = ${JSON.stringify(join(out, "options.nix"))}; option = "bridges"; }`,
        ),
      ).toEqual({
        default: {},
        type: "attrsOf",
        elemType: "submodule",
        fields: { device: "str", address: "str", prefixLength: "int", dns: "listOf" },
      });
    });

    it("declares networking.wgqt.interfaces.<net>.{address,port}", () => {
      expect(
        evaluate(
          `import ${JSON.stringify(join(NIX, "eval-options.nix"))} { file = ${JSON.stringify(join(out, "options.nix"))}; }`,
        ),
      ).toEqual({
        default: {},
        type: "attrsOf",
        elemType: "submodule",
        fields: { address: "str", port: "port" },
      });
    });
  },
);

describe.skipIf(nixMissing !== undefined)(
  `NixOS modules of a fleet with VPNs under nix-instantiate${nixMissing ? ` (skipped: ${nixMissing})` : ""}`,
  () => {
    const config = vpnConfig();
    const planned = plan(config, vpnPublicKeys());
    let root: string;
    let out: string;

    beforeAll(() => {
      root = mkdtempSync(join(tmpdir(), "wgqt-nixos-vpn-"));
      out = join(root, "nixos");
      for (const storeFile of Object.keys(vpnSecrets(config))) {
        mkdirSync(dirname(join(root, "wireguard_keys", storeFile)), { recursive: true });
        writeFileSync(
          join(root, "wireguard_keys", storeFile),
          "age-encryption.org/v1 (stand-in)\n",
        );
      }
      for (const file of render(planned, config, {
        format: "nixos",
        keysDir: "../wireguard_keys",
      })) {
        mkdirSync(dirname(join(out, file.path)), { recursive: true });
        writeFileSync(join(out, file.path), file.content);
      }
    });

    afterAll(() => {
      if (root) rmSync(root, { recursive: true, force: true });
    });

    const evaluateHost = (host: string) =>
      evaluate(
        `import ${JSON.stringify(join(NIX, "eval-host.nix"))} { file = ${JSON.stringify(join(out, `hosts/${host}.nix`))}; hostName = ${JSON.stringify(host)}; }`,
      ) as Evaluated;

    it("nyaa: us-west carries the default route with the provider's keys and DNS; germany is bridged", () => {
      const result = evaluateHost("nyaa");
      expect(result.unknown).toEqual([]);
      const { networking, age, systemd, boot } = result.config;
      expect(networking.wireguard.interfaces["us-west"]).toEqual({
        ips: ["10.64.1.2/32"],
        privateKeyFile: "/run/agenix/wgqt-vpn+us-west",
        fwMark: "0x520001",
        table: "52001",
        peers: [
          {
            publicKey: config.vpns!["us-west"]!.publicKey,
            presharedKeyFile: "/run/agenix/wgqt-vpn-psk+us-west",
            allowedIPs: ["0.0.0.0/0"],
            endpoint: "198.51.100.7:51820",
          },
        ],
      });
      // The provider's key and PSK are agenix secrets from the store's vpns/ directory.
      expect(Object.keys(age.secrets).sort()).toEqual([
        "wgqt-nyaa",
        "wgqt-psk-nyaa+tavern",
        "wgqt-vpn+us-west",
        "wgqt-vpn-psk+us-west",
      ]);
      expect(age.secrets["wgqt-vpn+us-west"].file).toBe(
        join(root, "wireguard_keys", "vpns", "us-west.age"),
      );
      expect(Object.values(result.secretFilesExist).every(Boolean)).toBe(true);
      // No listen port for a VPN, so it is not among networking.wgqt.interfaces.
      expect(Object.keys(networking.wgqt.interfaces)).toEqual(["germany"]);
      expect(networking.nameservers).toEqual(["10.64.0.1"]);
      expect(networking.firewall.checkReversePath).toBe("loose");
      expect(networking.wgqt.bridges).toEqual({
        germany: { device: "br-germany", address: "10.20.100.1", prefixLength: 24, dns: [] },
      });
      const script = systemd.services["wgqt-routing"].script as string;
      expect(script).toContain(
        "rule priority 12001 not from all fwmark 0x520000/0xfffc00 lookup 52001\n",
      );
      expect(script).toContain("rule priority 11100 from 10.20.100.0/24 lookup 52100\n");
      expect(script).not.toContain("12100");
      expect(systemd.services["wgqt-routing"].before).toEqual([
        "wireguard-germany.service",
        "wireguard-us-west.service",
      ]);
      expect(systemd.network.config.networkConfig.ManageForeignRoutingPolicyRules).toBe(false);
      expect(boot.kernel.sysctl["net.ipv4.ip_forward"]).toBe(1);
    });

    it("spark: two VPNs, the lower id the default, the other bridged under a shortened name", () => {
      const result = evaluateHost("spark");
      expect(result.unknown).toEqual([]);
      const { networking, age } = result.config;
      expect(
        networking.wireguard.interfaces["proton-nl"].peers[0].presharedKeyFile,
      ).toBeUndefined();
      expect(networking.wireguard.interfaces["mullvad-se-got1"]).toMatchObject({
        privateKeyFile: "/run/agenix/wgqt-vpn+mullvad-se-got1",
        table: "52003",
      });
      expect(networking.nameservers).toEqual(["10.2.0.1"]);
      expect(networking.wgqt.bridges["mullvad-se-got1"]).toEqual({
        device: "br-mullvad-9a14",
        address: "10.20.3.1",
        prefixLength: 24,
        dns: ["10.64.0.1", "10.64.0.2"],
      });
      expect(Object.keys(networking.bridges).sort()).toEqual(["br-germany", "br-mullvad-9a14"]);
      expect(Object.keys(age.secrets).sort()).toEqual([
        "wgqt-psk-spark+tavern",
        "wgqt-spark",
        "wgqt-vpn+mullvad-se-got1",
        "wgqt-vpn+proton-nl",
      ]);
    });

    it("tavern: a split-tunnel VPN routes in the main table, with no policy routing", () => {
      const result = evaluateHost("tavern");
      expect(result.unknown).toEqual([]);
      const { networking, systemd } = result.config;
      expect(networking.wireguard.interfaces.office).toEqual({
        ips: ["10.99.0.5/16"],
        privateKeyFile: "/run/agenix/wgqt-vpn+office",
        peers: [
          {
            publicKey: config.vpns!.office!.publicKey,
            presharedKeyFile: "/run/agenix/wgqt-vpn-psk+office",
            allowedIPs: ["10.99.0.0/16"],
            endpoint: "office.example.com:51820",
          },
        ],
      });
      expect(networking.nameservers).toEqual([]);
      expect(systemd).toEqual({});
    });

    it("the entry module picks each host, VPN-only machines included", () => {
      const entry = readFileSync(join(out, "default.nix"), "utf8");
      for (const host of ["nyaa", "spark", "tavern"])
        expect(entry).toContain(`./hosts/${host}.nix`);
      expect(hostView(planned, config, "nyaa").interfaces.map((entry) => entry.name)).toEqual([
        "us-west",
        "germany",
      ]);
    });
  },
);
