/**
 * The routing model: numbers from ids, positive priorities in a fixed order,
 * one default tunnel, a kill switch per table.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { ConfigError } from "../../src/errors.js";
import { bridgeFor, bridgeName } from "../../src/net/bridge.js";
import { hostSecretFiles, hostView } from "../../src/net/host.js";
import { plan } from "../../src/net/plan.js";
import {
  CONNECTION_MARK_RULES,
  FWMARK_BASE,
  FWMARK_MASK,
  hostRouting,
  ipFamilyOption,
  ipRouteArguments,
  ipRuleArguments,
  iptablesMarkRule,
  liftKillSwitch,
  MAX_KEY,
  needsConnectionMarks,
  nftMarkRule,
  ROUTING_SYSCTLS,
  type RoutedInterface,
  routingKey,
} from "../../src/net/routing.js";
import { makeConfig, seedConfig, seedPublicKeys, vpnConfig, vpnPublicKeys } from "./fleet.js";

const proxyClient = (
  name: string,
  id: number,
  address: string,
  preferred = false,
): RoutedInterface => ({
  name,
  kind: "proxy",
  id,
  address,
  carriesDefaultRoute: true,
  preferred,
});

describe("hostRouting", () => {
  it("gives nyaa (client of finland id 0 and germany id 1) the default through finland, germany by source", () => {
    const routing = hostRouting([
      { ...proxyClient("finland", 0, "10.128.0.3"), address6: "fd00:0:0:9b83::3" },
      proxyClient("germany", 1, "10.128.0.11"),
    ]);
    expect(
      routing.map((r) => ({
        name: r.name,
        isDefault: r.isDefault,
        table: r.table,
        fwmark: r.fwmark.toString(16),
        rules: r.rules.map((rule) => `${ipFamilyOption(rule)} ${ipRuleArguments(rule)}`),
        routes: r.routes.map((route) => `${ipFamilyOption(route)} ${ipRouteArguments(route)}`),
      })),
    ).toEqual([
      {
        name: "finland",
        isDefault: true,
        table: 52100,
        fwmark: "520064",
        // IPv6 the same way, by its own address.
        rules: [
          "-4 priority 10000 from all lookup main suppress_prefixlength 0",
          "-4 priority 11100 from 10.128.0.3 lookup 52100",
          "-4 priority 12100 not from all fwmark 0x520000/0xfffc00 lookup 52100",
          "-6 priority 10000 from all lookup main suppress_prefixlength 0",
          "-6 priority 11100 from fd00:0:0:9b83::3 lookup 52100",
          "-6 priority 12100 not from all fwmark 0x520000/0xfffc00 lookup 52100",
        ],
        routes: [
          "-4 unreachable default metric 4294967295 table 52100",
          "-6 unreachable default metric 4294967295 table 52100",
        ],
      },
      {
        name: "germany",
        isDefault: false,
        table: 52101,
        fwmark: "520065",
        // Not the default: its bridge br-germany (10.20.101.1/24) is routed into it too. It has
        // no IPv6 address, so no IPv6 source rule; its table still drops IPv6.
        rules: [
          "-4 priority 11101 from 10.128.0.11 lookup 52101",
          "-4 priority 11101 from 10.20.101.0/24 lookup 52101",
        ],
        routes: [
          "-4 unreachable default metric 4294967295 table 52101",
          "-6 unreachable default metric 4294967295 table 52101",
        ],
      },
    ]);
    expect(routing[0]!.bridge).toBeUndefined();
    expect(routing[1]!.bridge).toEqual({
      name: "br-germany",
      address: "10.20.101.1",
      prefixLength: 24,
      cidr: "10.20.101.0/24",
      snatTo: "10.128.0.11",
    });
  });

  it("lets default = true pick the default tunnel over the lowest id", () => {
    const routing = hostRouting([
      proxyClient("finland", 0, "10.128.0.3"),
      proxyClient("germany", 1, "10.128.0.11", true),
    ]);
    expect(routing.filter((r) => r.isDefault).map((r) => r.name)).toEqual(["germany"]);
    const catchAll = {
      priority: 12101,
      invert: true,
      fwmark: FWMARK_BASE,
      fwmarkMask: FWMARK_MASK,
    };
    expect(routing.flatMap((r) => r.rules).filter((rule) => rule.invert)).toEqual([
      { family: "ipv4", ...catchAll, table: 52101 },
      { family: "ipv6", ...catchAll, table: 52101 },
    ]);
  });

  it("rejects two default = true tunnels on one host", () => {
    expect(() =>
      hostRouting([
        proxyClient("finland", 0, "10.128.0.3", true),
        proxyClient("germany", 1, "10.128.0.11", true),
      ]),
    ).toThrow(/"finland" and "germany" are both default = true/);
  });

  it("needs nothing on a host that only listens (a pure gateway)", () => {
    expect(
      hostRouting([
        {
          name: "germany",
          kind: "proxy",
          id: 1,
          address: "10.128.0.9",
          carriesDefaultRoute: false,
        },
      ]),
    ).toEqual([]);
  });

  it("marks a gateway's interface too when the host also has a tunnel, so its replies bypass the tunnel", () => {
    const routing = hostRouting([
      proxyClient("finland", 0, "10.128.0.3"),
      { name: "germany", kind: "proxy", id: 1, address: "10.128.0.9", carriesDefaultRoute: false },
    ]);
    const germany = routing.find((r) => r.name === "germany")!;
    expect(germany).toMatchObject({ fwmark: FWMARK_BASE + 101, rules: [], routes: [] });
    expect(germany.table).toBeUndefined();
    expect((germany.fwmark & FWMARK_MASK) === FWMARK_BASE).toBe(true);
  });

  it("keeps VPN ids and proxy ids apart, a VPN being the default unless told otherwise", () => {
    expect(routingKey("vpn", 1)).toBe(1);
    expect(routingKey("proxy", 1)).toBe(101);
    const routing = hostRouting([
      proxyClient("finland", 0, "10.128.0.3"),
      {
        name: "us-west",
        kind: "vpn",
        id: 1,
        address: "10.64.1.2",
        carriesDefaultRoute: true,
        extraSources: ["10.20.1.0/24"],
      },
    ]);
    const vpn = routing.find((r) => r.name === "us-west")!;
    expect(vpn.isDefault).toBe(true);
    expect(vpn.rules.map(ipRuleArguments)).toContain(
      "priority 11001 from 10.20.1.0/24 lookup 52001",
    );
  });

  it("keeps every priority positive and ahead of main (32766); every mark inside the mask", () => {
    for (const [kind, id] of [
      ["vpn", 1],
      ["vpn", 99],
      ["proxy", 0],
      ["proxy", 899],
    ] as const) {
      const routing = hostRouting([
        { name: "x", kind, id, address: "10.0.0.2", carriesDefaultRoute: true },
      ]);
      for (const rule of routing[0]!.rules) {
        expect(rule.priority).toBeGreaterThan(0);
        expect(rule.priority).toBeLessThan(32766);
      }
      expect(routing[0]!.fwmark & FWMARK_MASK).toBe(FWMARK_BASE);
    }
  });

  it("rejects ids beyond what the priority bands hold", () => {
    expect(() => routingKey("proxy", 900)).toThrow(ConfigError);
    expect(() => routingKey("vpn", 100)).toThrow(/VPN ids 1…99/);
    expect(() => routingKey("vpn", 0)).toThrow(ConfigError);
  });
});

describe("hostView", () => {
  it("gives a client its gateway as the one peer, and a gateway its clients' /32s", () => {
    const config = seedConfig();
    const planned = plan(config, seedPublicKeys());
    const nyaa = hostView(planned, config, "nyaa");
    expect(nyaa.privateKeyFile).toBe("nyaa.age");
    expect(nyaa.interfaces.map((i) => [i.name, i.addressWithPrefix, i.routing?.isDefault])).toEqual(
      [
        ["finland", "10.128.0.3/29", true],
        ["germany", "10.128.0.11/29", false],
      ],
    );
    expect(nyaa.interfaces[1]!.peers).toEqual([
      {
        machine: "tavern",
        publicKey: seedPublicKeys().tavern,
        presharedKeyFile: "preshared_keys/nyaa+tavern.age",
        allowedIPs: ["0.0.0.0/0", "::/0"],
        endpoint: "tavern.example.org:16843",
        persistentKeepalive: 25,
      },
    ]);
    const tavern = hostView(planned, config, "tavern");
    expect(tavern.interfaces[0]!.routing).toBeUndefined();
    expect(
      tavern.interfaces[0]!.peers.map((p) => [p.machine, p.allowedIPs, p.presharedKeyFile]),
    ).toEqual([
      [
        "archive",
        ["10.128.0.10/32", "fd56:4416:32d2:12a9:82b9:894c:ca4f:d913/128"],
        "preshared_keys/archive+tavern.age",
      ],
      [
        "nyaa",
        ["10.128.0.11/32", "fd56:4416:32d2:12a9:d2f4:5948:bf78:4098/128"],
        "preshared_keys/nyaa+tavern.age",
      ],
      [
        "spark",
        ["10.128.0.12/32", "fd56:4416:32d2:12a9:fbf0:28bd:cd7b:ed8a/128"],
        "preshared_keys/spark+tavern.age",
      ],
    ]);
    // ipv6 = false: IPv4 only, and the client's IPv6 is dropped by its table, never routed around.
    const ipv4Only = seedConfig();
    ipv4Only.proxies.germany!.ipv6 = false;
    const nyaa4 = hostView(plan(ipv4Only, seedPublicKeys()), ipv4Only, "nyaa").interfaces[1]!;
    expect([nyaa4.address6, nyaa4.peers[0]!.allowedIPs]).toEqual([undefined, ["0.0.0.0/0"]]);
    expect(nyaa4.routing!.routes.map((route) => route.destination)).toEqual(["0.0.0.0/0", "::/0"]);
  });

  it("brackets an IPv6 endpoint and names a missing public key", () => {
    const config = seedConfig({ tavern: "2001:db8::1" });
    const planned = plan(config, seedPublicKeys());
    expect(hostView(planned, config, "nyaa").interfaces[1]!.peers[0]!.endpoint).toBe(
      "[2001:db8::1]:16843",
    );
    const { tavern: _, ...withoutTavern } = seedPublicKeys();
    expect(() => hostView(plan(config, withoutTavern), config, "nyaa")).toThrow(
      /machine "tavern" has no public key \(needed by "nyaa" on "germany"\); run wgqt keygen --machine tavern/,
    );
    expect(() => hostView(planned, config, "ghost")).toThrow(/machine "ghost" is not in wgqt.toml/);
  });
});

describe("bridges", () => {
  it("names a bridge br-<tunnel>, or br-<first 7>-<4 hex of SHA-256> when that passes 15 characters", () => {
    expect(bridgeName("germany")).toBe("br-germany");
    expect(bridgeName("germany-nort")).toBe("br-germany-nort");
    const long = bridgeName("mullvad-se-got1");
    expect(long).toMatch(/^br-mullvad-[0-9a-f]{4}$/);
    expect(long).toHaveLength(15);
    expect(bridgeName("mullvad-se-got2")).not.toBe(long);
  });

  it("numbers a bridge 10.20.<key>.1/24 like the seed, continuing past key 255 into 10.21-10.23", () => {
    expect(bridgeFor("us-west", 1, "10.64.1.2")).toEqual({
      name: "br-us-west",
      address: "10.20.1.1",
      prefixLength: 24,
      cidr: "10.20.1.0/24",
      snatTo: "10.64.1.2",
    });
    expect(bridgeFor("big", 255, "10.0.0.2").cidr).toBe("10.20.255.0/24");
    expect(bridgeFor("big", 256, "10.0.0.2").cidr).toBe("10.21.0.0/24");
    expect(bridgeFor("big", 999, "10.0.0.2").cidr).toBe("10.23.231.0/24");
  });

  it("gives every default-route tunnel but the default one a bridge; a split tunnel gets neither table nor bridge", () => {
    const routing = hostRouting([
      { name: "us-west", kind: "vpn", id: 1, address: "10.64.1.2", carriesDefaultRoute: true },
      { name: "proton", kind: "vpn", id: 2, address: "10.2.0.2", carriesDefaultRoute: true },
      { name: "office", kind: "vpn", id: 3, address: "10.99.0.5", carriesDefaultRoute: false },
      proxyClient("germany", 0, "10.128.0.2"),
    ]);
    expect(routing.map((r) => [r.name, r.isDefault, r.table, r.bridge?.name])).toEqual([
      ["us-west", true, 52001, undefined],
      ["proton", false, 52002, "br-proton"],
      ["office", false, undefined, undefined],
      ["germany", false, 52100, "br-germany"],
    ]);
    expect(routing[1]!.rules.map(ipRuleArguments)).toEqual([
      "priority 11002 from 10.2.0.2 lookup 52002",
      "priority 11002 from 10.20.2.0/24 lookup 52002",
    ]);
  });

  it("lets a proxy with default = true carry the default route over a VPN, which is then bridged", () => {
    const routing = hostRouting([
      { name: "us-west", kind: "vpn", id: 1, address: "10.64.1.2", carriesDefaultRoute: true },
      proxyClient("germany", 0, "10.128.0.2", true),
    ]);
    expect(routing.map((r) => [r.name, r.isDefault, r.bridge?.cidr])).toEqual([
      ["us-west", false, "10.20.1.0/24"],
      ["germany", true, undefined],
    ]);
  });

  it("refuses a bridge name another interface on the host already has", () => {
    expect(() =>
      hostRouting([
        proxyClient("finland", 0, "10.128.0.3"),
        proxyClient("germany", 1, "10.128.0.11"),
        { name: "br-germany", kind: "vpn", id: 5, address: "10.9.0.2", carriesDefaultRoute: false },
      ]),
    ).toThrow(
      /the bridge of "germany" would be called "br-germany", the name of another interface/,
    );
  });
});

describe("hostView with VPNs", () => {
  const config = vpnConfig();
  const planned = plan(config, vpnPublicKeys());

  it("puts a host's VPNs first (routing key order), with the provider's key files and no listen port", () => {
    const nyaa = hostView(planned, config, "nyaa");
    expect(nyaa.interfaces.map((i) => [i.name, i.kind, i.routing?.isDefault])).toEqual([
      ["us-west", "vpn", true],
      ["germany", "proxy", false],
    ]);
    const vpn = nyaa.interfaces[0]!;
    expect(vpn).toMatchObject({
      address: "10.64.1.2",
      addressWithPrefix: "10.64.1.2/32",
      cidr: "10.64.1.2/32",
      privateKeyFile: "vpns/us-west.age",
      dns: ["10.64.0.1"],
      mtu: 1320,
    });
    expect(vpn.listenPort).toBeUndefined();
    expect(vpn.peers).toEqual([
      {
        machine: "us-west",
        publicKey: config.vpns!["us-west"]!.publicKey,
        presharedKeyFile: "vpns/us-west.psk.age",
        allowedIPs: ["0.0.0.0/0"],
        endpoint: "198.51.100.7:51820",
        persistentKeepalive: 15,
      },
    ]);
    expect(hostSecretFiles(nyaa)).toEqual([
      "nyaa.age",
      "preshared_keys/nyaa+tavern.age",
      "vpns/us-west.age",
      "vpns/us-west.psk.age",
    ]);
  });

  it("needs no machine key on a host that only uses VPNs", () => {
    const only = makeConfig({
      machines: { laptop: {} },
      proxies: {},
      vpns: { "us-west": { ...config.vpns!["us-west"]!, machines: ["laptop"] } },
    });
    const view = hostView(plan(only, {}), only, "laptop");
    expect(hostSecretFiles(view)).toEqual(["vpns/us-west.age", "vpns/us-west.psk.age"]);
  });

  it("refuses a bridge subnet that overlaps a network of the fleet", () => {
    const clash = vpnConfig();
    clash.ipv4Start = "10.20.100.0";
    expect(() => hostView(plan(clash, vpnPublicKeys()), clash, "nyaa")).toThrow(
      /"nyaa": bridge subnet 10\.20\.100\.0\/24 overlaps network germany \(10\.20\.100\.0\/29\)/,
    );
  });
});

describe("reverse-path filtering: the connection-mark rules", () => {
  it("save a wgqt mark to the connection on the way out and restore it on the way in, touching only the mask's bits", () => {
    expect(CONNECTION_MARK_RULES.map(nftMarkRule)).toEqual([
      "meta l4proto udp meta mark & 0xfffc00 == 0x520000 ct mark set ct mark & 0xff0003ff | 0x520000",
      "meta l4proto udp ct mark & 0xfffc00 == 0x520000 meta mark set meta mark & 0xff0003ff | 0x520000",
    ]);
    expect(CONNECTION_MARK_RULES.map(iptablesMarkRule)).toEqual([
      [
        "mangle",
        "POSTROUTING",
        "-p udp -m mark --mark 0x520000/0xfffc00 -j CONNMARK --set-mark 0x520000/0xfffc00",
      ],
      [
        "mangle",
        "PREROUTING",
        "-p udp -m connmark --mark 0x520000/0xfffc00 -j MARK --set-mark 0x520000/0xfffc00",
      ],
    ]);
    // Every interface's own mark carries FWMARK_BASE within the mask: one pair serves all.
    for (const key of [1, 99, 100, MAX_KEY]) {
      expect(((FWMARK_BASE + key) & FWMARK_MASK) >>> 0).toBe(FWMARK_BASE);
    }
    expect(ROUTING_SYSCTLS).toEqual({ "net.ipv4.conf.all.src_valid_mark": 1 });
  });

  it("are needed on a host as soon as one tunnel has a table, not on a pure gateway", () => {
    expect(needsConnectionMarks(hostRouting([proxyClient("finland", 0, "10.128.0.3")]))).toBe(true);
    const gateway: RoutedInterface = {
      name: "finland",
      kind: "proxy",
      id: 0,
      address: "10.128.0.1",
      carriesDefaultRoute: false,
    };
    expect(needsConnectionMarks(hostRouting([gateway]))).toBe(false);
  });
});

describe("kill switch", () => {
  it("is on for a VPN and off for a proxy unless wgqt.toml says otherwise", () => {
    const fleet = vpnConfig();
    const routingOf = (config: typeof fleet, host: string) =>
      Object.fromEntries(
        hostView(plan(config, vpnPublicKeys()), config, host).interfaces.map((entry) => [
          entry.name,
          entry.routing?.killswitch,
        ]),
      );
    expect(routingOf(fleet, "nyaa")).toEqual({ "us-west": true, germany: false });
    const flipped = vpnConfig();
    flipped.vpns!["us-west"]!.killswitch = false;
    flipped.proxies.germany!.killswitch = true;
    expect(routingOf(flipped, "nyaa")).toEqual({ "us-west": false, germany: true });
  });

  it("is lifted by deleting exactly the tunnel's rules and unreachable default", () => {
    const [finland] = hostRouting([
      { ...proxyClient("finland", 0, "10.128.0.3"), killswitch: true },
    ]);
    expect(finland!.killswitch).toBe(true);
    expect(liftKillSwitch(finland!)).toEqual([
      "ip -4 rule del priority 10000 from all lookup main suppress_prefixlength 0",
      "ip -4 rule del priority 11100 from 10.128.0.3 lookup 52100",
      "ip -4 rule del priority 12100 not from all fwmark 0x520000/0xfffc00 lookup 52100",
      "ip -6 rule del priority 10000 from all lookup main suppress_prefixlength 0",
      "ip -6 rule del priority 12100 not from all fwmark 0x520000/0xfffc00 lookup 52100",
      "ip -4 route del unreachable default metric 4294967295 table 52100",
      "ip -6 route del unreachable default metric 4294967295 table 52100",
    ]);
  });

  it("is a boolean in wgqt.toml: anything else is a one-line error naming the field", () => {
    const text = (value: string) =>
      [
        '[machines.tavern]\nrecipients = ["age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq"]',
        'endpoint = "tavern.example.org"',
        '[machines.nyaa]\nrecipients = ["age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq"]',
        `[proxies.germany]\ngateway = "tavern"\nclients = ["nyaa"]\nkillswitch = ${value}`,
      ].join("\n");
    expect(parseConfig(text("true"), "/fleet/wgqt.toml").proxies.germany!.killswitch).toBe(true);
    expect(() => parseConfig(text('"yes"'), "/fleet/wgqt.toml")).toThrow(
      /^\/fleet\/wgqt\.toml: proxies\.germany\.killswitch: expected boolean, got "yes"$/,
    );
  });
});
