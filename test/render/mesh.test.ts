/**
 * Meshes through every renderer: the mesh fleet (test/net/fleet.ts) against
 * golden files in test/golden/mesh/<format>/ (`UPDATE_GOLDEN=1 npx vitest run
 * test/render/mesh.test.ts` rewrites them), the same whatever order wgqt.toml
 * lists things in, and the peers each member gets.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { hostView } from "../../src/net/host.js";
import { plan } from "../../src/net/plan.js";
import { FORMATS, render } from "../../src/render/index.js";
import { fakePrivateKey, makeConfig, meshConfig, meshPublicKeys } from "../net/fleet.js";

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), "..", "golden", "mesh");
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

const config = meshConfig();
const planned = plan(config, meshPublicKeys());

describe.each(FORMATS)("%s with meshes", (format) => {
  const files = render(planned, config, { format });

  it("matches the golden files in test/golden/mesh/, and no golden file is stale", () => {
    matchesGolden(join(GOLDEN, format), files);
  });

  it("is byte-identical whatever order wgqt.toml lists machines and members in", () => {
    const reordered = meshConfig("reordered");
    expect(render(plan(reordered, meshPublicKeys()), reordered, { format })).toEqual(files);
  });

  it("contains no secret", () => {
    for (const file of files) {
      for (const machine of Object.keys(config.machines))
        expect(file.content).not.toContain(fakePrivateKey(machine));
      expect(file.content).not.toMatch(/PrivateKey\s*=|PresharedKey\s*=|privateKey\s*=/);
    }
  });
});

describe("a mesh member's view", () => {
  const peersOf = (host: string, network: string) =>
    hostView(planned, config, host).interfaces.find((entry) => entry.name === network)!.peers;
  const home = planned.networks.find((network) => network.name === "home")!;
  const addressOf = (machine: string) => home.members.find((member) => member.machine === machine)!;

  it("allocates like a proxy: sorted with proxies by size, members in byte order from start + 1", () => {
    expect(planned.networks.map((n) => [n.name, n.kind, n.id, n.port, n.cidr])).toEqual([
      ["home", "mesh", 0, 16842, "10.128.0.0/29"],
      ["exit", "proxy", 1, 16843, "10.128.0.8/30"],
      ["lab", "mesh", 2, 16844, "10.128.0.12/30"],
    ]);
    expect(home.members.map((m) => [m.machine, m.role, m.address])).toEqual([
      ["desk", "member", "10.128.0.1"],
      ["hub", "relay", "10.128.0.2"],
      ["laptop", "member", "10.128.0.3"],
      ["vps", "member", "10.128.0.4"],
    ]);
    expect(home.roaming).toEqual(["desk", "laptop"]);
    expect(planned.networks[2]!.cidr6).toBeUndefined();
    expect(JSON.parse(JSON.stringify(planned)).networks[0]).toMatchObject({
      kind: "mesh",
      relay: "hub",
    });
    expect(JSON.parse(JSON.stringify(planned)).networks[0].gateway).toBeUndefined();
  });

  it("a member with an endpoint peers with every other, each with its own /32 and /128 (and routes)", () => {
    const peers = peersOf("vps", "home");
    expect(peers.map((peer) => peer.machine)).toEqual(["desk", "hub", "laptop"]);
    for (const peer of peers) {
      const member = addressOf(peer.machine);
      expect(peer.allowedIPs).toEqual([
        `${member.address}/32`,
        `${member.address6}/128`,
        ...(peer.machine === "hub" ? ["192.168.50.0/24"] : []),
        ...(peer.machine === "laptop" ? ["192.168.60.0/24"] : []),
      ]);
      expect(peer.persistentKeepalive).toBeUndefined();
    }
    expect(peers.find((peer) => peer.machine === "hub")!.endpoint).toBe("hub.example.org:16842");
    expect(peers.find((peer) => peer.machine === "desk")!.endpoint).toBeUndefined();
  });

  it("a member without one reaches the other through the relay, and keeps the mappings open", () => {
    const peers = peersOf("laptop", "home");
    expect(peers.map((peer) => peer.machine)).toEqual(["hub", "vps"]);
    const desk = addressOf("desk");
    expect(peers[0]!.allowedIPs).toEqual([
      `${addressOf("hub").address}/32`,
      `${addressOf("hub").address6}/128`,
      "192.168.50.0/24",
      `${desk.address}/32`,
      `${desk.address6}/128`,
    ]);
    expect(peers.map((peer) => peer.persistentKeepalive)).toEqual([20, 20]);
    expect(peers[1]!.endpoint).toBe("203.0.113.9:16842");
  });

  it("only the relay forwards, only members with an endpoint are reachable; no mesh routes a default", () => {
    const entry = (host: string, network: string) =>
      hostView(planned, config, host).interfaces.find((e) => e.name === network)!;
    expect(entry("hub", "home").forwards).toBe(true);
    expect(entry("vps", "home").forwards).toBeUndefined();
    expect(entry("hub", "home").reachable).toBe(true);
    expect(entry("laptop", "home").reachable).toBeUndefined();
    expect(entry("hub", "home").routes).toEqual(["192.168.50.0/24"]);
    expect(entry("vps", "home").routes).toBeUndefined();
    for (const host of ["desk", "hub", "laptop", "vps"]) {
      for (const e of hostView(planned, config, host).interfaces) {
        if (e.kind !== "mesh") continue;
        expect(e.listenPort).toBe(planned.networks.find((n) => n.name === e.name)!.port);
        expect(e.routing?.rules ?? []).toEqual([]);
        for (const peer of e.peers) expect(peer.allowedIPs).not.toContain("0.0.0.0/0");
      }
    }
    // laptop's default route goes through exit: its mesh interface only gets the mark.
    expect(entry("laptop", "home").routing).toMatchObject({ rules: [], routes: [] });
    expect(entry("laptop", "home").routing!.table).toBeUndefined();
  });

  it("without a relay, two members without an endpoint do not peer", () => {
    const fleet = makeConfig({
      machines: { a: {}, b: {}, c: { endpoint: "c.example.org" } },
      proxies: {},
      meshes: { m: { members: ["a", "b", "c"] } },
    });
    const keys = { a: meshPublicKeys().desk!, b: meshPublicKeys().hub!, c: meshPublicKeys().vps! };
    const p = plan(fleet, keys);
    const peers = (host: string) =>
      hostView(p, fleet, host).interfaces[0]!.peers.map((peer) => peer.machine);
    expect(peers("a")).toEqual(["c"]);
    expect(peers("b")).toEqual(["c"]);
    expect(peers("c")).toEqual(["a", "b"]);
    expect(hostView(p, fleet, "c").interfaces[0]!.forwards).toBeUndefined();
  });

  it("keepalive = 0 turns the roaming members' keepalive off", () => {
    const off = meshConfig();
    const fleet = {
      ...off,
      meshes: { ...off.meshes, home: { ...off.meshes!.home!, keepalive: 0 } },
    };
    const view = hostView(plan(fleet, meshPublicKeys()), fleet, "laptop");
    const home = view.interfaces.find((entry) => entry.name === "home")!;
    expect(home.peers.map((peer) => peer.persistentKeepalive)).toEqual([undefined, undefined]);
    // lab sets none: desk keeps 25 to vps.
    const lab = hostView(plan(fleet, meshPublicKeys()), fleet, "desk").interfaces.find(
      (entry) => entry.name === "lab",
    )!;
    expect(lab.peers.map((peer) => peer.persistentKeepalive)).toEqual([25]);
  });

  it("NixOS refuses masquerade_routes beside a gateway's NAT out of a fixed uplink", () => {
    const fleet = makeConfig({
      machines: {
        g: {
          endpoint: "g.example.org",
          uplink: "eth0",
          routes: ["192.168.9.0/24"],
          masqueradeRoutes: true,
        },
        c: {},
      },
      proxies: { p: { gateway: "g", clients: ["c"] } },
      meshes: { m: { members: ["g", "c"] } },
    });
    const keys = { g: meshPublicKeys().hub!, c: meshPublicKeys().desk! };
    expect(() => render(plan(fleet, keys), fleet, { format: "nixos", machine: "g" })).toThrow(
      /"g" masquerades its routes and NATs a proxy out of eth0/,
    );
    const wgQuick = render(plan(fleet, keys), fleet, { format: "wg-quick", machine: "g" });
    expect(wgQuick.find((file) => file.path === "g/m.conf")!.content).toContain(
      "-t nat -A POSTROUTING -s 10.128.0.0/30 -d 192.168.9.0/24 -j MASQUERADE",
    );
  });

  it("a phone (wg-quick mobile) may be a member without an endpoint, not one with", () => {
    const exported = Object.fromEntries(
      Object.keys(config.machines).map((machine) => [`${machine}.age`, fakePrivateKey(machine)]),
    );
    const psk = fakePrivateKey("psk");
    const secrets = new Proxy(exported, {
      get: (target, key: string) =>
        target[key] ?? (key.startsWith("preshared_keys/") ? psk : undefined),
    });
    expect(() =>
      render(planned, config, {
        format: "wg-quick",
        machine: "hub",
        mobile: true,
        export: secrets,
      }),
    ).toThrow(/hub.*endpoint in mesh .home./);
    const desk = render(planned, config, {
      format: "wg-quick",
      machine: "desk",
      mobile: true,
      export: secrets,
    });
    expect(desk.map((file) => file.path)).toEqual(["desk/home.conf", "desk/lab.conf"]);
  });
});
