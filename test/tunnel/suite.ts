/**
 * A real proxy fleet in network namespaces, configured from wgqt's rendered
 * output: the seed's fleet (finland via lighthouse, germany via tavern,
 * clients archive, nyaa, spark) plus an "internet" host that routes between
 * everyone and owns 198.51.100.100, the address clients browse to.
 *
 *              lighthouse 198.51.100.1/30 ─┐
 *                  tavern 198.51.100.5/30 ─┤
 *   archive 192.0.2.1/30, nyaa 192.0.2.5/30 ├─ internet (router, 198.51.100.100)
 *                      spark 192.0.2.9/30 ─┘
 *
 * Every link has IPv6 too (2001:db8:<n>::1/64 beside each address above; the
 * internet host owns 2001:db8:ffff::100; tavern's endpoint is its IPv6 address), and every host's main default routes,
 * both families, are its link to the internet host, so a packet that escapes a
 * tunnel arrives there from the client's own address — the internet host
 * counts sources (iptables and ip6tables counters) to tell NAT from leaks.
 * archive holds a wrong PSK for its pair with lighthouse.
 *
 * Everything runs three times, at rp_filter 0, 1 (strict) and 2 (loose) on
 * every interface of every host (see netns.ts): the conditions of real hosts,
 * where a client of several tunnels needs its tunnels' marks restored on the
 * way in (routing.ts). IPv6 has no rp_filter: distributions filter it in the
 * firewall instead (firewalld's IPv6_rpfilter, NixOS's checkReversePath, both
 * with the packet's mark), so at 1 and 2 every host also gets that rule, the
 * ip6tables rpfilter match (strict, or --loose).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostSecretFiles, hostView, plannedHosts } from "../../src/net/host.js";
import { plan as planFleet } from "../../src/net/plan.js";
import { DEFAULT_SECRETS_DIR, onHostKeyPath } from "../../src/render/common.js";
import { type RenderedFile, render } from "../../src/render/index.js";
import { presharedKeyFile } from "../../src/store/layout.js";
import { type Host, Lab, type ReversePathFilter, tunnelSkipReason } from "../helpers/netns.js";
import { seedConfig } from "../net/fleet.js";
import { applyNetworkd, applyNetworkdHost, hostFiles } from "./apply-networkd.js";
import { applyWgQuick } from "./apply-wgquick.js";
import { generateKeys, otherPresharedKey, removeTunnelStores, type TunnelKeys } from "./keys.js";

const UPLINK = { lighthouse: "198.51.100.1", tavern: "198.51.100.5" } as const;
const CLIENT_LAN = { archive: "192.0.2.1", nyaa: "192.0.2.5", spark: "192.0.2.9" } as const;
const INTERNET = "198.51.100.100";
/** Each link's IPv6 /64: the host's end is ::1, the internet host's ::2. */
const UPLINK6: Record<string, string> = {
  lighthouse: "2001:db8:1::",
  tavern: "2001:db8:2::",
  archive: "2001:db8:11::",
  nyaa: "2001:db8:12::",
  spark: "2001:db8:13::",
};
const INTERNET6 = "2001:db8:ffff::100";

type Source = "lighthouse" | "tavern" | "client address" | "tunnel address" | "other";
const SOURCES: [Source, string][] = [
  ["lighthouse", UPLINK.lighthouse],
  ["tavern", UPLINK.tavern],
  ["client address", "192.0.2.0/24"],
  ["tunnel address", "10.128.0.0/16"],
  ["other", "0.0.0.0/0"],
];
const SOURCES6: [Source, string][] = [
  ["lighthouse", `${UPLINK6.lighthouse}/64`],
  ["tavern", `${UPLINK6.tavern}/64`],
  ["client address", "2001:db8:10::/60"],
  ["tunnel address", "fd00::/8"],
  ["other", "::/0"],
];

/** Off, strict, loose (ip-sysctl.rst): every tunnel suite runs at each. */
export const REVERSE_PATH_FILTERS: ReversePathFilter[] = [0, 1, 2];

export function proxyTunnelSuite(format: "wg-quick" | "networkd"): void {
  const skip = tunnelSkipReason();
  describe.skipIf(skip !== undefined)(
    `a proxy fleet from the ${format} rendering${skip ? ` (skipped: ${skip})` : ""}`,
    () => {
      // One key store for the three runs: keygen is not what they test.
      let keys: Promise<TunnelKeys> | undefined;
      const sharedKeys = () => {
        keys ??= generateKeys(seedConfig(UPLINK));
        return keys;
      };
      afterAll(() => removeTunnelStores());
      describe.each(REVERSE_PATH_FILTERS)("at rp_filter %i", (reversePathFilter) =>
        proxyFleet(format, reversePathFilter, sharedKeys),
      );
    },
  );
}

function proxyFleet(
  format: "wg-quick" | "networkd",
  reversePathFilter: ReversePathFilter,
  sharedKeys: () => Promise<TunnelKeys>,
): void {
  let lab: Lab | undefined;
  const hosts: Record<string, Host> = {};
  const publicKeys: Record<string, string> = {};
  const host = (name: string) => hosts[name]!;
  let files: RenderedFile[] = [];
  /** A member's ULA address on a network, from the plan. */
  const ula: Record<string, string> = {};

  /** Bring up one interface of `name` exactly as rendered. */
  const bringUp = async (name: string, network: string): Promise<void> => {
    if (format === "wg-quick") {
      const file = files.find((f) => f.path === `${name}/${network}.conf`)!;
      await applyWgQuick(host(name), network, file.content);
      return;
    }
    const base = `${name}/50-wgqt-${network}`;
    const netdev = files.find((f) => f.path === `${base}.netdev`)!;
    const unit = files.find((f) => f.path === `${base}.network`)!;
    await applyNetworkd(host(name), netdev.content, unit.content);
  };

  beforeAll(async () => {
    lab = new Lab({ reversePathFilter });
    // germany's gateway is reached over IPv6: its encrypted UDP must pass IPv6
    // reverse-path filtering on clients whose default tunnel is finland.
    const config = seedConfig({ lighthouse: UPLINK.lighthouse, tavern: `${UPLINK6.tavern}1` });
    const keys = await sharedKeys();
    Object.assign(publicKeys, keys.publicKeys);
    const plan = planFleet(config, keys.publicKeys);
    for (const network of plan.networks)
      for (const member of network.members)
        ula[`${network.name}/${member.machine}`] = member.address6!;
    files = render(plan, config, { format });
    const wrongPsk = await otherPresharedKey();

    hosts.internet = await lab.host("internet");
    for (const name of plannedHosts(plan)) hosts[name] = await lab.host(name);
    const links: [string, string][] = [...Object.entries(UPLINK), ...Object.entries(CLIENT_LAN)];
    for (const [name, address] of links) {
      const peer = address.replace(/\d+$/, (last) => String(Number(last) + 1));
      await lab.link(host(name), "uplink0", `${address}/30`, host("internet"), name, `${peer}/30`);
      await host(name).run(`ip route add default via ${peer}`);
      const prefix = UPLINK6[name]!;
      await host(name).run(
        `ip -6 address add ${prefix}1/64 dev uplink0 nodad && ip -6 route add default via ${prefix}2`,
      );
      await host("internet").run(`ip -6 address add ${prefix}2/64 dev ${name} nodad`);
      if (reversePathFilter !== 0) await host(name).run(ipv6ReversePathFilter(reversePathFilter));
    }
    await host("internet").run(
      [
        "sysctl -q -w net.ipv4.ip_forward=1",
        "sysctl -q -w net.ipv6.conf.all.forwarding=1",
        `ip address add ${INTERNET}/32 dev lo`,
        `ip -6 address add ${INTERNET6}/128 dev lo`,
        "iptables -N WGQT_SEEN",
        `iptables -A INPUT -d ${INTERNET} -p icmp --icmp-type echo-request -j WGQT_SEEN`,
        ...SOURCES.map(([, source]) => `iptables -A WGQT_SEEN -s ${source} -j RETURN`),
        "ip6tables -N WGQT_SEEN",
        `ip6tables -A INPUT -d ${INTERNET6} -p ipv6-icmp --icmpv6-type echo-request -j WGQT_SEEN`,
        ...SOURCES6.map(([, source]) => `ip6tables -A WGQT_SEEN -s ${source} -j RETURN`),
        ...(reversePathFilter === 0 ? [] : [ipv6ReversePathFilter(reversePathFilter)]),
      ].join(" && "),
    );

    // Gateways first, as in life: a client's first handshake then gets an answer.
    const gatewaysFirst = plannedHosts(plan).sort(
      (a, b) => Number(b in UPLINK) - Number(a in UPLINK),
    );
    for (const name of gatewaysFirst) {
      const view = hostView(plan, config, name);
      for (const storeFile of hostSecretFiles(view)) {
        const wrong = name === "archive" && storeFile === presharedKeyFile("archive", "lighthouse");
        const secret = wrong ? wrongPsk : await keys.secret(name, storeFile);
        const path = onHostKeyPath(DEFAULT_SECRETS_DIR, storeFile);
        await host(name).run(`mkdir -p "$(dirname ${path})" && umask 077 && cat > ${path}`, {
          input: `${secret}\n`,
        });
      }
      if (format === "networkd") await applyNetworkdHost(host(name), hostFiles(files, name));
      for (const entry of view.interfaces) {
        await bringUp(name, entry.name);
        const bridge = entry.routing?.bridge;
        if (format === "networkd" && bridge !== undefined) await bringUp(name, bridge.name);
      }
    }
    await lab.enforceReversePathFilter();
  });

  afterAll(async () => {
    await lab?.cleanup();
  });

  /**
   * True when `to` answers within the deadline: a first handshake may wait
   * for WireGuard's retry (REKEY_TIMEOUT, 5 s), so a reachable peer gets 8 s,
   * and an unreachable one is given up on after 3.
   */
  const ping = async (from: string, to: string, source?: string, deadline = 8) =>
    (
      await host(from).run(`ping -n -q -c 1 -w ${deadline} ${source ? `-I ${source} ` : ""}${to}`, {
        allowFailure: true,
      })
    ).code === 0;
  const unreachable = async (from: string, to: string) => !(await ping(from, to, undefined, 3));

  /**
   * Which sources the internet host saw echo requests from during `action`,
   * IPv4 and IPv6 (`ip6tables`) apart.
   */
  const seenDuring = async (
    action: () => Promise<unknown>,
    family: "iptables" | "ip6tables" = "iptables",
  ): Promise<Partial<Record<Source, number>>> => {
    await host("internet").run(`${family} -Z WGQT_SEEN`);
    await action();
    const listing = (await host("internet").run(`${family} -L WGQT_SEEN -n -v -x`)).stdout;
    const seen: Partial<Record<Source, number>> = {};
    const rows = listing
      .split("\n")
      .slice(2)
      .filter((line) => line.trim() !== "");
    const sources = family === "iptables" ? SOURCES : SOURCES6;
    rows.forEach((row, index) => {
      const packets = Number(row.trim().split(/\s+/)[0]);
      if (packets > 0) seen[sources[index]![0]] = packets;
    });
    return seen;
  };
  const seen6During = (action: () => Promise<unknown>) => seenDuring(action, "ip6tables");

  const latestHandshake = async (on: string, network: string, peer: string) => {
    const output = (await host(on).run(`wg show ${network} latest-handshakes`)).stdout;
    const line = output.split("\n").find((entry) => entry.startsWith(publicKeys[peer]!));
    return Number(line?.split("\t")[1]);
  };

  it("clients and gateways reach each other over the tunnels", async () => {
    expect(await ping("spark", "10.128.0.1")).toBe(true); // finland's gateway
    expect(await ping("spark", "10.128.0.9")).toBe(true); // germany's gateway
    expect(await ping("nyaa", "10.128.0.1")).toBe(true);
    expect(await ping("nyaa", "10.128.0.9")).toBe(true);
    expect(await ping("lighthouse", "10.128.0.4")).toBe(true); // spark on finland
    expect(await ping("tavern", "10.128.0.11")).toBe(true); // nyaa on germany
    expect(await ping("tavern", "10.128.0.10")).toBe(true); // archive on germany
    expect(await latestHandshake("spark", "finland", "lighthouse")).toBeGreaterThan(0);
  });

  it("the internet sees a client's traffic from its gateway's uplink (NAT), never from the client", async () => {
    // spark's default route is finland: lowest id, no `default = true` anywhere.
    const seen = await seenDuring(async () => expect(await ping("spark", INTERNET)).toBe(true));
    expect(seen).toEqual({ lighthouse: expect.any(Number) });
  });

  it("clients and gateways reach each other's ULA addresses over the tunnels (IPv6)", async () => {
    expect(await ping("spark", ula["finland/lighthouse"]!)).toBe(true);
    expect(await ping("spark", ula["germany/tavern"]!)).toBe(true);
    expect(await ping("nyaa", ula["germany/tavern"]!)).toBe(true);
    expect(await ping("lighthouse", ula["finland/spark"]!)).toBe(true);
    expect(await ping("tavern", ula["germany/nyaa"]!)).toBe(true);
  });

  it("the internet sees a client's IPv6 from its gateway's IPv6 uplink (NAT66), never from the client", async () => {
    const seen = await seen6During(async () => expect(await ping("spark", INTERNET6)).toBe(true));
    expect(seen).toEqual({ lighthouse: expect.any(Number) });
  });

  it("a gateway without IPv6 uplink: the client's IPv6 goes nowhere, never around the tunnel", async () => {
    await host("lighthouse").run(`ip -6 route del default via ${UPLINK6.lighthouse}2`);
    try {
      const seen = await seen6During(async () =>
        expect(await unreachable("spark", INTERNET6)).toBe(true),
      );
      expect(seen).toEqual({});
      // IPv4 is unaffected.
      expect(await ping("spark", INTERNET)).toBe(true);
    } finally {
      await host("lighthouse").run(`ip -6 route add default via ${UPLINK6.lighthouse}2`);
    }
    const seen = await seen6During(async () => expect(await ping("spark", INTERNET6)).toBe(true));
    expect(seen).toEqual({ lighthouse: expect.any(Number) });
  });

  it("a client with a wrong preshared key gets no handshake", async () => {
    expect(await unreachable("archive", "10.128.0.1")).toBe(true);
    expect(await latestHandshake("archive", "finland", "lighthouse")).toBe(0);
    expect(await latestHandshake("lighthouse", "finland", "archive")).toBe(0);
    // Same client, same renderer, the right PSK: germany works.
    expect(await ping("archive", "10.128.0.9")).toBe(true);
    expect(await latestHandshake("archive", "germany", "tavern")).toBeGreaterThan(0);
  });

  it("a client of two proxies: default traffic via the default proxy, policy by source via the other", async () => {
    const viaDefault = await seenDuring(async () =>
      expect(await ping("nyaa", INTERNET)).toBe(true),
    );
    expect(viaDefault).toEqual({ lighthouse: expect.any(Number) });
    const byPolicy = await seenDuring(async () =>
      expect(await ping("nyaa", INTERNET, "10.128.0.11")).toBe(true),
    );
    expect(byPolicy).toEqual({ tavern: expect.any(Number) });
    const byPolicy6 = await seen6During(async () =>
      expect(await ping("nyaa", INTERNET6, ula["germany/nyaa"])).toBe(true),
    );
    expect(byPolicy6).toEqual({ tavern: expect.any(Number) });
    const rules = (await host("nyaa").run("ip -4 rule show")).stdout;
    expect(rules).toContain("from 10.128.0.11 lookup 52101");
    expect((await host("nyaa").run("ip -4 route show default")).stdout).not.toContain("finland");
    // germany's own encrypted packets left by nyaa's uplink, not inside finland's tunnel.
    const endpoints = (await host("tavern").run("wg show germany endpoints")).stdout;
    expect(endpoints).toContain(`${publicKeys.nyaa}\t[${UPLINK6.nyaa}1]:16843`);
  });

  it("a tunnel that is gone drops its traffic instead of leaking it", async () => {
    await host("nyaa").run("ip link del finland");
    const seen = await seenDuring(async () =>
      expect(await unreachable("nyaa", INTERNET)).toBe(true),
    );
    expect(seen).toEqual({});
    const seen6 = await seen6During(async () =>
      expect(await unreachable("nyaa", INTERNET6)).toBe(true),
    );
    expect(seen6).toEqual({});
    // The other tunnel still carries what policy sends it.
    const byPolicy = await seenDuring(async () =>
      expect(await ping("nyaa", INTERNET, "10.128.0.11")).toBe(true),
    );
    expect(byPolicy).toEqual({ tavern: expect.any(Number) });
  });

  it("with the default tunnel gone, another one comes up, shakes hands and carries traffic, and nothing leaks", async () => {
    // finland (nyaa's default) is gone since the test above; germany starts over, as after a
    // reboot with finland's gateway unreachable: its handshake must get through on its own.
    await host("nyaa").run("ip link del germany");
    const before = Math.floor(Date.now() / 1000);
    await bringUp("nyaa", "germany");
    await lab!.enforceReversePathFilter();
    const seen = await seenDuring(async () => {
      expect(await ping("nyaa", "10.128.0.9")).toBe(true); // germany's gateway
      expect(await ping("nyaa", INTERNET, "10.128.0.11")).toBe(true);
      expect(await unreachable("nyaa", INTERNET)).toBe(true);
    });
    expect(seen).toEqual({ tavern: expect.any(Number) });
    const seen6 = await seen6During(async () =>
      expect(await unreachable("nyaa", INTERNET6)).toBe(true),
    );
    expect(seen6).toEqual({});
    expect(await latestHandshake("nyaa", "germany", "tavern")).toBeGreaterThanOrEqual(before);
  });
}

/**
 * The IPv6 counterpart of rp_filter 1 or 2 on a real host: its firewall drops
 * what fails a reverse-path lookup that uses the packet's mark (NixOS's
 * networking.firewall.checkReversePath, firewalld's IPv6_rpfilter), appended
 * to mangle PREROUTING as NixOS does, so marks restored earlier in that hook
 * count.
 */
export function ipv6ReversePathFilter(value: 1 | 2): string {
  return `ip6tables -t mangle -A PREROUTING -m rpfilter --validmark ${value === 2 ? "--loose " : ""}--invert -j DROP`;
}

/**
 * The VPN suites' internet host, as one shell command: forwarding for both
 * families, its addresses on lo, and a WGQT_SEEN chain per family that counts
 * every packet for it by source (`sources`, `sources6`), whatever the protocol.
 */
export function internetHostCommand(
  internet: string,
  internet6: string,
  sources: readonly (readonly [string, string])[],
  sources6: readonly (readonly [string, string])[],
  reversePathFilter: 0 | 1 | 2,
): string {
  return [
    "sysctl -q -w net.ipv4.ip_forward=1",
    "sysctl -q -w net.ipv6.conf.all.forwarding=1",
    `ip address add ${internet}/32 dev lo`,
    `ip -6 address add ${internet6}/128 dev lo`,
    "iptables -N WGQT_SEEN",
    `iptables -A INPUT -d ${internet} -j WGQT_SEEN`,
    ...sources.map(([, source]) => `iptables -A WGQT_SEEN -s ${source} -j RETURN`),
    "ip6tables -N WGQT_SEEN",
    `ip6tables -A INPUT -d ${internet6} -j WGQT_SEEN`,
    ...sources6.map(([, source]) => `ip6tables -A WGQT_SEEN -s ${source} -j RETURN`),
    ...(reversePathFilter === 0 ? [] : [ipv6ReversePathFilter(reversePathFilter)]),
  ].join(" && ");
}
