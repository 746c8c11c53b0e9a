/**
 * IPv6 in the plan: the fleet prefix (set, accepted, derived), each network's
 * /64, interface ids that depend on nobody else (a property over arbitrary
 * fleets), `ipv6 = false`, and the renumbering review of IPv6 moves.
 */
import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { diffPlans } from "../../src/net/diff.js";
import { derivedUlaPrefix, subnetId, ulaPrefixProblem } from "../../src/net/ipv6.js";
import { plan } from "../../src/net/plan.js";
import { makeConfig, seedConfig } from "./fleet.js";

function inside(address: string, cidr: string): boolean {
  return ipaddr.IPv6.parse(address).match(ipaddr.IPv6.parseCIDR(cidr));
}

function addresses6(planned: ReturnType<typeof plan>): Map<string, string> {
  const found = new Map<string, string>();
  for (const network of planned.networks)
    for (const member of network.members)
      found.set(`${network.name}/${member.machine}`, member.address6!);
  return found;
}

describe("the fleet prefix", () => {
  it("is ipv6_prefix when set, in canonical form, and every network a /64 of it", () => {
    const config = { ...seedConfig(), ipv6Prefix: "FD42:7a3c:91e0:0::/48" };
    const planned = plan(config);
    expect(planned.ipv6Prefix).toBe("fd42:7a3c:91e0::/48");
    expect(planned.networks.map((network) => network.cidr6)).toEqual([
      "fd42:7a3c:91e0:9b83::/64",
      "fd42:7a3c:91e0:12a9::/64",
    ]);
    for (const network of planned.networks)
      for (const member of network.members)
        expect(inside(member.address6!, network.cidr6!)).toBe(true);
    expect(JSON.parse(JSON.stringify(planned)).ipv6Prefix).toBe("fd42:7a3c:91e0::/48");
  });

  it.each([
    ["fd42:7a3c:91e0::/64", /ipv6_prefix: expected a \/48 inside fd00::\/8/],
    ["fc00:1:2::/48", /ipv6_prefix: expected a \/48 inside fd00::\/8/],
    ["2001:db8:1::/48", /ipv6_prefix: expected a \/48 inside fd00::\/8.*got "2001:db8:1::\/48"/],
    ["fd42:7a3c:91e0::", /ipv6_prefix: expected a \/48/],
    ["not an address", /ipv6_prefix: expected a \/48/],
    [
      "fd42:7a3c:91e0:1::/48",
      /ipv6_prefix: "fd42:7a3c:91e0:1::\/48" has bits set past the \/48; write "fd42:7a3c:91e0::\/48"/,
    ],
  ])("refuses ipv6_prefix %s in one line naming the field", (value, message) => {
    const config = { ...seedConfig(), ipv6Prefix: value };
    expect(() => plan(config)).toThrow(ConfigError);
    expect(() => plan(config)).toThrow(message);
    try {
      plan(config);
    } catch (error) {
      expect((error as Error).message).not.toContain("\n");
    }
  });

  it("without ipv6_prefix is the accepted plan's, else derived from the admins", () => {
    const config = seedConfig();
    expect(plan(config).ipv6Prefix).toBe(derivedUlaPrefix([]));
    expect(ulaPrefixProblem(derivedUlaPrefix(["age1x", "age1y"]))).toBeUndefined();
    expect(derivedUlaPrefix(["age1y", "age1x"])).toBe(derivedUlaPrefix(["age1x", "age1y"]));
    expect(derivedUlaPrefix(["age1x"])).not.toBe(derivedUlaPrefix(["age1y"]));
    const pinned = plan(config, {}, { acceptedIpv6Prefix: "fd01:2:3::/48" });
    expect(pinned.ipv6Prefix).toBe("fd01:2:3::/48");
    // New admins do not move a pinned prefix; ipv6_prefix in wgqt.toml does, and is reviewed.
    const moreAdmins = { ...config, admins: ["age1someoneelse"] };
    expect(plan(moreAdmins, {}, { acceptedIpv6Prefix: "fd01:2:3::/48" }).ipv6Prefix).toBe(
      "fd01:2:3::/48",
    );
    const set = plan(
      { ...config, ipv6Prefix: "fd09::/48" },
      {},
      { acceptedIpv6Prefix: "fd01:2:3::/48" },
    );
    const moves = diffPlans(pinned, set).changed;
    expect(moves).toHaveLength(8);
    expect(moves[0]).toEqual({
      network: "finland",
      machine: "archive",
      address6: {
        from: "fd01:2:3:9b83:82b9:894c:ca4f:d913",
        to: "fd09::9b83:82b9:894c:ca4f:d913",
      },
    });
  });
});

describe("networks and members", () => {
  it("ipv6 = false leaves a network IPv4-only and moves nobody else", () => {
    const config = seedConfig();
    const before = plan(config);
    config.proxies.germany!.ipv6 = false;
    const after = plan(config);
    expect(after.networks[1]!.cidr6).toBeUndefined();
    expect(after.networks[1]!.members.every((member) => member.address6 === undefined)).toBe(true);
    expect(after.networks[0]).toEqual(before.networks[0]);
    expect(diffPlans(before, after)).toEqual({ changed: [], added: [], removed: [] });
    expect(Object.keys(JSON.parse(JSON.stringify(after)).networks[1].members[0])).toEqual([
      "machine",
      "role",
      "address",
    ]);
  });

  it("two networks whose names hash to one subnet id are an error naming both", () => {
    const seen = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let index = 0; pair === undefined; index++) {
      const name = `n${index}`;
      const other = seen.get(subnetId(name));
      if (other !== undefined) pair = [other, name];
      seen.set(subnetId(name), name);
    }
    const [first, second] = pair;
    const config = makeConfig({
      machines: { gw: { endpoint: "gw.example.org" }, a: {} },
      proxies: {
        [first]: { gateway: "gw", clients: ["a"] },
        [second]: { gateway: "gw", clients: ["a"] },
      },
    });
    expect(() => plan(config)).toThrow(
      new RegExp(
        `proxies\\.(${first}|${second}): its IPv6 subnet id \\d+ \\(from its name\\) is also that of proxies\\.(${first}|${second}); rename one`,
      ),
    );
    config.proxies[second]!.ipv6 = false;
    expect(plan(config).networks).toHaveLength(2);
  });
});

const fleetArbitrary = fc
  .record({
    machineCount: fc.integer({ min: 3, max: 12 }),
    proxies: fc.array(
      fc.record({ gateway: fc.nat(), clients: fc.array(fc.nat(), { maxLength: 12 }) }),
      { minLength: 1, maxLength: 6 },
    ),
  })
  .map(({ machineCount, proxies }) => {
    const machines = Array.from({ length: machineCount }, (_, i) => `m${i}`);
    return {
      machines,
      proxies: proxies.map((proxy) => {
        const gateway = machines[proxy.gateway % machineCount]!;
        const clients = [...new Set(proxy.clients.map((c) => machines[c % machineCount]!))].filter(
          (c) => c !== gateway,
        );
        return { gateway, clients };
      }),
    };
  });

function fleetConfig(fleet: {
  machines: string[];
  proxies: { gateway: string; clients: string[] }[];
}) {
  return makeConfig({
    machines: Object.fromEntries(fleet.machines.map((m) => [m, { endpoint: `${m}.example.org` }])),
    proxies: Object.fromEntries(fleet.proxies.map((proxy, index) => [`net${index}`, proxy])),
  });
}

describe("properties", () => {
  it("adding or removing any machine changes no other machine's IPv6 address", () => {
    fc.assert(
      fc.property(fleetArbitrary, fc.nat(), fc.nat(), (fleet, pick, where) => {
        const before = addresses6(plan(fleetConfig(fleet)));
        // Remove one machine: from the fleet, as a client, and any proxy it is the gateway of.
        const gone = fleet.machines[pick % fleet.machines.length]!;
        const removed = {
          machines: fleet.machines.filter((m) => m !== gone),
          proxies: fleet.proxies.map((proxy) =>
            proxy.gateway === gone
              ? { gateway: proxy.gateway, clients: [] }
              : { ...proxy, clients: proxy.clients.filter((c) => c !== gone) },
          ),
        };
        // Proxies keep their names (net<index>); one that lost its gateway is dropped by name.
        const lessConfig = fleetConfig(fleet);
        delete lessConfig.machines[gone];
        for (const [index, proxy] of removed.proxies.entries()) {
          if (proxy.gateway === gone) delete lessConfig.proxies[`net${index}`];
          else lessConfig.proxies[`net${index}`]!.clients = proxy.clients;
        }
        const less = addresses6(plan(lessConfig));
        // Add one machine as a client of one proxy.
        const moreConfig = fleetConfig(fleet);
        moreConfig.machines.newcomer = { name: "newcomer", recipients: [] };
        moreConfig.proxies[`net${where % fleet.proxies.length}`]!.clients.push("newcomer");
        const more = addresses6(plan(moreConfig));
        for (const [key, address] of before) {
          if (key.endsWith(`/${gone}`) || !less.has(key)) continue;
          expect(less.get(key)).toBe(address);
        }
        for (const [key, address] of before) expect(more.get(key)).toBe(address);
        expect(more.size).toBe(before.size + 1);
      }),
    );
  });

  it("every member of a network has its own address inside the network's /64", () => {
    fc.assert(
      fc.property(fleetArbitrary, (fleet) => {
        for (const network of plan(fleetConfig(fleet)).networks) {
          const addresses = network.members.map((member) => member.address6!);
          expect(new Set(addresses).size).toBe(addresses.length);
          for (const address of addresses) expect(inside(address, network.cidr6!)).toBe(true);
        }
      }),
    );
  });
});
