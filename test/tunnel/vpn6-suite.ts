/**
 * VPNs whose provider gives IPv6, and bridges' IPv6, in network namespaces,
 * from wgqt's rendered output. One provider namespace runs wireguard-go with
 * three peers, each a device of nyaa imported with `wgqt vpn import`:
 *
 *   provider 198.51.100.1/30, 2001:db8:1::1/64 ─┐  (wg0 10.64.0.1/16, fc00:bbbb:bbbb:bb01::1/64:
 *                                               │   NAT44 and NAT66 out of its uplink)
 *       nyaa 192.0.2.1/30, 2001:db8:12::1/64 ───┴─ internet (counts sources per family)
 *        │ north (id 1, dual-stack): nyaa's default route
 *        │ east  (id 2, dual-stack): br-east, <prefix>:b002::1/64 ── box6 (::2)
 *        │ south (id 3, IPv4 only):  br-south, <prefix>:b003::1/64 ── box4 (::2)
 *
 * nyaa's IPv6 must reach the internet host from the provider's IPv6 address,
 * never from nyaa's own; box6's goes through east (the provider sees it from
 * east's address, after nyaa's NAT66); box4's, with a provider that gives
 * south no IPv6, goes nowhere. With north taken down (kill switch) and with
 * east gone, nothing leaks. At rp_filter 0, 1 and 2 (suite.ts).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bridge } from "../../src/net/bridge.js";
import { hostSecretFiles, hostView } from "../../src/net/host.js";
import { plan as planFleet } from "../../src/net/plan.js";
import { DEFAULT_SECRETS_DIR, onHostKeyPath } from "../../src/render/common.js";
import { type RenderedFile, render } from "../../src/render/index.js";
import { loadConfig } from "../../src/store/config-file.js";
import { openKeyStore } from "../../src/store/keystore.js";
import {
  type Host,
  Lab,
  type ReversePathFilter,
  runCommand,
  tunnelSkipReason,
} from "../helpers/netns.js";
import { wgqt } from "../helpers/run.js";
import { makeConfig } from "../net/fleet.js";
import { applyNetworkd, applyNetworkdHost, downNetworkd, hostFiles } from "./apply-networkd.js";
import { applyWgQuick, downWgQuick } from "./apply-wgquick.js";
import { makeTunnelStore, removeTunnelStores } from "./keys.js";
import { internetHostCommand, ipv6ReversePathFilter, REVERSE_PATH_FILTERS } from "./suite.js";

const PROVIDER = "198.51.100.1";
const PROVIDER6 = "2001:db8:1::1";
const NYAA = "192.0.2.1";
const NYAA6 = "2001:db8:12::1";
const INTERNET = "198.51.100.100";
const INTERNET6 = "2001:db8:ffff::100";
const TUNNEL6 = "fc00:bbbb:bbbb:bb01";
/** `ip route get` meeting an unreachable route (EHOSTUNREACH, or ENETUNREACH). */
const UNROUTED = /^RTNETLINK answers: (No route to host|Network is unreachable)$/m;

/** nyaa's devices at the provider: IPv4 and (none for south) IPv6 tunnel addresses. */
const DEVICES = {
  north: { address: "10.64.1.2", address6: `${TUNNEL6}::1:2` },
  east: { address: "10.64.1.3", address6: `${TUNNEL6}::1:3` },
  south: { address: "10.64.1.4", address6: undefined },
} as const;
type Vpn = keyof typeof DEVICES;

type Source = "provider" | "nyaa's uplink" | "other";
const SOURCES: [Source, string][] = [
  ["provider", PROVIDER],
  ["nyaa's uplink", NYAA],
  ["other", "0.0.0.0/0"],
];
const SOURCES6: [Source, string][] = [
  ["provider", "2001:db8:1::/64"],
  ["nyaa's uplink", "2001:db8:12::/64"],
  ["other", "::/0"],
];

const wg = async (args: string[], input?: string) =>
  (await runCommand("wg", args, input === undefined ? {} : { input })).stdout.trim();

export function vpn6TunnelSuite(format: "wg-quick" | "networkd"): void {
  const skip = tunnelSkipReason();
  describe.skipIf(skip !== undefined)(
    `VPNs with and without IPv6, and their bridges, from the ${format} rendering${skip ? ` (skipped: ${skip})` : ""}`,
    () => {
      describe.each(REVERSE_PATH_FILTERS)("at rp_filter %i", (reversePathFilter) =>
        vpn6Fleet(format, reversePathFilter),
      );
    },
  );
}

function vpn6Fleet(format: "wg-quick" | "networkd", reversePathFilter: ReversePathFilter): void {
  let lab: Lab | undefined;
  const hosts: Record<string, Host> = {};
  const host = (name: string) => hosts[name]!;
  let files: RenderedFile[] = [];
  const bridges: Partial<Record<Vpn, Bridge>> = {};
  const bridge = (vpn: Vpn) => bridges[vpn]!;

  const unitFiles = (network: string) => {
    if (format === "wg-quick")
      return { conf: files.find((f) => f.path === `nyaa/${network}.conf`)! };
    const base = `nyaa/50-wgqt-${network}`;
    return {
      netdev: files.find((f) => f.path === `${base}.netdev`)!,
      network: files.find((f) => f.path === `${base}.network`)!,
    };
  };
  const bringUp = async (network: string): Promise<void> => {
    const unit = unitFiles(network);
    if (unit.conf !== undefined) await applyWgQuick(host("nyaa"), network, unit.conf.content);
    else await applyNetworkd(host("nyaa"), unit.netdev!.content, unit.network!.content);
  };
  /** Down on purpose, as the rendered file says (a VPN keeps its kill switch). */
  const takeDown = async (network: string): Promise<void> => {
    const unit = unitFiles(network);
    if (unit.conf !== undefined) return downWgQuick(host("nyaa"), network, unit.conf.content);
    await downNetworkd(host("nyaa"), unit.netdev!.content, unit.network!.content);
  };
  /** Attach a namespace to one of nyaa's bridges, with the bridge's ::2 and .2. */
  const attach = async (box: string, to: Bridge): Promise<void> => {
    const port = `${box}p`;
    await runCommand("ip", [
      ...["link", "add", "eth0", "netns", host(box).namespace, "type", "veth"],
      ...["peer", "name", port, "netns", host("nyaa").namespace],
    ]);
    await host("nyaa").run(`ip link set ${port} master ${to.name} && ip link set ${port} up`);
    await host(box).run(
      [
        `ip address add ${to.address.replace(/\.1$/, ".2")}/${to.prefixLength} dev eth0`,
        `ip -6 address add ${to.address6!.replace(/::1$/, "::2")}/${to.prefixLength6} dev eth0 nodad`,
        "ip link set eth0 up",
        `ip route add default via ${to.address}`,
        `ip -6 route add default via ${to.address6}`,
      ].join(" && "),
    );
  };

  beforeAll(async () => {
    lab = new Lab({ reversePathFilter });
    const store = await makeTunnelStore(makeConfig({ machines: { nyaa: {} }, proxies: {} }));
    const serverKey = await wg(["genkey"]);
    const serverPublic = await wg(["pubkey"], `${serverKey}\n`);
    const peers: string[] = [];
    for (const [vpn, device] of Object.entries(DEVICES) as [Vpn, (typeof DEVICES)[Vpn]][]) {
      const key = await wg(["genkey"]);
      const file = join(store.dir, `${vpn}.conf`);
      const six = device.address6 !== undefined;
      writeFileSync(
        file,
        [
          "[Interface]",
          `PrivateKey = ${key}`,
          `Address = ${device.address}/32${six ? `, ${device.address6}/128` : ""}`,
          "DNS = 10.64.0.1",
          "",
          "[Peer]",
          `PublicKey = ${serverPublic}`,
          `AllowedIPs = 0.0.0.0/0${six ? ", ::/0" : ""}`,
          `Endpoint = ${PROVIDER}:51820`,
          "",
        ].join("\n"),
        { mode: 0o600 },
      );
      const imported = wgqt(store.dir, "vpn", "import", vpn, "--from", file, "--machine", "nyaa");
      if (imported.status !== 0) throw new Error(`wgqt vpn import failed: ${imported.stderr}`);
      const allowed = `${device.address}/32${six ? `,${device.address6}/128` : ""}`;
      peers.push(`peer ${await wg(["pubkey"], `${key}\n`)} allowed-ips ${allowed}`);
    }
    const config = await loadConfig(store.dir);
    const planned = planFleet(config, (await openKeyStore(config.keysDir)).publicKeys());
    files = render(planned, config, { format });
    const view = hostView(planned, config, "nyaa");
    for (const vpn of ["east", "south"] as const)
      bridges[vpn] = view.interfaces.find((entry) => entry.name === vpn)!.routing!.bridge!;

    for (const name of ["internet", "provider", "nyaa", "box6", "box4"])
      hosts[name] = await lab.host(name);
    for (const [name, address, address6] of [
      ["provider", PROVIDER, PROVIDER6],
      ["nyaa", NYAA, NYAA6],
    ] as const) {
      const peer = address.replace(/\d+$/, (last) => String(Number(last) + 1));
      const peer6 = address6.replace(/1$/, "2");
      await lab.link(host(name), "uplink0", `${address}/30`, host("internet"), name, `${peer}/30`);
      await host(name).run(
        `ip route add default via ${peer} && ip -6 address add ${address6}/64 dev uplink0 nodad && ip -6 route add default via ${peer6}`,
      );
      await host("internet").run(`ip -6 address add ${peer6}/64 dev ${name} nodad`);
      if (reversePathFilter !== 0) await host(name).run(ipv6ReversePathFilter(reversePathFilter));
    }
    await host("internet").run(
      internetHostCommand(INTERNET, INTERNET6, SOURCES, SOURCES6, reversePathFilter),
    );

    // The provider: one server, nyaa's three devices, NAT44 and NAT66 to the internet;
    // it counts forwarded IPv6 by the tunnel address it came from.
    await host("provider").run("umask 077 && cat > /etc/wireguard/server.key", {
      input: `${serverKey}\n`,
    });
    await host("provider").run(
      [
        "wireguard-go wg0 >/dev/null 2>&1",
        `wg set wg0 listen-port 51820 private-key /etc/wireguard/server.key ${peers.join(" ")}`,
        "ip address add 10.64.0.1/16 dev wg0",
        `ip -6 address add ${TUNNEL6}::1/64 dev wg0 nodad`,
        "ip link set wg0 up",
        "sysctl -q -w net.ipv4.ip_forward=1",
        "sysctl -q -w net.ipv6.conf.all.forwarding=1",
        "iptables -t nat -A POSTROUTING -s 10.64.0.0/16 -o uplink0 -j MASQUERADE",
        `ip6tables -t nat -A POSTROUTING -s ${TUNNEL6}::/64 -o uplink0 -j MASQUERADE`,
        "ip6tables -N WGQT_FROM",
        "ip6tables -A FORWARD -i wg0 -j WGQT_FROM",
        `ip6tables -A WGQT_FROM -s ${DEVICES.north.address6} -j RETURN`,
        `ip6tables -A WGQT_FROM -s ${DEVICES.east.address6} -j RETURN`,
        "ip6tables -A WGQT_FROM -j RETURN",
      ].join(" && "),
    );

    for (const storeFile of hostSecretFiles(view)) {
      const path = onHostKeyPath(DEFAULT_SECRETS_DIR, storeFile);
      await host("nyaa").run(`mkdir -p "$(dirname ${path})" && umask 077 && cat > ${path}`, {
        input: `${await store.secret("nyaa", storeFile)}\n`,
      });
    }
    if (format === "networkd") await applyNetworkdHost(host("nyaa"), hostFiles(files, "nyaa"));
    for (const vpn of Object.keys(DEVICES)) await bringUp(vpn);
    if (format === "networkd") {
      for (const vpn of ["east", "south"] as const) await bringUp(bridge(vpn).name);
    }
    await attach("box6", bridge("east"));
    await attach("box4", bridge("south"));
    await lab.enforceReversePathFilter();
  });

  afterAll(async () => {
    try {
      await lab?.cleanup();
    } finally {
      removeTunnelStores();
    }
  });

  const ping = async (from: string, to: string, deadline = 8) =>
    (await host(from).run(`ping -n -q -c 1 -w ${deadline} ${to}`, { allowFailure: true })).code ===
    0;

  /** Which sources the internet host saw during `action`, per family. */
  const seenDuring = async (
    action: () => Promise<unknown>,
    family: "iptables" | "ip6tables" = "iptables",
  ): Promise<Partial<Record<Source, number>>> => {
    await host("internet").run(`${family} -Z WGQT_SEEN`);
    await action();
    return counters(
      (await host("internet").run(`${family} -L WGQT_SEEN -n -v -x`)).stdout,
      (family === "iptables" ? SOURCES : SOURCES6).map(([source]) => source),
    );
  };
  const seen6During = (action: () => Promise<unknown>) => seenDuring(action, "ip6tables");
  /** Which of nyaa's tunnel addresses the provider forwarded IPv6 from during `action`. */
  const providerSawDuring = async (action: () => Promise<unknown>) => {
    await host("provider").run("ip6tables -Z WGQT_FROM");
    await action();
    return counters((await host("provider").run("ip6tables -L WGQT_FROM -n -v -x")).stdout, [
      "north",
      "east",
      "other",
    ]);
  };
  /** Where nyaa routes IPv6 from a box's address arriving on its bridge (`ip -6 route get`). */
  const routeFromBridge = async (vpn: Vpn) => {
    const { address6, name } = bridge(vpn);
    const from = address6!.replace(/::1$/, "::2");
    const result = await host("nyaa").run(`ip -6 route get ${INTERNET6} from ${from} iif ${name}`, {
      allowFailure: true,
    });
    return `${result.stdout}${result.stderr}`;
  };
  /** ICMP, UDP and TCP over IPv6 from `from` to the internet host, none of which may arrive. */
  const tryIpv6 = async (from: string) => {
    expect(await ping(from, INTERNET6, 3)).toBe(false);
    await host(from).run(
      `echo leak > /dev/udp/${INTERNET6}/53; timeout 3 bash -c 'echo > /dev/tcp/${INTERNET6}/80'`,
      { allowFailure: true },
    );
  };

  it("east's bridge is dual-stack with NAT66 to east's address; south's has its /64 and no NAT66", () => {
    expect(bridge("east")).toMatchObject({
      name: "br-east",
      cidr: "10.20.2.0/24",
      cidr6: expect.stringMatching(/^fd[0-9a-f:]+:b002::\/64$/),
      snatTo6: DEVICES.east.address6,
    });
    expect(bridge("south").cidr6).toMatch(/^fd[0-9a-f:]+:b003::\/64$/);
    expect(bridge("south").snatTo6).toBeUndefined();
  });

  it("nyaa's IPv6 arrives from the provider's IPv6 address through north, never from nyaa's own", async () => {
    const from = await providerSawDuring(async () => {
      const seen = await seen6During(async () => expect(await ping("nyaa", INTERNET6)).toBe(true));
      expect(seen).toEqual({ provider: expect.any(Number) });
    });
    expect(from).toEqual({ north: expect.any(Number) });
    const seen = await seenDuring(async () => expect(await ping("nyaa", INTERNET)).toBe(true));
    expect(seen).toEqual({ provider: expect.any(Number) });
  });

  it("a namespace on br-east: its IPv6 goes through east, NAT66-ed to east's address", async () => {
    const from = await providerSawDuring(async () => {
      const seen = await seen6During(async () => expect(await ping("box6", INTERNET6)).toBe(true));
      expect(seen).toEqual({ provider: expect.any(Number) });
    });
    expect(from).toEqual({ east: expect.any(Number) });
    expect(await routeFromBridge("east")).toMatch(/ dev east /);
    const seen = await seenDuring(async () => expect(await ping("box6", INTERNET)).toBe(true));
    expect(seen).toEqual({ provider: expect.any(Number) });
  });

  it("a namespace on br-south, whose provider gives no IPv6: its IPv6 goes nowhere, its IPv4 through south", async () => {
    const from = await providerSawDuring(async () =>
      expect(await seen6During(() => tryIpv6("box4"))).toEqual({}),
    );
    expect(from).toEqual({});
    // Dropped by nyaa itself (south's table), not sent into north for the provider to refuse.
    expect(await routeFromBridge("south")).toMatch(UNROUTED);
    const seen = await seenDuring(async () => expect(await ping("box4", INTERNET)).toBe(true));
    expect(seen).toEqual({ provider: expect.any(Number) });
  });

  it("kill switch: with north taken down on purpose, neither family leaks; br-east keeps its IPv6", async () => {
    await takeDown("north");
    const down = await seenDuring(async () => {
      expect(await ping("nyaa", INTERNET, 3)).toBe(false);
      await host("nyaa").run(`echo leak > /dev/udp/${INTERNET}/53`, { allowFailure: true });
    });
    expect(down).toEqual({});
    expect(await seen6During(() => tryIpv6("nyaa"))).toEqual({});
    const bridged = await seen6During(async () => expect(await ping("box6", INTERNET6)).toBe(true));
    expect(bridged).toEqual({ provider: expect.any(Number) });
    await bringUp("north");
    await lab!.enforceReversePathFilter();
    const up = await seen6During(async () => expect(await ping("nyaa", INTERNET6)).toBe(true));
    expect(up).toEqual({ provider: expect.any(Number) });
  });

  it("with east gone, br-east's IPv6 and IPv4 are dropped, not leaked into north nor the uplink", async () => {
    await host("nyaa").run("ip link del east");
    const from = await providerSawDuring(async () => {
      expect(await seen6During(() => tryIpv6("box6"))).toEqual({});
      expect(
        await seenDuring(async () => expect(await ping("box6", INTERNET, 3)).toBe(false)),
      ).toEqual({});
    });
    expect(from).toEqual({});
    expect(await routeFromBridge("east")).toMatch(UNROUTED);
    // nyaa itself still browses through north, both families.
    const own = await seen6During(async () => expect(await ping("nyaa", INTERNET6)).toBe(true));
    expect(own).toEqual({ provider: expect.any(Number) });
  });
}

/** `iptables -L CHAIN -n -v -x` rows, in order, as counts for `names` (zero counts left out). */
function counters<Name extends string>(
  listing: string,
  names: Name[],
): Partial<Record<Name, number>> {
  const seen: Partial<Record<Name, number>> = {};
  listing
    .split("\n")
    .slice(2)
    .filter((line) => line.trim() !== "")
    .forEach((row, index) => {
      const packets = Number(row.trim().split(/\s+/)[0]);
      if (packets > 0 && names[index] !== undefined) seen[names[index]] = packets;
    });
  return seen;
}
