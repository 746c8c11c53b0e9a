/**
 * IPv6 in the plan: the fleet prefix (set, accepted, derived), each network's
 * /64 (subnet ids that collide, the accepted plan's kept), interface ids that
 * depend on nobody else (properties over arbitrary fleets with colliding
 * network names), `ipv6 = false`, and the renumbering review of IPv6 moves.
 */
import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { bridgeSubnetId } from "../../src/net/bridge.js";
import { diffPlans } from "../../src/net/diff.js";
import {
  derivedUlaPrefix,
  formatIpv6Groups,
  interfaceIdOf,
  isBridgeSubnet,
  networkBlock,
  sharingInterfaceIds,
  subnetFormatter,
  subnetId,
  ulaPrefixProblem,
} from "../../src/net/ipv6.js";
import { type PlanJson, plan, planJson } from "../../src/net/plan.js";
import { pinned } from "../../src/store/accepted-plan.js";
import { makeConfig, seedConfig } from "./fleet.js";
import { collidingChain, collidingPair, nameHashingAtLeast, nameHashingTo } from "./subnets.js";

function inside(address: string, cidr: string): boolean {
  return ipaddr.IPv6.parse(address).match(ipaddr.IPv6.parseCIDR(cidr));
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
});

describe("RFC 5952 text", () => {
  /** ipaddr.js's text for eight groups: RFC 5952 for every address inside fd00::/8. */
  const reference = (groups: readonly number[]) => new ipaddr.IPv6([...groups]).toString();

  it.each([
    [[0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], "2001:db8::1"], // 4.1: no leading zeros
    [[0x2001, 0xdb8, 0, 0, 0, 0, 2, 1], "2001:db8::2:1"], // 4.2.1: shortened as far as it goes
    [[0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], "2001:db8:0:1:1:1:1:1"], // 4.2.2: one zero group stays
    [[0x2001, 0, 0, 1, 0, 0, 0, 1], "2001:0:0:1::1"], // 4.2.3: the longest run
    [[0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], "2001:db8::1:0:0:1"], // 4.2.3: the first of equal runs
    [[0, 0, 1, 0, 0, 1, 1, 1], "::1:0:0:1:1:1"], // 4.2.3, a leading run
    [[0xabcd, 0xef, 0, 0, 0, 0, 0, 0], "abcd:ef::"], // 4.3: lowercase; a trailing run
    [[0, 0, 0, 0, 0, 0, 0, 0], "::"],
    [[0, 0, 0, 0, 0, 0, 0, 1], "::1"],
  ])("%j is %s", (groups, text) => {
    expect(formatIpv6Groups(groups)).toBe(text);
  });

  const group = fc.oneof(
    fc.constant(0),
    fc.constant(0),
    fc.constant(1),
    fc.constant(0xffff),
    fc.integer({ min: 0, max: 0xffff }),
  );
  const ulaGroups = fc
    .tuple(
      fc.integer({ min: 0xfd00, max: 0xfdff }),
      fc.array(group, { minLength: 7, maxLength: 7 }),
    )
    .map(([first, rest]) => [first, ...rest]);

  it("is ipaddr.js's text for any address inside fd00::/8", () => {
    fc.assert(
      fc.property(ulaGroups, (groups) => {
        expect(formatIpv6Groups(groups)).toBe(reference(groups));
      }),
      { numRuns: 2000 },
    );
  });

  /** A subnet's member address: its part formatted once, then the id's. */
  const member = (groups: readonly number[]) =>
    subnetFormatter(
      `${formatIpv6Groups([...groups.slice(0, 3), 0, 0, 0, 0, 0])}/48`,
      groups[3]!,
    )(interfaceIdOf(groups.slice(4)));

  it("a subnet's part and an id's give the address's text, zero runs across the two included", () => {
    // Every pattern of zero groups after fd42 (runs ending, starting and crossing between the two halves).
    for (let zeros = 0; zeros < 128; zeros++) {
      for (const value of [1, 0xa, 0xbeef]) {
        const groups = [
          0xfd42,
          ...[0, 1, 2, 3, 4, 5, 6].map((at) => ((zeros >> at) & 1 ? 0 : value + at)),
        ];
        expect(member(groups)).toBe(reference(groups));
      }
    }
    fc.assert(
      fc.property(ulaGroups, (groups) => {
        expect(member(groups)).toBe(reference(groups));
      }),
      { numRuns: 2000 },
    );
  });

  it("no two machines of a fleet share an interface id; a machine named twice is one", () => {
    expect(sharingInterfaceIds(["archive", "nyaa", "tavern", "nyaa"]).size).toBe(0);
  });
});

const PREFIX = "fd01:2:3::/48";

/** A fleet of one gateway and one client in each of `networks`, with `ipv6_prefix` set. */
function networksConfig(networks: readonly string[]) {
  const config = makeConfig({
    machines: { gw: { endpoint: "gw.example.org" }, a: {} },
    proxies: Object.fromEntries(networks.map((name) => [name, { gateway: "gw", clients: ["a"] }])),
  });
  return { ...config, ipv6Prefix: PREFIX };
}

function blocks6(planned: ReturnType<typeof plan>): Record<string, string | undefined> {
  return Object.fromEntries(planned.networks.map((network) => [network.name, network.cidr6]));
}

const block = (subnet: number) => networkBlock(PREFIX, subnet % 65536);

describe("subnet ids that collide", () => {
  it("two networks hashing to one id: the first in byte order takes it, the other the next", () => {
    const { names, subnet } = collidingPair();
    const [first, second] = names;
    expect(subnetId(first)).toBe(subnetId(second));
    const planned = plan(networksConfig(names));
    expect(blocks6(planned)).toEqual({ [first]: block(subnet), [second]: block(subnet + 1) });
    for (const network of planned.networks)
      for (const member of network.members)
        expect(inside(member.address6!, network.cidr6!)).toBe(true);
    // A network with ipv6 = false claims nothing.
    const config = networksConfig(names);
    config.proxies[first]!.ipv6 = false;
    expect(blocks6(plan(config))).toEqual({ [first]: undefined, [second]: block(subnet) });
  });

  it("the next free id steps over ids that other networks hold", () => {
    const { names, subnet } = collidingChain();
    const got = blocks6(plan(networksConfig(names)));
    expect(new Set(Object.values(got))).toEqual(
      new Set([block(subnet), block(subnet + 1), block(subnet + 2)]),
    );
    // In byte order, each takes its own id or the first free one after it.
    const taken = new Set<string>();
    for (const name of names) {
      let wanted = subnetId(name);
      while (taken.has(block(wanted))) wanted = (wanted + 1) % 65536;
      expect(got[name]).toBe(block(wanted));
      taken.add(block(wanted));
    }
  });

  it("a network never takes a bridge's id: one hashing to b009 takes b00a", () => {
    expect([1, 9, 42, 100, 999].map(bridgeSubnetId).every(isBridgeSubnet)).toBe(true);
    expect([0xb00a, 0xb0a0, 0xba00, 0xafff, 0xc000].some(isBridgeSubnet)).toBe(false);
    const name = nameHashingTo((subnet) => subnet === 0xb009);
    expect(blocks6(plan(networksConfig([name])))).toEqual({ [name]: block(0xb00a) });
    // Every generated id stays clear of the bridges'.
    const many = Array.from({ length: 300 }, (_, i) => `net${i}`);
    for (const cidr6 of Object.values(blocks6(plan(networksConfig(many)))))
      expect(isBridgeSubnet(Number.parseInt(cidr6!.split(":")[3]!, 16))).toBe(false);
  });

  it("wraps from 65535 to 0", () => {
    const late = nameHashingAtLeast(65530);
    const holders = Array.from({ length: 65536 - subnetId(late) }, (_, i) => `held${i}`);
    const acceptedCidr6 = Object.fromEntries(
      holders.map((name, i) => [name, block(subnetId(late) + i)]),
    );
    const planned = plan(networksConfig([late, ...holders]), {}, { acceptedCidr6 });
    expect(blocks6(planned)).toEqual({ ...acceptedCidr6, [late]: block(0) });
  });

  it("a network in the accepted plan keeps its /64: one that joins later takes the next", () => {
    const { names, subnet } = collidingPair("j");
    const [joiner, existing] = names; // the joiner sorts first, so without the plan it would win
    const accepted = planJson(plan(networksConfig([existing])));
    expect(accepted.networks[0]!.cidr6).toBe(block(subnet));
    const both = networksConfig(names);
    expect(blocks6(plan(both))).toEqual({ [joiner]: block(subnet), [existing]: block(subnet + 1) });
    const kept = plan(both, {}, pinned(accepted));
    expect(blocks6(kept)).toEqual({ [existing]: block(subnet), [joiner]: block(subnet + 1) });
    // IPv4 blocks follow the order of names (the joiner's comes first); no IPv6 address moves.
    expect(diffPlans(accepted, kept).changed.filter((move) => move.address6)).toEqual([]);
    // Any /64 of the prefix is kept, whatever the name hashes to.
    const moved = plan(both, {}, { acceptedCidr6: { [joiner]: block(subnet + 7) } });
    expect(blocks6(moved)).toEqual({ [joiner]: block(subnet + 7), [existing]: block(subnet) });
  });

  it.each([
    ["not an address", "garbage"],
    ["IPv4", "10.0.0.0/24"],
    ["a /48", "fd01:2:3::/48"],
    ["a /63", "fd01:2:3:1234::/63"],
    ["bits set past the /64", "fd01:2:3:1234::1/64"],
    ["another prefix's /64", "fd09:2:3:1234::/64"],
  ])("an accepted cidr6 that is %s is ignored: derived afresh", (_, cidr6) => {
    const { names } = collidingPair();
    const fresh = blocks6(plan(networksConfig(names)));
    const [first, second] = names;
    for (const name of names)
      expect(
        blocks6(plan(networksConfig(names), {}, { acceptedCidr6: { [name]: cidr6 } })),
      ).toEqual(fresh);
    // Two networks recording one /64 (an edited plan.json): the first in byte order keeps it.
    const same = { [first]: block(1234), [second]: block(1234) };
    expect(blocks6(plan(networksConfig(names), {}, { acceptedCidr6: same }))).toEqual({
      [first]: block(1234),
      [second]: fresh[first],
    });
  });

  it("a changed ipv6_prefix moves every member, reviewed; the ids are derived afresh", () => {
    const { names, subnet } = collidingPair("j");
    const [joiner, existing] = names;
    let accepted = planJson(plan(networksConfig([existing])));
    accepted = planJson(plan(networksConfig(names), {}, pinned(accepted)));
    const renumbered = { ...networksConfig(names), ipv6Prefix: "fd09::/48" };
    const after = plan(renumbered, {}, pinned(accepted));
    expect(blocks6(after)).toEqual({
      [joiner]: networkBlock("fd09::/48", subnet),
      [existing]: networkBlock("fd09::/48", subnet + 1),
    });
    const moves = diffPlans(accepted, after).changed;
    expect(moves).toHaveLength(4);
    expect(moves.every((move) => move.address6 !== undefined && move.address === undefined)).toBe(
      true,
    );
  });
});

/** Network names for generated fleets: a chain of colliding ones, a colliding pair, three others. */
const chain = collidingChain();
const NETWORK_NAMES = [...chain.names, ...collidingPair("p").names, "net0", "net1", "net2"];

/** Machines, and networks in the order they joined the fleet. */
interface Fleet {
  machines: string[];
  networks: { name: string; gateway: string; clients: string[] }[];
}

const fleetArbitrary = fc
  .record({
    machineCount: fc.integer({ min: 3, max: 12 }),
    networks: fc.uniqueArray(
      fc.record({
        name: fc.constantFrom(...NETWORK_NAMES),
        gateway: fc.nat(),
        clients: fc.array(fc.nat(), { maxLength: 12 }),
      }),
      { minLength: 1, maxLength: 6, selector: (network) => network.name },
    ),
  })
  .map(({ machineCount, networks }): Fleet => {
    const machines = Array.from({ length: machineCount }, (_, i) => `m${i}`);
    return {
      machines,
      networks: networks.map((network) => {
        const gateway = machines[network.gateway % machineCount]!;
        const clients = [
          ...new Set(network.clients.map((c) => machines[c % machineCount]!)),
        ].filter((c) => c !== gateway);
        return { name: network.name, gateway, clients };
      }),
    };
  });

function fleetConfig(fleet: Fleet) {
  return makeConfig({
    machines: Object.fromEntries(fleet.machines.map((m) => [m, { endpoint: `${m}.example.org` }])),
    proxies: Object.fromEntries(fleet.networks.map(({ name, ...proxy }) => [name, proxy])),
  });
}

/**
 * No two networks of `after` share a /64, and no network in both plans has
 * another /64 in `after`, nor any member in both another IPv6 address.
 */
function expectNoMove6(accepted: PlanJson, after: PlanJson): void {
  const blocks = after.networks.map((network) => network.cidr6);
  expect(new Set(blocks).size).toBe(blocks.length);
  const before = new Map(accepted.networks.map((network) => [network.name, network]));
  for (const network of after.networks) {
    const old = before.get(network.name);
    if (old === undefined) continue;
    expect(network.cidr6).toBe(old.cidr6);
    const addresses = new Map(old.members.map((member) => [member.machine, member.address6]));
    for (const member of network.members)
      if (addresses.has(member.machine))
        expect(member.address6).toBe(addresses.get(member.machine));
  }
}

/**
 * The accepted plan after the fleet's networks joined one by one, each plan
 * accepted in turn (plan.json carried forward); no join moves anyone.
 */
function acceptedAfterJoining(fleet: Fleet): PlanJson {
  let accepted: PlanJson | undefined;
  for (let count = 1; count <= fleet.networks.length; count++) {
    const networks = fleet.networks.slice(0, count);
    const next = planJson(plan(fleetConfig({ ...fleet, networks }), {}, pinned(accepted)));
    if (accepted !== undefined) expectNoMove6(accepted, next);
    accepted = next;
  }
  return accepted!;
}

describe("properties", () => {
  it("the generated names collide", () => {
    const ids = NETWORK_NAMES.map(subnetId);
    expect(new Set(ids).size).toBe(NETWORK_NAMES.length - 2);
    expect(ids).toContain((chain.subnet + 1) % 65536);
  });

  it("adding or removing a machine or a network moves no other /64 or IPv6 address, plan.json carried forward", () => {
    fc.assert(
      fc.property(fleetArbitrary, fc.nat(), fc.nat(), (fleet, pick, where) => {
        const accepted = acceptedAfterJoining(fleet);
        const replan = (changed: Fleet) =>
          planJson(plan(fleetConfig(changed), {}, pinned(accepted)));
        // Remove one machine: from the fleet, as a client, and every network it is the gateway of.
        const gone = fleet.machines[pick % fleet.machines.length]!;
        expectNoMove6(
          accepted,
          replan({
            machines: fleet.machines.filter((m) => m !== gone),
            networks: fleet.networks
              .filter((network) => network.gateway !== gone)
              .map((network) => ({
                ...network,
                clients: network.clients.filter((c) => c !== gone),
              })),
          }),
        );
        // Add one machine as a client of one network.
        const target = fleet.networks[where % fleet.networks.length]!;
        const more = replan({
          machines: [...fleet.machines, "newcomer"],
          networks: fleet.networks.map((network) =>
            network === target
              ? { ...network, clients: [...network.clients, "newcomer"] }
              : network,
          ),
        });
        expectNoMove6(accepted, more);
        const joined = more.networks.find((network) => network.name === target.name)!;
        const newcomer = joined.members.find((member) => member.machine === "newcomer")!;
        expect(inside(newcomer.address6!, joined.cidr6!)).toBe(true);
        // Remove one network.
        expectNoMove6(
          accepted,
          replan({ ...fleet, networks: fleet.networks.filter((network) => network !== target) }),
        );
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
