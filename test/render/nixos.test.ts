/**
 * wgqt's NixOS output under the real NixOS module system. nix/eval-nixos.nix
 * runs `lib.evalModules` over the real nixpkgs lib and the real declarations
 * of every option the output sets (../shared/nixos-ref, see its README), with
 * agenix's module and the rendered directory imported the way the README tells
 * users to, `networking.hostName` set, for every host of each golden fleet on
 * both WireGuard backends (scripts, networkd) and both firewall backends
 * (iptables, nftables). One `nix-instantiate --eval --strict --json` per fleet
 * forces what wgqt sets and what the real modules make of it (their units,
 * networkd's netdevs, agenix's activation script), so the module system's
 * type checks and the modules' assertions judge the output; the values must
 * then match the plan, and mean the same on either backend.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../src/config/types.js";
import { type HostView, hostSecretFiles, hostView, plannedHosts } from "../../src/net/host.js";
import { type Plan, plan } from "../../src/net/plan.js";
import { hexMark } from "../../src/net/routing.js";
import { type RenderedFile, render } from "../../src/render/index.js";
import { nixString } from "../../src/render/nix-syntax.js";
import { secretName } from "../../src/render/nixos.js";
import {
  keywordConfig,
  keywordPublicKeys,
  meshConfig,
  meshPublicKeys,
  meshSecrets,
  seedConfig,
  seedPublicKeys,
  seedSecrets,
  vpnConfig,
  vpnPublicKeys,
  vpnSecrets,
} from "../net/fleet.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const HARNESS = join(HERE, "nix", "eval-nixos.nix");
/** CI keeps it beside the project: ../shared/nixos-ref from the project root. */
const NIXOS_REF = join(HERE, "..", "..", "..", "shared", "nixos-ref");
const refMissing = existsSync(join(NIXOS_REF, "nixpkgs-lib", "lib", "default.nix"))
  ? undefined
  : `${NIXOS_REF} is absent: no real NixOS declarations to evaluate against`;

const BACKENDS = {
  "scripts-iptables": { useNetworkd: false, nftables: false },
  "scripts-nftables": { useNetworkd: false, nftables: true },
  "networkd-iptables": { useNetworkd: true, nftables: false },
  "networkd-nftables": { useNetworkd: true, nftables: true },
} as const;
type Backend = keyof typeof BACKENDS;
/** A machine of no fleet: every host's module must leave it alone. */
const STRANGER = "stranger";

interface Peer {
  publicKey: string;
  presharedKeyFile: string | null;
  allowedIPs: string[];
  endpoint: string | null;
  persistentKeepalive: number | null;
}
interface WireguardInterface {
  ips: string[];
  listenPort: number | null;
  mtu: number | null;
  privateKeyFile: string | null;
  fwMark: string | null;
  table: string;
  peers: Peer[];
}
interface Service {
  description: string;
  wantedBy: string[];
  after: string[];
  before: string[];
  partOf: string[];
  path: string[];
  script: string;
  reload: string;
  reloadIfChanged: boolean;
  preStop: string;
  unitConfig: UnitSection;
}
type UnitSection = Record<string, unknown>;
interface Netdev {
  netdevConfig: UnitSection;
  wireguardConfig: UnitSection;
  wireguardPeers: UnitSection[];
}
interface Secret {
  name: string;
  file: string;
  fileExists: boolean;
  path: string;
  owner: string;
  group: string;
  mode: string;
}
interface Evaluated {
  failedAssertions: string[];
  warnings: string[];
  networking: {
    wireguard: {
      enable: boolean;
      useNetworkd: boolean;
      interfaces: Record<string, WireguardInterface>;
    };
    wgqt: {
      interfaces: Record<string, { address: string; address6: string | null; port: number }>;
      bridges: Record<
        string,
        {
          device: string;
          address: string;
          prefixLength: number;
          address6: string | null;
          prefixLength6: number;
          dns: string[];
        }
      >;
    };
    nat: {
      enable: boolean;
      internalInterfaces: string[];
      externalInterface: string | null;
      enableIPv6: boolean;
      internalIPv6s: string[];
    };
    firewall: {
      enable: boolean;
      backend: string;
      allowedUDPPorts: number[];
      checkReversePath: boolean | string;
    };
    bridges: Record<string, { interfaces: string[] }>;
    interfaces: Record<
      string,
      {
        ipv4: { addresses: { address: string; prefixLength: number }[] };
        ipv6: { addresses: { address: string; prefixLength: number }[] };
      }
    >;
    nameservers: string[];
    /** networking.hosts: absent (null) where the host is in no proxy or mesh. */
    hosts: Record<string, string[]> | null;
  };
  sysctl: Record<string, unknown>;
  secrets: Record<string, Secret>;
  agenixInstall: string | null;
  wgqtOptions: Record<string, { type: string; default: unknown; fields: Record<string, string> }>;
  systemd: {
    services: Record<string, Service>;
    timers: Record<string, unknown>;
    network: {
      enable: boolean;
      config: { networkConfig: UnitSection };
      netdevs: Record<string, Netdev>;
      networks: Record<string, { matchConfig: UnitSection; address: string[] }>;
    };
  };
}
interface Evaluation {
  backends: Record<Backend, Record<string, Evaluated>>;
  alone: Record<string, Evaluated>;
}

/**
 * nix-instantiate's error (--show-trace) as far as it helps: what the checks
 * traced (systemd-lib's reasons), the message, and the options being
 * evaluated, innermost first.
 */
function nixError(error: unknown): Error {
  const stderr = String((error as { stderr?: unknown }).stderr ?? error);
  const lines = stderr.split("\n");
  const start = lines.findIndex((line) => line.startsWith("error:"));
  const traced = lines.slice(0, Math.max(start, 0)).filter((line) => line.startsWith("trace: "));
  const message = lines.slice(start).filter((line, index, all) => {
    const beforeTrace = all.slice(0, index + 1).every((previous) => !previous.includes("…"));
    return (beforeTrace && line.trim() !== "") || /^\s*… while evaluating the option/.test(line);
  });
  return new Error(`NixOS evaluation failed:\n${[...traced, ...message].join("\n")}`);
}

interface Fleet {
  name: string;
  config: Config;
  publicKeys: Record<string, string>;
  secrets: Record<string, string>;
}

/** The fleet's store (stand-in .age files) and its rendered output, then one evaluation of all of it. */
function evaluateFleet(fleet: Fleet): {
  root: string;
  planned: Plan;
  files: RenderedFile[];
  result: Evaluation | Error;
  seconds: number;
} {
  const planned = plan(fleet.config, fleet.publicKeys);
  // <root>/wireguard_keys/… is the store, <root>/nixos/ the output directory.
  const root = mkdtempSync(join(tmpdir(), `wgqt-nixos-${fleet.name}-`));
  for (const storeFile of Object.keys(fleet.secrets)) {
    mkdirSync(dirname(join(root, "wireguard_keys", storeFile)), { recursive: true });
    writeFileSync(join(root, "wireguard_keys", storeFile), "age-encryption.org/v1 (a stand-in)\n");
  }
  const files = render(planned, fleet.config, { format: "nixos", keysDir: "../wireguard_keys" });
  for (const file of files) {
    mkdirSync(dirname(join(root, "nixos", file.path)), { recursive: true });
    writeFileSync(join(root, "nixos", file.path), file.content);
  }
  const hosts = [...plannedHosts(planned), STRANGER];
  const list = (items: string[]) => `[ ${items.map(nixString).join(" ")} ]`;
  const expression = `import ${nixString(HARNESS)} { ref = ${nixString(NIXOS_REF)}; out = ${nixString(join(root, "nixos"))}; hosts = ${list(hosts)}; alone = ${list(plannedHosts(planned))}; }`;
  const started = performance.now();
  let result: Evaluation | Error;
  try {
    // --readonly-mode: interpolating a path (agenix's script names each .age file) only computes its store path.
    const output = execFileSync(
      "nix-instantiate",
      ["--readonly-mode", "--show-trace", "--eval", "--strict", "--json", "--expr", expression],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 256 * 1024 * 1024 },
    );
    result = JSON.parse(output) as Evaluation;
  } catch (error) {
    result = nixError(error);
  }
  return { root, planned, files, result, seconds: (performance.now() - started) / 1000 };
}

const backendNames = Object.keys(BACKENDS) as Backend[];
/** networking.hosts as the host's view has it: each name under its addresses, once. */
const expectedHosts = (view: HostView): Record<string, string[]> =>
  Object.fromEntries(
    (view.names ?? [])
      .flatMap((network) => network.names)
      .flatMap((name) => [
        [name.address, [name.name]],
        ...(name.address6 === undefined ? [] : [[name.address6, [name.name]]]),
      ]),
  );
const scriptsCreating = (evaluated: Evaluated, name: string) =>
  Object.entries(evaluated.systemd.services)
    .filter(([, service]) => service.script.includes(`link add dev "${name}" type wireguard`))
    .map(([unit]) => `${unit}.service`);
const netdevOf = (evaluated: Evaluated, name: string) =>
  Object.values(evaluated.systemd.network.netdevs).find(
    (netdev) => netdev.netdevConfig.Name === name,
  );

/** The tests every golden fleet gets; `extra` adds the fleet's own (given the plan and files too). */
function describeFleet(
  fleet: Fleet,
  extra: (
    evaluated: () => Evaluation,
    rendered: () => { planned: Plan; files: RenderedFile[] },
  ) => void,
): void {
  describe.skipIf(refMissing !== undefined)(
    `${fleet.name}: NixOS output under lib.evalModules with the real declarations${refMissing ? ` (skipped: ${refMissing})` : ""}`,
    () => {
      let state: ReturnType<typeof evaluateFleet>;
      beforeAll(() => {
        state = evaluateFleet(fleet);
      });
      afterAll(() => {
        if (state) rmSync(state.root, { recursive: true, force: true });
      });
      const evaluated = (): Evaluation => {
        if (state.result instanceof Error) throw state.result;
        return state.result;
      };
      const views = (): HostView[] =>
        plannedHosts(state.planned).map((host) => hostView(state.planned, fleet.config, host));
      /** Each host's view with what each backend made of it. */
      const each = (check: (view: HostView, result: Evaluated, backend: Backend) => void) => {
        for (const backend of backendNames) {
          for (const view of views())
            check(view, evaluated().backends[backend][view.machine]!, backend);
        }
      };

      it("evaluates every host on both WireGuard and both firewall backends; no assertion fails", () => {
        const { backends } = evaluated();
        expect(Object.keys(backends).sort()).toEqual([...backendNames].sort());
        for (const backend of backendNames) {
          expect(Object.keys(backends[backend]).sort()).toEqual(
            [...plannedHosts(state.planned), STRANGER].sort(),
          );
          for (const [host, result] of Object.entries(backends[backend])) {
            expect({ backend, host, failed: result.failedAssertions }).toEqual({
              backend,
              host,
              failed: [],
            });
            expect({ backend, host, warnings: result.warnings }).toEqual({
              backend,
              host,
              warnings: [],
            });
            // The backend the machine asked for is the one the modules used.
            const { useNetworkd, nftables } = BACKENDS[backend];
            expect(result.networking.wireguard.useNetworkd).toBe(useNetworkd);
            expect(result.networking.firewall.backend).toBe(nftables ? "nftables" : "iptables");
          }
        }
        // The fleet's one evaluation, every host on four backends: about half a second here.
        expect(state.seconds).toBeLessThan(20);
      });

      it("sets each host's interfaces, peers and keys as the plan says", () => {
        each((view, result, backend) => {
          const { interfaces } = result.networking.wireguard;
          expect(Object.keys(interfaces).sort()).toEqual(view.interfaces.map((e) => e.name).sort());
          for (const entry of view.interfaces) {
            const keyFile = entry.privateKeyFile ?? view.privateKeyFile!;
            expect(
              interfaces[entry.name],
              `${backend} ${view.machine} ${entry.name}`,
            ).toMatchObject({
              ips: [
                entry.addressWithPrefix,
                ...(entry.address6WithPrefix === undefined ? [] : [entry.address6WithPrefix]),
              ],
              listenPort: entry.listenPort ?? null,
              mtu: entry.mtu ?? null,
              privateKeyFile: `/run/agenix/${secretName(keyFile)}`,
              table: entry.routing?.table === undefined ? "main" : String(entry.routing.table),
              peers: entry.peers.map((peer) => ({
                publicKey: peer.publicKey,
                presharedKeyFile:
                  peer.presharedKeyFile === undefined
                    ? null
                    : `/run/agenix/${secretName(peer.presharedKeyFile)}`,
                allowedIPs: peer.allowedIPs,
                endpoint: peer.endpoint ?? null,
                persistentKeepalive: peer.persistentKeepalive ?? null,
              })),
            });
          }
          // The seed's networking.wgqt.interfaces.<net>.{address,address6,port}.
          expect(result.networking.wgqt.interfaces).toEqual(
            Object.fromEntries(
              view.interfaces
                .filter((entry) => entry.listenPort !== undefined)
                .map((entry) => [
                  entry.name,
                  {
                    address: entry.address,
                    address6: entry.address6 ?? null,
                    port: entry.listenPort,
                  },
                ]),
            ),
          );
          // <machine>.<network> of every member of the host's networks, by address: from
          // its networks' modules, and no other network's, though default.nix imports all.
          expect(result.networking.hosts ?? {}).toEqual(expectedHosts(view));
          // Every bridge as routing.ts made it, IPv6 included; forwarding IPv6 only for NAT66.
          const bridged = view.interfaces.filter((entry) => entry.routing?.bridge !== undefined);
          for (const entry of bridged) {
            const bridge = entry.routing!.bridge!;
            expect(result.networking.wgqt.bridges[entry.name]).toEqual({
              device: bridge.name,
              address: bridge.address,
              prefixLength: bridge.prefixLength,
              address6: bridge.address6 ?? null,
              prefixLength6: 64,
              dns: entry.dns ?? [],
            });
            expect(result.networking.interfaces[bridge.name]!.ipv6.addresses).toEqual(
              bridge.address6 === undefined
                ? []
                : [{ address: bridge.address6, prefixLength: bridge.prefixLength6 }],
            );
          }
          // 1 from wgqt, or true where nixos/nat.nix (mkOverride 99) sets it for a gateway too.
          if (bridged.some((entry) => entry.routing!.bridge!.snatTo6 !== undefined))
            expect([1, true]).toContain(result.sysctl["net.ipv6.conf.all.forwarding"]);
          // agenix secrets: the private keys and PSKs, files in the store, decrypted to /run/agenix.
          const storeFiles = hostSecretFiles(view);
          expect(Object.keys(result.secrets).sort()).toEqual(storeFiles.map(secretName).sort());
          for (const storeFile of storeFiles) {
            expect(result.secrets[secretName(storeFile)]).toMatchObject({
              file: join(state.root, "wireguard_keys", storeFile),
              fileExists: true,
              owner: "root",
              path: `/run/agenix/${secretName(storeFile)}`,
            });
            expect(result.agenixInstall).toContain(`/run/agenix/${secretName(storeFile)}`);
          }
          const gateways = view.interfaces.filter((entry) => entry.role === "gateway");
          // A gateway's NAT, or a mesh member's masquerade_routes.
          expect(result.networking.nat.enable).toBe(
            gateways.length > 0 || view.interfaces.some((entry) => entry.masqueradeRoutes),
          );
          expect(result.networking.nat.internalInterfaces).toEqual(
            gateways.map((g) => g.name).sort(),
          );
          // NAT66: nixos/nat.nix masquerades the gateways' ULA blocks and forwards IPv6.
          const blocks6 = gateways.flatMap((g) => (g.cidr6 === undefined ? [] : [g.cidr6]));
          expect(result.networking.nat.enableIPv6).toBe(blocks6.length > 0);
          expect(result.networking.nat.internalIPv6s).toEqual(blocks6.sort());
          for (const gateway of gateways) {
            expect(result.networking.firewall.allowedUDPPorts).toContain(gateway.listenPort);
            expect(result.sysctl["net.ipv4.ip_forward"]).toBe(1);
            if (gateway.cidr6 !== undefined)
              expect(result.sysctl["net.ipv6.conf.all.forwarding"]).toBe(true);
          }
        });
      });

      it("starts the routing unit before whatever brings a routed tunnel up, on both backends", () => {
        each((view, result, backend) => {
          const routed = view.interfaces.filter((entry) => entry.routing !== undefined);
          if (routed.length === 0) {
            expect(result.systemd.services["wgqt-routing"]).toBeUndefined();
            expect(result.systemd.services["wgqt-connmark"]).toBeUndefined();
            return;
          }
          for (const entry of view.interfaces) {
            const scripts = scriptsCreating(result, entry.name);
            const netdev = netdevOf(result, entry.name);
            // Exactly one backend brings each interface up.
            if (BACKENDS[backend].useNetworkd) {
              expect(scripts).toEqual([]);
              expect(netdev?.netdevConfig.Kind).toBe("wireguard");
            } else {
              expect(scripts).toEqual([`wireguard-${entry.name}.service`]);
              expect(netdev).toBeUndefined();
            }
            if (entry.routing === undefined) continue;
            const startedBy = BACKENDS[backend].useNetworkd
              ? ["systemd-networkd.service"]
              : scripts;
            if (entry.routing.table === undefined) continue;
            // The kill switch's rules hold in wgqt-routing, the others in a unit of the tunnel's own.
            const routing =
              result.systemd.services[
                entry.routing.killswitch ? "wgqt-routing" : `wgqt-routing-${entry.name}`
              ]!;
            expect(routing.wantedBy).toContain("multi-user.target");
            for (const unit of startedBy)
              expect(routing.before, `${backend} ${entry.name}`).toContain(unit);
          }
        });
      });

      it("marks each tunnel's packets and routes into its table alike on both backends", () => {
        each((view, result, backend) => {
          for (const entry of view.interfaces) {
            const mark = entry.routing?.fwmark;
            const table = entry.routing?.table === undefined ? "main" : String(entry.routing.table);
            if (BACKENDS[backend].useNetworkd) {
              const wireguard = netdevOf(result, entry.name)!.wireguardConfig;
              expect(wireguard.FirewallMark).toBe(mark);
              expect(wireguard.RouteTable).toBe(table);
            } else {
              const [unit] = scriptsCreating(result, entry.name);
              const script = result.systemd.services[unit!.replace(/\.service$/, "")]!.script;
              const marked = /fwmark "([^"]+)"/.exec(script)?.[1];
              // wg(8): fwmark is hex with 0x, or decimal.
              expect(marked === undefined ? undefined : Number(marked)).toBe(mark);
              if (mark !== undefined) expect(marked).toBe(hexMark(mark));
              // Each peer's unit routes its AllowedIPs into the table.
              const peerScripts = Object.entries(result.systemd.services)
                .filter(([name]) => name.startsWith(`wireguard-${entry.name}-peer-`))
                .map(([, service]) => service.script);
              expect(peerScripts).toHaveLength(entry.peers.length);
              for (const allowedIP of entry.peers.flatMap((peer) => peer.allowedIPs)) {
                expect(peerScripts.join("\n")).toContain(
                  `route replace "${allowedIP}" dev "${entry.name}" table "${table}"`,
                );
              }
            }
          }
        });
      });

      it("lets whichever backend reads the keys read them, and no one else", () => {
        each((view, result, backend) => {
          const secretsByPath = new Map(Object.values(result.secrets).map((s) => [s.path, s]));
          if (BACKENDS[backend].useNetworkd) {
            // systemd.netdev(5): networkd reads PrivateKeyFile= and PresharedKeyFile= as systemd-network.
            const read = Object.values(result.systemd.network.netdevs).flatMap((netdev) => [
              netdev.wireguardConfig.PrivateKeyFile,
              ...netdev.wireguardPeers.map((peer) => peer.PresharedKeyFile),
            ]);
            for (const path of read.filter((p) => p !== undefined)) {
              expect(secretsByPath.get(String(path)), String(path)).toMatchObject({
                owner: "root",
                group: "systemd-network",
                mode: "0440",
              });
            }
          } else {
            for (const secret of Object.values(result.secrets)) {
              expect(secret).toMatchObject({ owner: "root", group: "root", mode: "0400" });
            }
            for (const entry of view.interfaces) {
              const [unit] = scriptsCreating(result, entry.name);
              const script = result.systemd.services[unit!.replace(/\.service$/, "")]!.script;
              const key = /private-key "([^"]+)"/.exec(script)?.[1];
              expect(secretsByPath.has(key!)).toBe(true);
            }
          }
        });
      });

      it("applies a host's module only where networking.hostName names it, imported alone or by default.nix", () => {
        for (const backend of backendNames) {
          const stranger = evaluated().backends[backend][STRANGER]!;
          expect(stranger.networking.wireguard).toEqual({
            enable: false,
            interfaces: {},
            useNetworkd: BACKENDS[backend].useNetworkd,
          });
          expect(stranger.secrets).toEqual({});
          expect(stranger.systemd.services).toEqual({});
          expect(stranger.systemd.network.netdevs).toEqual({});
          expect(stranger.networking.wgqt).toEqual({ interfaces: {}, bridges: {} });
          expect(stranger.networking.bridges).toEqual({});
          expect(stranger.networking.hosts).toBeNull();
        }
        // What `wgqt render --machine <host>` writes, imported on its own.
        for (const host of plannedHosts(state.planned)) {
          expect(evaluated().alone[host]).toEqual(evaluated().backends["scripts-iptables"][host]);
        }
        const entry = state.files.find((file) => file.path === "default.nix")!.content;
        for (const host of plannedHosts(state.planned))
          expect(entry).toContain(`./hosts/${host}.nix`);
      });

      it("declares networking.wgqt.interfaces.<net>.{address,address6,port} and networking.wgqt.bridges.<tunnel>.*", () => {
        expect(evaluated().backends["scripts-iptables"][STRANGER]!.wgqtOptions).toEqual({
          interfaces: {
            type: "attrsOf",
            default: {},
            fields: { address: "str", address6: "nullOr", port: "unsignedInt16" },
          },
          bridges: {
            type: "attrsOf",
            default: {},
            fields: {
              device: "str",
              address: "str",
              prefixLength: "int",
              address6: "nullOr",
              prefixLength6: "int",
              dns: "listOf",
            },
          },
        });
      });

      it("puts no secret in the output nor in what NixOS makes of it", () => {
        const text = JSON.stringify(evaluated());
        for (const secret of Object.values(fleet.secrets)) {
          expect(text).not.toContain(secret);
          for (const file of state.files) expect(file.content).not.toContain(secret);
        }
        for (const file of state.files) {
          expect(readFileSync(join(state.root, "nixos", file.path), "utf8")).toBe(file.content);
        }
      });

      extra(evaluated, () => state);
    },
  );
}

const seed = seedConfig();
describeFleet(
  { name: "proxies", config: seed, publicKeys: seedPublicKeys(), secrets: seedSecrets(seed) },
  (evaluated, rendered) => {
    it("nyaa, a client of two proxies: finland the default, germany by policy and through br-germany", () => {
      for (const backend of backendNames) {
        const { networking, systemd } = evaluated().backends[backend].nyaa!;
        expect(networking.firewall.checkReversePath).toBe("loose");
        expect(Object.keys(networking.bridges)).toEqual(["br-germany"]);
        expect(networking.bridges["br-germany"]!.interfaces).toEqual([]);
        expect(networking.interfaces["br-germany"]!.ipv4.addresses).toEqual([
          { address: "10.20.101.1", prefixLength: 24 },
        ]);
        // Its IPv6 /64: subnet id b101 (routing key 101) of the fleet prefix.
        expect(networking.interfaces["br-germany"]!.ipv6.addresses).toEqual([
          { address: "fd56:4416:32d2:b101::1", prefixLength: 64 },
        ]);
        expect(networking.wgqt.bridges).toEqual({
          germany: {
            device: "br-germany",
            address: "10.20.101.1",
            prefixLength: 24,
            address6: "fd56:4416:32d2:b101::1",
            prefixLength6: 64,
            dns: [],
          },
        });
        // Proxies have no kill switch by default: finland's rules come and go with its
        // unit on the script backend, and are up before it is.
        const finland = systemd.services["wgqt-routing-finland"]!;
        expect(finland.script).toContain(
          "ip -4 rule add priority 12100 not from all fwmark 0x520000/0xfffc00 lookup 52100\n",
        );
        expect(finland.script).toContain(
          "ip -4 route replace unreachable default metric 4294967295 table 52100\n",
        );
        const scripts = backend.startsWith("scripts");
        expect(finland.partOf).toEqual(scripts ? ["wireguard-finland.service"] : []);
        expect(finland.wantedBy).toEqual(
          scripts ? ["multi-user.target", "wireguard-finland.service"] : ["multi-user.target"],
        );
        expect(finland.before).toEqual(
          scripts ? ["wireguard-finland.service"] : ["systemd-networkd.service"],
        );
        // What must hold whatever the tunnels do: the bridge's SNAT and forwarding.
        const routing = systemd.services["wgqt-routing"]!;
        expect(routing.script).toContain("-s 10.20.101.0/24 -o germany -j SNAT");
        // NAT66 to germany's own IPv6 address, and its policy rule beside the IPv4 one.
        expect(routing.script).toContain(
          "ip6tables -t nat -A POSTROUTING -s fd56:4416:32d2:b101::/64 -o germany -j SNAT --to-source fd56:4416:32d2:12a9:",
        );
        expect(systemd.services["wgqt-routing-germany"]!.script).toContain(
          "ip -6 rule add priority 11101 from fd56:4416:32d2:b101::/64 lookup 52101\n",
        );
        expect(routing.script).not.toContain("ip -4 rule");
        // The rules live outside networkd: it must not remove them as foreign.
        expect(systemd.network.config.networkConfig).toMatchObject({
          ManageForeignRoutingPolicyRules: false,
          ManageForeignRoutes: false,
        });
      }
    });

    it("nyaa, in finland and germany, knows both networks' names from their modules; a stranger none", () => {
      const nyaa = hostView(rendered().planned, seed, "nyaa");
      const expected = expectedHosts(nyaa);
      // Both networks: four members each, IPv4 and IPv6.
      expect(Object.keys(expected)).toHaveLength(16);
      expect(Object.values(expected).flat()).toContain("lighthouse.finland");
      expect(Object.values(expected).flat()).toContain("tavern.germany");
      for (const backend of backendNames) {
        const { backends } = evaluated();
        // default.nix imports every host's module, and each of them the names modules:
        // each module counts once, or every list would hold its name several times.
        expect(backends[backend].nyaa!.networking.hosts).toEqual(expected);
        expect(Object.values(backends[backend].tavern!.networking.hosts!).flat()).not.toContain(
          "lighthouse.finland",
        );
        expect(backends[backend][STRANGER]!.networking.hosts).toBeNull();
      }
      // hosts/nyaa.nix imported on its own brings both networks' modules with it.
      expect(evaluated().alone.nyaa!.networking.hosts).toEqual(expected);
      const module = rendered().files.find((file) => file.path === "hosts/nyaa.nix")!.content;
      expect(module).toContain("../names/finland.nix");
      expect(module).toContain("../names/germany.nix");
      expect(module).not.toContain("networking.hosts");
      expect(module).not.toContain("tavern.germany");
    });

    it("every routed host keeps its replies' marks, also when nftables flushes the ruleset", () => {
      for (const backend of backendNames) {
        const nftables = BACKENDS[backend].nftables;
        for (const host of ["archive", "nyaa", "spark"]) {
          const { systemd, sysctl } = evaluated().backends[backend][host]!;
          const connmark = systemd.services["wgqt-connmark"]!;
          expect(connmark.script).toContain("table inet wgqt {");
          expect(connmark.script).toContain("ct mark set ct mark & 0xff0003ff | 0x520000");
          expect(connmark.script).toContain("meta mark set meta mark & 0xff0003ff | 0x520000");
          expect(connmark.reload).toBe(connmark.script);
          expect(connmark.reloadIfChanged).toBe(true);
          expect(connmark.after).toEqual(nftables ? ["nftables.service"] : []);
          expect(connmark.partOf).toEqual(nftables ? ["nftables.service"] : []);
          expect(connmark.unitConfig.ReloadPropagatedFrom).toBe(
            nftables ? "nftables.service" : undefined,
          );
          expect(sysctl["net.ipv4.conf.all.src_valid_mark"]).toBe(1);
        }
        // A gateway routes in the main table: nothing to keep.
        expect(evaluated().backends[backend].tavern!.systemd.services["wgqt-connmark"]).toBe(
          undefined,
        );
      }
    });

    it("tavern, a gateway: NAT out of the default route's interface, its port open", () => {
      for (const backend of backendNames) {
        const { networking, sysctl } = evaluated().backends[backend].tavern!;
        expect(networking.nat).toMatchObject({
          enable: true,
          internalInterfaces: ["germany"],
          externalInterface: null,
        });
        expect(networking.firewall.allowedUDPPorts).toEqual([16843]);
        expect(sysctl["net.ipv4.ip_forward"]).toBe(1);
      }
    });
  },
);

const vpn = vpnConfig();
describeFleet(
  { name: "vpns", config: vpn, publicKeys: vpnPublicKeys(), secrets: vpnSecrets(vpn) },
  (evaluated) => {
    it("nyaa: us-west carries the default route with the provider's keys and DNS", () => {
      for (const backend of backendNames) {
        const { networking, secrets } = evaluated().backends[backend].nyaa!;
        expect(networking.nameservers).toEqual(["10.64.0.1"]);
        expect(networking.wireguard.interfaces["us-west"]).toMatchObject({
          privateKeyFile: "/run/agenix/wgqt-vpn+us-west",
          listenPort: null,
          table: "52001",
        });
        expect(
          secrets["wgqt-vpn-psk+us-west"]!.file.endsWith("/wireguard_keys/vpns/us-west.psk.age"),
        ).toBe(true);
        expect(Object.keys(networking.wgqt.interfaces)).toEqual(["germany"]);
      }
    });

    it("nyaa: the VPN's kill switch holds in wgqt-routing; the proxy's rules follow its unit", () => {
      for (const backend of backendNames) {
        const { systemd } = evaluated().backends[backend].nyaa!;
        const routing = systemd.services["wgqt-routing"]!;
        expect(routing.script).toContain(
          "ip -4 rule add priority 12001 not from all fwmark 0x520000/0xfffc00 lookup 52001\n",
        );
        expect(routing.preStop).toContain(
          "ip -4 route del unreachable default metric 4294967295 table 52001 || true\n",
        );
        expect(systemd.services["wgqt-routing-us-west"]).toBe(undefined);
        expect(systemd.services["wgqt-routing-germany"]!.script).toContain(
          "ip -4 rule add priority 11100 from 10.128.0.2 lookup 52100\n",
        );
      }
    });

    it("spark: two VPNs, the other one bridged under a shortened name", () => {
      for (const backend of backendNames) {
        const { networking } = evaluated().backends[backend].spark!;
        expect(networking.nameservers).toEqual(["10.2.0.1", "2a07:b944::2:1"]);
        expect(networking.wgqt.bridges["mullvad-se-got1"]).toEqual({
          device: "br-mullvad-9a14",
          address: "10.20.3.1",
          prefixLength: 24,
          address6: "fd56:4416:32d2:b003::1",
          prefixLength6: 64,
          dns: ["10.64.0.1", "10.64.0.2"],
        });
        // mullvad-se-got1 has no IPv6: its bridge's IPv6 meets the unreachable default, no NAT66.
        const routing = evaluated().backends[backend].spark!.systemd.services["wgqt-routing"]!;
        expect(routing.script).toContain(
          "ip -6 rule add priority 11003 from fd56:4416:32d2:b003::/64 lookup 52003\n",
        );
        expect(routing.script).not.toContain("-s fd56:4416:32d2:b003::/64 -o mullvad-se-got1");
        expect(routing.script).toContain(
          "ip6tables -t nat -C POSTROUTING -s fd56:4416:32d2:b100::/64",
        );
        expect(Object.keys(networking.bridges).sort()).toEqual(["br-germany", "br-mullvad-9a14"]);
      }
    });

    it("tavern: a split-tunnel VPN routes in the main table, with no policy routing", () => {
      for (const backend of backendNames) {
        const { networking, systemd } = evaluated().backends[backend].tavern!;
        expect(networking.wireguard.interfaces.office).toMatchObject({
          ips: ["10.99.0.5/16"],
          table: "main",
          fwMark: null,
        });
        expect(networking.nameservers).toEqual([]);
        expect(systemd.services["wgqt-routing"]).toBeUndefined();
      }
    });
  },
);

// Every name a Nix keyword: the modules must quote them to be Nix at all.
for (const swap of [false, true]) {
  const keywords = keywordConfig(swap);
  describeFleet(
    {
      name: swap ? "keywords-swapped" : "keywords",
      config: keywords,
      publicKeys: keywordPublicKeys(),
      secrets: vpnSecrets(keywords),
    },
    () => {},
  );
}

const meshFleet = meshConfig();
describeFleet(
  {
    name: "meshes",
    config: meshFleet,
    publicKeys: meshPublicKeys(),
    secrets: meshSecrets(meshFleet),
  },
  (evaluated) => {
    it("hub relays home: forwarding on, its port open, no NAT; laptop's mesh is only marked", () => {
      for (const backend of backendNames) {
        const { hub, laptop, desk } = evaluated().backends[backend];
        expect(hub!.sysctl["net.ipv4.ip_forward"]).toBe(1);
        expect(hub!.sysctl["net.ipv6.conf.all.forwarding"]).toBe(1);
        expect(hub!.networking.firewall.allowedUDPPorts).toEqual([16842]);
        expect(hub!.networking.nat.enable).toBe(false);
        // laptop masquerades what home sends into its routed subnet.
        expect(laptop!.networking.nat.enable).toBe(true);
        expect(laptop!.networking.nat.internalInterfaces).toEqual([]);
        expect(desk!.networking.firewall.allowedUDPPorts).toEqual([]);
        expect(desk!.sysctl["net.ipv4.ip_forward"]).toBeUndefined();
        // hub's routed LAN is on its peer entries elsewhere, as a route into home.
        expect(
          desk!.networking.wireguard.interfaces.home!.peers.find((peer) =>
            peer.allowedIPs.includes("192.168.50.0/24"),
          )?.endpoint,
        ).toBe("hub.example.org:16842");
        // laptop's default route is exit's; home carries only its members' addresses.
        expect(laptop!.networking.wireguard.interfaces.home!.table).toBe("main");
        expect(laptop!.systemd.services["wgqt-routing-home"]).toBeUndefined();
      }
    });
  },
);
