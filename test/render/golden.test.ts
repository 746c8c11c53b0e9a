/**
 * Every renderer on the seed fleet against golden files in test/golden/<format>/,
 * and on a fleet with VPNs in test/golden/vpn/<format>/
 * (`UPDATE_GOLDEN=1 npx vitest run test/render` rewrites them), byte-identical
 * across runs and config orderings, with no secret in any output.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { plan } from "../../src/net/plan.js";
import { FORMATS, render } from "../../src/render/index.js";
import {
  makeConfig,
  seedConfig,
  seedPublicKeys,
  seedSecrets,
  vpnConfig,
  vpnPublicKeys,
  vpnSecrets,
} from "../net/fleet.js";

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), "..", "golden");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

function listFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

const config = seedConfig();
const planned = plan(config, seedPublicKeys());

function matchesGolden(dir: string, files: { path: string; content: string }[]): void {
  if (UPDATE) {
    rmSync(dir, { recursive: true, force: true });
    for (const file of files) {
      mkdirSync(dirname(join(dir, file.path)), { recursive: true });
      writeFileSync(join(dir, file.path), file.content);
    }
  }
  const golden = listFiles(dir)
    .map((path) => relative(dir, path).split("\\").join("/"))
    .sort();
  expect(files.map((file) => file.path)).toEqual(golden);
  for (const file of files) expect(file.content).toBe(readFileSync(join(dir, file.path), "utf8"));
}

describe.each(FORMATS)("%s", (format) => {
  const files = render(planned, config, { format });
  const dir = join(GOLDEN, format);

  it("matches the golden files, and no golden file is stale", () => {
    matchesGolden(dir, files);
  });

  it("is byte-identical across runs and whatever order wgqt.toml lists things in", () => {
    const reordered = makeConfig({
      machines: {
        spark: {},
        tavern: { endpoint: "tavern.example.org" },
        archive: {},
        nyaa: {},
        lighthouse: { endpoint: "lighthouse.example.org" },
      },
      proxies: {
        germany: { gateway: "tavern", clients: ["spark", "archive", "nyaa"] },
        finland: { gateway: "lighthouse", clients: ["archive", "spark", "nyaa"] },
      },
    });
    expect(render(plan(reordered, seedPublicKeys()), reordered, { format })).toEqual(files);
    expect(render(planned, config, { format })).toEqual(files);
  });

  it("contains no secret: no private key, no preshared key", () => {
    const secrets = Object.values(seedSecrets(config));
    for (const file of files) {
      for (const secret of secrets) expect(file.content).not.toContain(secret);
      expect(file.content).not.toMatch(/PrivateKey\s*=|PresharedKey\s*=|privateKey\s*=|SaveConfig/);
      expect(file.content.endsWith("\n")).toBe(true);
    }
  });

  it("renders one machine as the same files it renders for everyone", () => {
    const nyaa = render(planned, config, { format, machine: "nyaa" });
    expect(nyaa.length).toBeGreaterThan(0);
    for (const file of nyaa) expect(files).toContainEqual(file);
  });
});

describe.each(FORMATS)("%s with VPNs", (format) => {
  const vpnFleet = vpnConfig();
  const vpnPlanned = plan(vpnFleet, vpnPublicKeys());
  const files = render(vpnPlanned, vpnFleet, { format });

  it("matches the golden files in test/golden/vpn/, and no golden file is stale", () => {
    matchesGolden(join(GOLDEN, "vpn", format), files);
  });

  it("is byte-identical whatever order wgqt.toml lists machines, clients and VPNs in", () => {
    const reordered = vpnConfig("reordered");
    expect(render(plan(reordered, vpnPublicKeys()), reordered, { format })).toEqual(files);
  });

  it("contains no secret: no provider key, no preshared key", () => {
    for (const file of files) {
      for (const secret of Object.values(vpnSecrets(vpnFleet)))
        expect(file.content).not.toContain(secret);
      expect(file.content).not.toMatch(/PrivateKey\s*=|PresharedKey\s*=|privateKey\s*=/);
    }
  });
});

describe("MTU and keepalive (test/net/fleet.ts's VPN fleet sets them)", () => {
  const fleet = vpnConfig();
  const tuned = plan(fleet, vpnPublicKeys());
  const content = (format: (typeof FORMATS)[number], path: string) =>
    render(tuned, fleet, { format }).find((file) => file.path === path)!.content;

  it("wg-quick: MTU = in [Interface], PersistentKeepalive = in the [Peer]", () => {
    const usWest = content("wg-quick", "nyaa/us-west.conf");
    expect(usWest).toMatch(/\[Interface\]\n(?:[^[\n]*\n)*MTU = 1320\n(?:[^[\n]*\n)*\n\[Peer\]/);
    expect(usWest).toMatch(/\[Peer\]\n(?:.*\n)*PersistentKeepalive = 15\n$/);
    expect(content("wg-quick", "nyaa/germany.conf")).toMatch(
      /MTU = 1400\n[\s\S]*PersistentKeepalive = 21\n$/,
    );
    // The gateway gets the proxy's MTU; it never keeps its clients alive.
    const gateway = content("wg-quick", "tavern/germany.conf");
    expect(gateway).toContain("MTU = 1400\n");
    expect(gateway).not.toContain("PersistentKeepalive");
    // A VPN whose file set neither: no MTU (wg-quick picks one), no keepalive (wg(8): off).
    expect(content("wg-quick", "spark/proton-nl.conf")).not.toMatch(/MTU|PersistentKeepalive/);
  });

  it("networkd: MTUBytes= in [NetDev], PersistentKeepalive= in [WireGuardPeer]", () => {
    const netdev = content("networkd", "nyaa/50-wgqt-us-west.netdev");
    expect(netdev).toMatch(/\[NetDev\]\n(?:[^[\n]*\n)*MTUBytes=1320\n\n/);
    expect(netdev).toMatch(/\[WireGuardPeer\]\n(?:[^[\n]*\n)*PersistentKeepalive=15\n$/);
    expect(content("networkd", "nyaa/50-wgqt-us-west.network")).not.toContain("MTU");
    expect(content("networkd", "tavern/50-wgqt-germany.netdev")).toContain("MTUBytes=1400\n");
  });

  it("nixos: mtu on networking.wireguard.interfaces.<if>, persistentKeepalive on its peer", () => {
    const nyaa = content("nixos", "hosts/nyaa.nix");
    expect(nyaa).toMatch(/\bus-west"? = \{\n(?:.*\n)*? +mtu = 1320;\n/);
    expect(nyaa).toMatch(/persistentKeepalive = 15;/);
    expect(nyaa).toMatch(/\bgermany = \{\n(?:.*\n)*? +mtu = 1400;\n/);
    expect(nyaa).toMatch(/persistentKeepalive = 21;/);
  });

  it("json: the interface's mtu and the peer's persistentKeepalive", () => {
    const view = JSON.parse(content("json", "nyaa.json"));
    const byName = Object.fromEntries(
      view.interfaces.map((entry: { name: string }) => [entry.name, entry]),
    );
    expect(byName["us-west"]).toMatchObject({ mtu: 1320, peers: [{ persistentKeepalive: 15 }] });
    expect(byName.germany).toMatchObject({ mtu: 1400, peers: [{ persistentKeepalive: 21 }] });
  });

  it("a proxy's keepalive = 0 turns its clients' keepalive off; without one they keep 25", () => {
    const off = seedConfig();
    off.proxies.finland!.keepalive = 0;
    const files = render(plan(off, seedPublicKeys()), off, { format: "wg-quick", machine: "nyaa" });
    const file = (name: string) => files.find((f) => f.path === `nyaa/${name}.conf`)!.content;
    expect(file("finland")).not.toContain("PersistentKeepalive");
    expect(file("germany")).toContain("PersistentKeepalive = 25\n");
    expect(file("germany")).not.toContain("MTU");
  });
});

describe("wg-quick", () => {
  it("is root-only (0600): wg-quick(8) warns about world-accessible files", () => {
    for (const file of render(planned, config, { format: "wg-quick" }))
      expect(file.mode).toBe(0o600);
  });

  it("inlines keys only when the caller exports them", () => {
    const secrets = seedSecrets(config);
    const [finland] = render(planned, config, {
      format: "wg-quick",
      machine: "nyaa",
      export: secrets,
    });
    expect(finland!.path).toBe("nyaa/finland.conf");
    expect(finland!.content).toContain(`PrivateKey = ${secrets["nyaa.age"]}`);
    expect(finland!.content).toContain(
      `PresharedKey = ${secrets["preshared_keys/lighthouse+nyaa.age"]}`,
    );
    expect(finland!.content).not.toContain("private-key");
    expect(finland!.content).toContain(
      "ip -4 rule add priority 12100 not from all fwmark 0x520000/0xfffc00 lookup 52100\n",
    );
  });

  it("makes a phone's file with keys inline and no PostUp, Table or FwMark", () => {
    const [finland] = render(planned, config, {
      format: "wg-quick",
      machine: "nyaa",
      export: seedSecrets(config),
      mobile: true,
    });
    expect(finland!.content).not.toMatch(/PostUp|PostDown|Table|FwMark/);
    expect(finland!.content).toContain("PrivateKey = ");
  });

  it("exports a VPN for a phone: the provider's keys inline, its DNS, no routing hooks", () => {
    const vpnFleet = vpnConfig();
    const secrets = vpnSecrets(vpnFleet);
    const files = render(plan(vpnFleet, vpnPublicKeys()), vpnFleet, {
      format: "wg-quick",
      machine: "nyaa",
      export: secrets,
      mobile: true,
    });
    const usWest = files.find((file) => file.path === "nyaa/us-west.conf")!;
    expect(usWest.content).toContain(`PrivateKey = ${secrets["vpns/us-west.age"]}\n`);
    expect(usWest.content).toContain(`PresharedKey = ${secrets["vpns/us-west.psk.age"]}\n`);
    expect(usWest.content).toContain("DNS = 10.64.0.1\n");
    expect(usWest.content).not.toMatch(/PostUp|PostDown|Table|FwMark|ListenPort/);
  });

  it("refuses a mobile file without keys, for a gateway, or with a missing or malformed secret", () => {
    expect(() =>
      render(planned, config, { format: "wg-quick", machine: "nyaa", mobile: true }),
    ).toThrow(/mobile configurations need the keys inlined/);
    const secrets = seedSecrets(config);
    expect(() =>
      render(planned, config, {
        format: "wg-quick",
        machine: "tavern",
        export: secrets,
        mobile: true,
      }),
    ).toThrow(/"tavern" is the gateway of "germany"/);
    const { "nyaa.age": _, ...withoutNyaa } = secrets;
    expect(() =>
      render(planned, config, { format: "wg-quick", machine: "nyaa", export: withoutNyaa }),
    ).toThrow(/export: missing the decrypted "nyaa.age"/);
    const broken = { ...secrets, "nyaa.age": "hunter2" };
    expect(() =>
      render(planned, config, { format: "wg-quick", machine: "nyaa", export: broken }),
    ).toThrow(/^export: "nyaa.age" is not a WireGuard key$/);
  });

  it("uses the machine's uplink for NAT when set, the default route's interface otherwise", () => {
    const withUplink = seedConfig();
    withUplink.machines.tavern!.uplink = "enp1s0";
    const [germany] = render(plan(withUplink, seedPublicKeys()), withUplink, {
      format: "wg-quick",
      machine: "tavern",
    });
    expect(germany!.content).toContain("-s 10.128.0.8/29 -o enp1s0 -j MASQUERADE");
    const [plain] = render(planned, config, { format: "wg-quick", machine: "tavern" });
    expect(plain!.content).toContain("-o $(ip -4 route show default | awk");
  });

  it("masquerades out of a VLAN uplink (eth0.100) in wg-quick and NixOS", () => {
    const vlan = seedConfig();
    vlan.machines.tavern!.uplink = "eth0.100";
    const planned = plan(vlan, seedPublicKeys());
    const [germany] = render(planned, vlan, { format: "wg-quick", machine: "tavern" });
    expect(germany!.content).toContain("-s 10.128.0.8/29 -o eth0.100 -j MASQUERADE");
    const nixos = render(planned, vlan, { format: "nixos", machine: "tavern" });
    expect(nixos.map((file) => file.content).join("\n")).toContain(
      'externalInterface = "eth0.100"',
    );
  });

  it("puts keys under the secrets directory option", () => {
    const [finland] = render(planned, config, {
      format: "wg-quick",
      machine: "nyaa",
      secretsDir: "/run/keys/wg",
    });
    expect(finland!.content).toContain("PostUp = wg set %i private-key /run/keys/wg/nyaa.key");
    expect(() =>
      render(planned, config, { format: "wg-quick", secretsDir: "relative/dir" }),
    ).toThrow(/secrets directory: expected an absolute path/);
  });
});

describe("render", () => {
  it("rejects an unknown format and an unknown machine", () => {
    expect(() => render(planned, config, { format: "yaml" as never })).toThrow(
      expect.objectContaining({ code: "usage/bad-value", field: "format" }),
    );
    expect(() => render(planned, config, { format: "json", machine: "ghost" })).toThrow(
      expect.objectContaining({ code: "usage/unknown-name" }),
    );
  });
});
