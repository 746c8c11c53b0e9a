/**
 * Bridges are dual-stack: a /64 of the fleet prefix per routing key, NAT66
 * only into a tunnel that has IPv6, nothing at all with `ipv6 = false`.
 */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { bridgeFor, bridgeSubnetId } from "../../src/net/bridge.js";
import { bridgeOverlap6 } from "../../src/net/bridge-check.js";
import { hostView } from "../../src/net/host.js";
import { subnetId } from "../../src/net/ipv6.js";
import { plan } from "../../src/net/plan.js";
import { seedConfig, seedPublicKeys, vpnConfig, vpnPublicKeys } from "./fleet.js";

const PREFIX = "fd42:7a3c:91e0::/48";

describe("bridge IPv6", () => {
  it("takes subnet id b<key> of the fleet prefix: the key's decimal digits", () => {
    expect([1, 42, 100, 999].map((key) => bridgeSubnetId(key).toString(16))).toEqual([
      "b001",
      "b042",
      "b100",
      "b999",
    ]);
    expect(
      bridgeFor("germany", 100, "10.128.0.2", { prefix: PREFIX, tunnelAddress6: "fd42::2" }),
    ).toEqual({
      name: "br-germany",
      address: "10.20.100.1",
      prefixLength: 24,
      cidr: "10.20.100.0/24",
      snatTo: "10.128.0.2",
      address6: "fd42:7a3c:91e0:b100::1",
      prefixLength6: 64,
      cidr6: "fd42:7a3c:91e0:b100::/64",
      snatTo6: "fd42::2",
    });
    // A tunnel without IPv6: the /64, no NAT66 target; no prefix at all: IPv4 only.
    expect(bridgeFor("us-west", 1, "10.64.1.2", { prefix: PREFIX }).snatTo6).toBeUndefined();
    expect(bridgeFor("us-west", 1, "10.64.1.2").cidr6).toBeUndefined();
  });

  it("routes the bridge's /64 into the tunnel's table, also when the tunnel has no IPv6", () => {
    const config = vpnConfig();
    const spark = hostView(plan(config, vpnPublicKeys()), config, "spark");
    const mullvad = spark.interfaces.find((entry) => entry.name === "mullvad-se-got1")!;
    const bridge = mullvad.routing!.bridge!;
    expect([bridge.cidr6, bridge.snatTo6]).toEqual(["fd56:4416:32d2:b003::/64", undefined]);
    expect(mullvad.routing!.rules.filter((rule) => rule.family === "ipv6")).toEqual([
      { family: "ipv6", priority: 11003, from: "fd56:4416:32d2:b003::/64", table: 52003 },
    ]);
    expect(mullvad.routing!.routes.map((route) => route.destination)).toContain("::/0");
  });

  it("leaves the bridge of a proxy with ipv6 = false IPv4 only", () => {
    const config = seedConfig();
    config.proxies.germany!.ipv6 = false;
    const nyaa = hostView(plan(config, seedPublicKeys()), config, "nyaa");
    const germany = nyaa.interfaces.find((entry) => entry.name === "germany")!;
    expect(germany.routing!.bridge!.cidr6).toBeUndefined();
    expect(germany.routing!.rules.some((rule) => rule.family === "ipv6" && rule.from)).toBe(false);
  });

  it("never gives a network a bridge's /64, and refuses one plan.json records, naming both", () => {
    // A proxy whose name hashes to key 101's bridge id (finland is 100, germany 101) takes the next
    // id that is no bridge's.
    let name = "";
    for (let index = 0; subnetId(name) !== bridgeSubnetId(101); index++) name = `n${index}`;
    const config = seedConfig();
    config.proxies[name] = { name, gateway: "lighthouse", clients: ["spark"] };
    const planned = plan(config, seedPublicKeys());
    const cidr6 = planned.networks.find((network) => network.name === name)!.cidr6!;
    expect(cidr6).toMatch(/:b10a::\/64$/); // b102…b109 are bridges too
    expect(() => hostView(planned, config, "nyaa")).not.toThrow();
    // A plan.json from before bridges had IPv6 (or edited by hand) may record it: refused.
    const pinnedTo = cidr6.replace(":b10a::", ":b101::");
    const recorded = plan(config, seedPublicKeys(), { acceptedCidr6: { [name]: pinnedTo } });
    expect(() => hostView(recorded, config, "nyaa")).toThrow(ConfigError);
    expect(() => hostView(recorded, config, "nyaa")).toThrow(
      new RegExp(`bridge subnet \\S+:b101::/64 overlaps network ${name} `),
    );
  });

  it("finds overlaps with blocks and single addresses", () => {
    const bridge = "fd42:7a3c:91e0:b003::/64";
    expect(bridgeOverlap6(bridge, [["a", "fd42:7a3c:91e0:b004::/64"]])).toBeUndefined();
    expect(bridgeOverlap6(bridge, [["b", "fd42:7a3c:91e0:b003::9"]])).toEqual([
      "b",
      "fd42:7a3c:91e0:b003::9",
    ]);
    expect(bridgeOverlap6(bridge, [["c", "fd42:7a3c:91e0::/48"]])?.[0]).toBe("c");
  });
});
