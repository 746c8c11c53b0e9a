/**
 * The planner: the seed's worked example exactly, every error it promises,
 * and properties over arbitrary fleets (fast-check).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Config } from "../../src/config/types.js";
import { ConfigError, KeyError } from "../../src/errors.js";
import { addressRoom, parseIpv4 } from "../../src/net/ipv4.js";
import { plan } from "../../src/net/plan.js";
import { makeConfig, seedConfig, seedPublicKeys } from "./fleet.js";

describe("the seed's example", () => {
  it("comes out exactly: finland 10.128.0.0/29 port 16842, germany 10.128.0.8/29 port 16843", () => {
    expect(JSON.parse(JSON.stringify(plan(seedConfig())))).toEqual({
      networks: [
        {
          name: "finland",
          kind: "proxy",
          id: 0,
          port: 16842,
          cidr: "10.128.0.0/29",
          cidr6: "fd56:4416:32d2:9b83::/64",
          gateway: "lighthouse",
          members: [
            {
              machine: "lighthouse",
              role: "gateway",
              address: "10.128.0.1",
              address6: "fd56:4416:32d2:9b83:733e:670a:a090:d215",
            },
            {
              machine: "archive",
              role: "client",
              address: "10.128.0.2",
              address6: "fd56:4416:32d2:9b83:82b9:894c:ca4f:d913",
            },
            {
              machine: "nyaa",
              role: "client",
              address: "10.128.0.3",
              address6: "fd56:4416:32d2:9b83:d2f4:5948:bf78:4098",
            },
            {
              machine: "spark",
              role: "client",
              address: "10.128.0.4",
              address6: "fd56:4416:32d2:9b83:fbf0:28bd:cd7b:ed8a",
            },
          ],
        },
        {
          name: "germany",
          kind: "proxy",
          id: 1,
          port: 16843,
          cidr: "10.128.0.8/29",
          cidr6: "fd56:4416:32d2:12a9::/64",
          gateway: "tavern",
          members: [
            {
              machine: "tavern",
              role: "gateway",
              address: "10.128.0.9",
              address6: "fd56:4416:32d2:12a9:ee81:1019:9376:c677",
            },
            {
              machine: "archive",
              role: "client",
              address: "10.128.0.10",
              address6: "fd56:4416:32d2:12a9:82b9:894c:ca4f:d913",
            },
            {
              machine: "nyaa",
              role: "client",
              address: "10.128.0.11",
              address6: "fd56:4416:32d2:12a9:d2f4:5948:bf78:4098",
            },
            {
              machine: "spark",
              role: "client",
              address: "10.128.0.12",
              address6: "fd56:4416:32d2:12a9:fbf0:28bd:cd7b:ed8a",
            },
          ],
        },
      ],
      ipv6Prefix: "fd56:4416:32d2::/48",
    });
  });

  it("prints exactly the plan --json shape and keeps public keys out of it", () => {
    const text = JSON.stringify(plan(seedConfig(), seedPublicKeys()));
    expect(
      text.startsWith('{"networks":[{"name":"finland","kind":"proxy","id":0,"port":16842,'),
    ).toBe(true);
    expect(text).not.toContain("publicKey");
    expect(Object.keys(JSON.parse(text).networks[0])).toEqual([
      "name",
      "kind",
      "id",
      "port",
      "cidr",
      "cidr6",
      "gateway",
      "members",
    ]);
  });

  it("carries public keys, from the store or the config's public_key, for the renderers", () => {
    const config = seedConfig();
    config.machines.spark!.publicKey = seedPublicKeys().spark;
    const planned = plan(config, { nyaa: seedPublicKeys().nyaa });
    const members = planned.networks[0]!.members;
    expect(members.find((m) => m.machine === "nyaa")!.publicKey).toBe(seedPublicKeys().nyaa);
    expect(members.find((m) => m.machine === "spark")!.publicKey).toBe(seedPublicKeys().spark);
    expect(members.find((m) => m.machine === "archive")!.publicKey).toBeUndefined();
  });

  it("sorts by machine count first: a bigger network takes the first block", () => {
    const config = seedConfig();
    config.proxies.germany!.clients.push("lighthouse");
    const planned = plan(config);
    expect(planned.networks.map((n) => [n.name, n.cidr, n.port])).toEqual([
      ["germany", "10.128.0.0/29", 16842],
      ["finland", "10.128.0.8/29", 16843],
    ]);
  });
});

describe("errors name the field and quote the value", () => {
  const cases: [string, (config: Config) => void, RegExp][] = [
    [
      "ipv4_start",
      (c) => {
        c.ipv4Start = "10.128.0";
      },
      /ipv4_start: not an IPv4 address: "10\.128\.0"/,
    ],
    [
      "udp_start",
      (c) => {
        c.udpStart = 70000;
      },
      /udp_start: expected a port 1…65535, got 70000/,
    ],
    [
      "an unaligned ipv4_start",
      (c) => {
        c.ipv4Start = "10.128.0.4";
      },
      /ipv4_start: "10\.128\.0\.4" leaves network "finland" \(8 addresses\) unaligned.*"10\.128\.0\.0"/,
    ],
    [
      "running out of the private range",
      (c) => {
        c.ipv4Start = "10.255.255.248";
      },
      /proxies\.germany: no room for 8 more addresses after 10\.255\.255\.255: past the end of 10\.0\.0\.0\/8/,
    ],
    [
      "running out of IPv4",
      (c) => {
        c.ipv4Start = "255.255.255.248";
      },
      /proxies\.germany: no room for 8 more addresses after 255\.255\.255\.255: past the end of 0\.0\.0\.0\/0/,
    ],
    [
      "a port above 65535",
      (c) => {
        c.udpStart = 65535;
      },
      /proxies\.germany: port 65536 is above 65535 \(udp_start 65535 \+ id 1\)/,
    ],
    [
      "an interface name over 15 characters",
      (c) => {
        c.proxies.finlandfinlandfi = { ...c.proxies.finland!, name: "finlandfinlandfi" };
      },
      /proxies\.finlandfinlandfi: interface name "finlandfinlandfi" is longer than 15 characters/,
    ],
    [
      "an interface name with a space",
      (c) => {
        c.proxies["fin land"] = { ...c.proxies.finland!, name: "fin land" };
      },
      /proxies\.fin land: interface name "fin land" may only hold letters, digits, '-' and '_'/,
    ],
    // wg-quick(8) would take these; wgqt.toml does not (the name is also a Nix
    // attribute and a systemd unit name), and neither does the planner.
    [
      "an interface name with a dot",
      (c) => {
        c.proxies["wg.0"] = { ...c.proxies.finland!, name: "wg.0" };
      },
      /proxies\.wg\.0: interface name "wg\.0" may only hold letters, digits, '-' and '_', starting with a letter or digit/,
    ],
    [
      "an interface name starting with '_'",
      (c) => {
        c.proxies._wg = { ...c.proxies.finland!, name: "_wg" };
      },
      /proxies\._wg: interface name "_wg" may only hold/,
    ],
    [
      "a gateway without an endpoint",
      (c) => void delete c.machines.tavern!.endpoint,
      /proxies\.germany\.gateway: machine "tavern" has no endpoint; a gateway needs machines\.tavern\.endpoint/,
    ],
    [
      "an endpoint with a port",
      (c) => {
        c.machines.tavern!.endpoint = "tavern.example.org:51820";
      },
      /machines\.tavern\.endpoint: expected a host name or IP address without a port, got "tavern\.example\.org:51820"/,
    ],
    [
      "an uplink that is not an interface name",
      (c) => {
        c.machines.tavern!.uplink = "eth0; reboot";
      },
      /machines\.tavern\.uplink: interface name "eth0; reboot" may only hold/,
    ],
    [
      "a client listed twice",
      (c) => void c.proxies.germany!.clients.push("nyaa"),
      /proxies\.germany\.clients: "nyaa" is listed twice/,
    ],
    [
      "the gateway as a client",
      (c) => void c.proxies.germany!.clients.push("tavern"),
      /proxies\.germany\.clients: "tavern" is the gateway/,
    ],
    [
      "an unknown client",
      (c) => void c.proxies.germany!.clients.push("ghost"),
      /proxies\.germany\.clients: unknown machine "ghost"/,
    ],
    [
      "an unknown gateway",
      (c) => {
        c.proxies.germany!.gateway = "ghost";
      },
      /proxies\.germany\.gateway: unknown machine "ghost"/,
    ],
    [
      "two default proxies for one client",
      (c) => {
        c.proxies.finland!.default = true;
        c.proxies.germany!.default = true;
      },
      /proxies\.germany\.default: client "archive" already has its default route through proxies\.finland/,
    ],
  ];
  it.each(cases)("%s", (_name, change, message) => {
    const config = seedConfig();
    change(config);
    expect(() => plan(config)).toThrow(ConfigError);
    expect(() => plan(config)).toThrow(message);
    expect(() => plan(config)).toThrow(/^\/fleet\/wgqt\.toml: /);
  });

  it("a malformed public key", () => {
    expect(() => plan(seedConfig(), { nyaa: "not-a-key" })).toThrow(KeyError);
    expect(() => plan(seedConfig(), { nyaa: "not-a-key" })).toThrow(
      /public key of machine "nyaa": expected 44 characters of base64 \(32 bytes\), got "not-a-key"/,
    );
  });

  it("one proxy default = true for a client is fine and recorded", () => {
    const config = seedConfig();
    config.proxies.germany!.default = true;
    expect(plan(config).networks.map((n) => n.default)).toEqual([false, true]);
  });
});

/** An arbitrary fleet: up to 12 machines, up to 8 proxies of up to 13 clients. */
const fleetArbitrary = fc
  .record({
    machineCount: fc.integer({ min: 2, max: 12 }),
    proxies: fc.array(
      fc.record({ gateway: fc.nat(), clients: fc.array(fc.nat(), { maxLength: 13 }) }),
      { minLength: 1, maxLength: 8 },
    ),
    names: fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9_-]{0,14}$/), {
      minLength: 8,
      maxLength: 8,
    }),
  })
  .map(({ machineCount, proxies, names }) => {
    const machines = Array.from({ length: machineCount }, (_, i) => `m${i}`);
    return {
      machines: Object.fromEntries(machines.map((m) => [m, { endpoint: `${m}.example.org` }])),
      proxies: Object.fromEntries(
        proxies.map((proxy, index) => {
          const gateway = machines[proxy.gateway % machineCount]!;
          const clients = [
            ...new Set(proxy.clients.map((c) => machines[c % machineCount]!)),
          ].filter((c) => c !== gateway);
          return [names[index]!, { gateway, clients }];
        }),
      ),
    };
  });

function shuffled<T>(items: T[], seed: number): T[] {
  const copy = [...items];
  let state = seed;
  for (let i = copy.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

describe("properties", () => {
  it("blocks never overlap, each is aligned to its size, members sit inside their block", () => {
    fc.assert(
      fc.property(fleetArbitrary, (fleet) => {
        const planned = plan(makeConfig(fleet));
        const blocks = planned.networks.map((network) => {
          const start = parseIpv4(network.cidr.split("/")[0]!)!;
          expect(network.size).toBe(2 ** (32 - network.prefixLength));
          expect(start % network.size).toBe(0);
          const addresses = network.members.map((m) => parseIpv4(m.address)!);
          expect(new Set(addresses).size).toBe(addresses.length);
          for (const address of addresses) {
            expect(address).toBeGreaterThan(start);
            expect(address).toBeLessThan(start + network.size - 1);
          }
          return [start, start + network.size] as const;
        });
        const sorted = [...blocks].sort((a, b) => a[0] - b[0]);
        for (let i = 1; i < sorted.length; i++)
          expect(sorted[i]![0]).toBeGreaterThanOrEqual(sorted[i - 1]![1]);
        expect(planned.networks.map((n) => n.id)).toEqual(planned.networks.map((_, i) => i));
        expect(new Set(planned.networks.map((n) => n.port)).size).toBe(planned.networks.length);
      }),
    );
  });

  it("every host computes the same plan whatever order the config lists things in", () => {
    fc.assert(
      fc.property(fleetArbitrary, fc.integer({ min: 1, max: 2 ** 30 }), (fleet, seed) => {
        const reordered = {
          machines: Object.fromEntries(shuffled(Object.entries(fleet.machines), seed)),
          proxies: Object.fromEntries(
            shuffled(Object.entries(fleet.proxies), seed + 1).map(([name, proxy]) => [
              name,
              { ...proxy, clients: shuffled(proxy.clients, seed + 2) },
            ]),
          ),
        };
        expect(JSON.stringify(plan(makeConfig(reordered)))).toBe(
          JSON.stringify(plan(makeConfig(fleet))),
        );
      }),
    );
  });

  it("overflow past the address space or the port range is an error, never a wrap", () => {
    // Starts near the end of each room, aligned to 16 (the largest block here).
    const ends = [
      "10.255.255.255",
      "172.31.255.255",
      "192.168.255.255",
      "100.127.255.255",
      "255.255.255.255",
    ];
    fc.assert(
      fc.property(
        fleetArbitrary,
        fc.constantFrom(...ends),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 65528, max: 65535 }),
        (fleet, end, blocksBeforeEnd, udpStart) => {
          const last = parseIpv4(end)!;
          const start = last + 1 - 16 * blocksBeforeEnd;
          const ipv4Start = [24, 16, 8, 0].map((s) => Math.floor(start / 2 ** s) % 256).join(".");
          const config = makeConfig({ ...fleet, ipv4Start, udpStart });
          const sizes = Object.values(fleet.proxies).map((p) => {
            let size = 1;
            while (size < p.clients.length + 3) size *= 2;
            return size;
          });
          const total = sizes.reduce((a, b) => a + b, 0);
          const room = addressRoom(start);
          const count = sizes.length;
          const fits = start + total - 1 <= room.last && udpStart + count - 1 <= 65535;
          if (!fits) {
            expect(() => plan(config)).toThrow(ConfigError);
            expect(() => plan(config)).toThrow(/no room for|is above 65535/);
            return;
          }
          const planned = plan(config);
          for (const network of planned.networks) {
            const blockStart = parseIpv4(network.cidr.split("/")[0]!)!;
            expect(blockStart).toBeGreaterThanOrEqual(start);
            expect(blockStart + network.size - 1).toBeLessThanOrEqual(room.last);
            expect(network.port).toBeLessThanOrEqual(65535);
            expect(network.port).toBeGreaterThanOrEqual(udpStart);
          }
        },
      ),
    );
  });
});
