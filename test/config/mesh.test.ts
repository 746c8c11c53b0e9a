/** `[meshes.<name>]` in wgqt.toml: what it reads as, and each bad input as one line naming field and value. */
import { describe, expect, it } from "vitest";
import { meshReachLines } from "../../src/cli/commands/plan.js";
import { parseConfig } from "../../src/config/load.js";
import { meshesOf } from "../../src/config/types.js";
import { ConfigError } from "../../src/errors.js";
import { plan } from "../../src/net/plan.js";

const PATH = "/fleet/wgqt.toml";
const AGE = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
const machine = (name: string, extra = "") =>
  `[machines.${name}]\nrecipients = [${JSON.stringify(AGE)}]\n${extra}\n`;
const FLEET = `${machine("hub", 'endpoint = "hub.example.org"')}${machine("laptop")}${machine("desk")}`;

function errorOf(text: string): string {
  try {
    parseConfig(text, PATH);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).not.toContain("\n");
    return message;
  }
  throw new Error("expected a ConfigError");
}

describe("[meshes.<name>]", () => {
  it("reads members, relay, mtu, keepalive and ipv6", () => {
    const config = parseConfig(
      `${FLEET}[meshes.home]\nmembers = ["laptop", "hub", "desk"]\nrelay = "hub"\nmtu = 1380\nkeepalive = 10\nipv6 = false\n`,
      PATH,
    );
    expect(meshesOf(config)).toEqual([
      {
        name: "home",
        members: ["laptop", "hub", "desk"],
        relay: "hub",
        mtu: 1380,
        keepalive: 10,
        ipv6: false,
      },
    ]);
    expect(parseConfig(FLEET, PATH).meshes).toEqual({});
  });

  it.each([
    [
      '[meshes.home]\nmembers = ["laptop", "ghost"]\n',
      'meshes.home.members[1]: unknown machine "ghost"',
    ],
    [
      '[meshes.home]\nmembers = ["laptop"]\n',
      "meshes.home.members: a mesh needs at least 2 members, got 1",
    ],
    [
      '[meshes.home]\nmembers = ["laptop", "desk", "laptop"]\n',
      'meshes.home.members[2]: "laptop" is listed twice',
    ],
    [
      '[meshes.home]\nmembers = ["laptop", "desk"]\nrelay = "hub"\n',
      'meshes.home.relay: "hub" is not a member of the mesh',
    ],
    [
      '[meshes.home]\nmembers = ["laptop", "desk"]\nrelay = "desk"\n',
      'meshes.home.relay: "desk" has no endpoint; a relay needs machines.desk.endpoint',
    ],
    [
      '[proxies.home]\ngateway = "hub"\nclients = ["laptop"]\n[meshes.home]\nmembers = ["laptop", "desk"]\n',
      "meshes.home: proxies.home has the same name; networks and VPNs are all interfaces",
    ],
    [
      '[meshes.home]\nmembers = ["laptop", "desk"]\nmtu = 20\n',
      "meshes.home.mtu: expected a whole number of bytes 576…9000, got 20",
    ],
    [
      '[meshes.home]\nmembers = ["laptop", "desk"]\nkeepalive = -1\n',
      "meshes.home.keepalive: expected a whole number of seconds 0…65535 (0 = off), got -1",
    ],
    [
      '[meshes."a b"]\nmembers = ["laptop", "desk"]\n',
      'meshes.a b: interface name "a b" may only hold',
    ],
    [
      '[meshes.home]\nmembers = ["laptop", "desk"]\nrelays = "hub"\n',
      "meshes.home.relays: unknown key",
    ],
  ])("refuses %j", (table, message) => {
    const text = errorOf(`${FLEET}${table}`);
    expect(text.startsWith(`${PATH}: `)).toBe(true);
    expect(text).toContain(message);
  });
});

describe("planning meshes", () => {
  it("takes part in the proxies' walk: sorted by member count, then name", () => {
    const config = parseConfig(
      `${FLEET}${machine("vps", 'endpoint = "198.51.100.1"')}[proxies.exit]\ngateway = "vps"\nclients = ["laptop"]\n[meshes.home]\nmembers = ["laptop", "hub", "desk", "vps"]\n[meshes.duo]\nmembers = ["hub", "vps"]\n`,
      PATH,
    );
    const planned = plan(config);
    expect(planned.networks.map((n) => [n.name, n.id, n.cidr, n.port])).toEqual([
      ["home", 0, "10.128.0.0/29", 16842],
      ["duo", 1, "10.128.0.8/30", 16843],
      ["exit", 2, "10.128.0.12/30", 16844],
    ]);
    expect(JSON.parse(JSON.stringify(planned)).networks[1]).toEqual({
      name: "duo",
      kind: "mesh",
      id: 1,
      port: 16843,
      cidr: "10.128.0.8/30",
      cidr6: planned.networks[1]!.cidr6,
      members: [
        { machine: "hub", role: "member", address: "10.128.0.9", address6: expect.any(String) },
        { machine: "vps", role: "member", address: "10.128.0.10", address6: expect.any(String) },
      ],
    });
  });

  it("refuses a hand-built config the parser would refuse, naming the field", () => {
    const config = parseConfig(`${FLEET}[meshes.home]\nmembers = ["laptop", "desk"]\n`, PATH);
    const broken = { ...config, meshes: { home: { name: "home", members: ["laptop", "nobody"] } } };
    expect(() => plan(broken)).toThrow(/meshes\.home\.members: unknown machine "nobody"/);
  });
});

describe("[machines.<name>] routes", () => {
  const ROUTED = (routes: string, extra = "") =>
    `${machine("hub", `endpoint = "hub.example.org"\nroutes = ${routes}`)}${machine("laptop", extra)}${machine("desk")}[meshes.home]\nmembers = ["laptop", "hub", "desk"]\n`;

  it("reads them canonical, IPv4 and IPv6", () => {
    const config = parseConfig(ROUTED('["192.168.50.0/24", "fd00:50:0:0::/64"]'), PATH);
    expect(config.machines.hub!.routes).toEqual(["192.168.50.0/24", "fd00:50::/64"]);
  });

  it.each([
    [
      '["192.168.50.1/24"]',
      "",
      'machines.hub.routes[0]: "192.168.50.1/24" has host bits set; write "192.168.50.0/24"',
    ],
    ['["lan"]', "", "machines.hub.routes[0]: not an IPv4 address with a prefix length"],
    [
      '["192.168.0.0/16"]',
      'routes = ["192.168.50.0/24"]',
      "machines.laptop.routes[0]: 192.168.50.0/24 overlaps machines.hub.routes[0] (192.168.0.0/16)",
    ],
    [
      '["192.168.50.0/24", "192.168.50.128/25"]',
      "",
      "machines.hub.routes[1]: 192.168.50.128/25 overlaps machines.hub.routes[0] (192.168.50.0/24)",
    ],
  ])("refuses routes = %s", (routes, extra, message) => {
    expect(errorOf(ROUTED(routes, extra))).toContain(message);
  });

  it("reads masquerade_routes, and refuses it without routes", () => {
    const config = parseConfig(ROUTED('["192.168.50.0/24"]\nmasquerade_routes = true'), PATH);
    expect(config.machines.hub!.masqueradeRoutes).toBe(true);
    expect(errorOf(ROUTED('["192.168.50.0/24"]', "masquerade_routes = true"))).toContain(
      "machines.laptop.masquerade_routes: masquerades what goes into routes, and there are none",
    );
  });

  it("refuses routes on a machine in no mesh, or in two", () => {
    expect(
      errorOf(`${machine("hub", 'routes = ["192.168.50.0/24"]')}${machine("laptop")}`),
    ).toContain(
      'machines.hub.routes: "hub" is in no mesh; routed subnets are reached through a mesh',
    );
    expect(
      errorOf(`${ROUTED('["192.168.50.0/24"]')}[meshes.lab]\nmembers = ["hub", "desk"]\n`),
    ).toContain(
      'machines.hub.routes: "hub" is in meshes home and lab; a machine\'s routed subnets go through one mesh',
    );
  });

  it("refuses a route that overlaps a network's block, naming both", () => {
    const config = parseConfig(ROUTED('["10.128.0.0/16"]'), PATH);
    expect(() => plan(config)).toThrow(
      /machines\.hub\.routes\[0\]: 10\.128\.0\.0\/16 overlaps the block of meshes\.home \(10\.128\.0\.0\/29\)/,
    );
  });
});

describe("what plan says of members without an endpoint", () => {
  const text = (relay: string) =>
    `${FLEET}${machine("phone")}[meshes.home]\nmembers = ["laptop", "hub", "desk", "phone"]\n${relay}`;

  it("without a relay: they cannot reach each other directly, and how to fix it", () => {
    expect(meshReachLines(plan(parseConfig(text(""), PATH)))).toEqual([
      "mesh home: desk, laptop, phone have no endpoint, so no two of them can reach each other directly; set meshes.home.relay to a member with an endpoint to connect them",
    ]);
  });

  it("with a relay: they reach each other through it", () => {
    expect(meshReachLines(plan(parseConfig(text('relay = "hub"\n'), PATH)))).toEqual([
      "mesh home: desk, laptop, phone have no endpoint; they reach each other through the relay hub",
    ]);
  });

  it("says nothing when at most one member lacks an endpoint", () => {
    const config = parseConfig(`${FLEET}[meshes.home]\nmembers = ["laptop", "hub"]\n`, PATH);
    expect(meshReachLines(plan(config))).toEqual([]);
  });
});
