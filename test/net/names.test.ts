/**
 * Names (net/names.ts): every member of a host's proxies and meshes as
 * `<machine>.<network>`, its own names included, with both addresses where
 * the network has IPv6; none for a VPN. Each network's names are made once
 * and shared by its members' views.
 */
import { describe, expect, it } from "vitest";
import { hostView } from "../../src/net/host.js";
import { type HostName, hostsLines, namesOf, networkNames } from "../../src/net/names.js";
import { plan } from "../../src/net/plan.js";
import {
  fakePublicKey,
  makeConfig,
  meshConfig,
  meshPublicKeys,
  seedConfig,
  seedPublicKeys,
} from "./fleet.js";

/** The names a host knows, network by network, as one list. */
const allNames = (names: { names: HostName[] }[] | undefined): HostName[] =>
  (names ?? []).flatMap((entry) => entry.names);

describe("names", () => {
  const config = seedConfig();
  const planned = plan(config, seedPublicKeys());
  const network = (name: string) => planned.networks.find((entry) => entry.name === name)!;
  const member = (net: string, machine: string) =>
    network(net).members.find((entry) => entry.machine === machine)!;

  it("gives a machine in several networks one name in each, with that network's addresses", () => {
    const names = allNames(hostView(planned, config, "nyaa").names);
    for (const net of ["finland", "germany"]) {
      expect(names.find((entry) => entry.name === `spark.${net}`)).toEqual({
        name: `spark.${net}`,
        address: member(net, "spark").address,
        address6: member(net, "spark").address6,
      });
    }
  });

  it("names every member of the host's networks, its own names and a proxy's gateway too", () => {
    // Network by network in byte order of the network, each in byte order of the name.
    expect(allNames(hostView(planned, config, "nyaa").names).map((entry) => entry.name)).toEqual([
      "archive.finland",
      "lighthouse.finland",
      "nyaa.finland",
      "spark.finland",
      "archive.germany",
      "nyaa.germany",
      "spark.germany",
      "tavern.germany",
    ]);
    expect(hostView(planned, config, "nyaa").names!.map((entry) => entry.machines)).toEqual([
      ["archive", "lighthouse", "nyaa", "spark"],
      ["archive", "nyaa", "spark", "tavern"],
    ]);
    // A gateway knows its clients by name, and not the other proxy's gateway.
    expect(allNames(hostView(planned, config, "tavern").names).map((entry) => entry.name)).toEqual([
      "archive.germany",
      "nyaa.germany",
      "spark.germany",
      "tavern.germany",
    ]);
  });

  it("gives both families where the network has IPv6, the IPv4 address only with ipv6 = false", () => {
    const mesh = meshConfig();
    const meshPlan = plan(mesh, meshPublicKeys());
    const names = allNames(hostView(meshPlan, mesh, "desk").names);
    const lab = meshPlan.networks.find((entry) => entry.name === "lab")!;
    const home = meshPlan.networks.find((entry) => entry.name === "home")!;
    expect(names.find((entry) => entry.name === "vps.lab")).toEqual({
      name: "vps.lab",
      address: lab.members.find((entry) => entry.machine === "vps")!.address,
    });
    const vpsHome = home.members.find((entry) => entry.machine === "vps")!;
    expect(names.find((entry) => entry.name === "vps.home")).toEqual({
      name: "vps.home",
      address: vpsHome.address,
      address6: vpsHome.address6,
    });
    expect(hostsLines(names.filter((entry) => entry.name.startsWith("vps.")))).toEqual([
      `${vpsHome.address} vps.home`,
      `${vpsHome.address6} vps.home`,
      `${lab.members.find((entry) => entry.machine === "vps")!.address} vps.lab`,
    ]);
  });

  it("gives a VPN no names: the provider's server is no machine of the fleet", () => {
    const withVpn = makeConfig({
      machines: { roamer: {} },
      proxies: {},
      vpns: {
        "us-west": {
          machines: ["roamer"],
          id: 1,
          endpoint: "198.51.100.7:51820",
          publicKey: fakePublicKey("provider:us-west"),
          address: "10.64.1.2/32",
          dns: ["10.64.0.1"],
          allowedIPs: ["0.0.0.0/0"],
          presharedKey: false,
        },
      },
    });
    const view = hostView(plan(withVpn, { roamer: fakePublicKey("roamer") }), withVpn, "roamer");
    expect(view.interfaces).toHaveLength(1);
    expect(view.names).toBeUndefined();
  });

  it("is the same whatever order the networks come in, and one entry per machine and network", () => {
    const networks = [network("germany"), network("finland")];
    expect(networkNames(networks)).toEqual(networkNames([...networks].reverse()));
    const doubled = {
      ...network("germany"),
      members: [...network("germany").members, member("germany", "nyaa")],
    };
    expect(networkNames([doubled])).toEqual(networkNames([network("germany")]));
    expect(networkNames([network("germany"), network("germany")])).toEqual([
      namesOf(network("germany")),
    ]);
  });

  it("makes each network's names once, shared by the views of all its members", () => {
    const germany = namesOf(network("germany"));
    for (const host of ["archive", "nyaa", "spark", "tavern"]) {
      expect(hostView(planned, config, host).names).toContain(germany);
    }
    expect(germany.names.map((entry) => entry.name)).toEqual(
      [...germany.names.map((entry) => entry.name)].sort(),
    );
  });
});
