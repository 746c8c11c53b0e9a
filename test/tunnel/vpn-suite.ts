/**
 * A commercial VPN and a proxy on one client, in network namespaces, from
 * wgqt's rendered output. The provider is simulated by a namespace
 * running wireguard-go with the provider's own keys (`wg genkey`), which hands
 * out a wg-quick file the way Mullvad does; `wgqt vpn import` puts it in the
 * store, and nyaa's keys come out of the store with nyaa's identity via `age`.
 *
 *          provider 198.51.100.1/30 ─┐  (VPN server: wg0 10.64.0.1/16, :51820, NAT)
 *            tavern 198.51.100.5/30 ─┤  (germany's gateway)
 *              nyaa 192.0.2.1/30    ─┴─ internet (router; 198.51.100.100 counts sources)
 *               │ br-germany 10.20.100.1/24
 *              box 10.20.100.2/24      (a "container" attached to nyaa's bridge)
 *
 * nyaa uses VPN us-west (id 1, routing key 1) and proxy germany (network id 0,
 * routing key 100): us-west carries nyaa's default route, germany gets the
 * bridge. Every host's plain default route is its link to the internet host,
 * so traffic that escapes a tunnel arrives there from nyaa's own uplink
 * address, which the internet host counts (iptables counters per source).
 *
 * Every link has IPv6 too (2001:db8:<n>::1/64; the internet host owns
 * 2001:db8:ffff::100 and counts IPv6 sources with ip6tables), but the
 * provider's file has none: nyaa's IPv6 must then go nowhere, never by its
 * plain uplink.
 *
 * At rp_filter 0, 1 and 2 (see suite.ts). us-west has the kill switch (a
 * VPN's default): taken down on purpose it still blocks, until lifted as the
 * rendered files say; rendered with `killswitch = false` the same down
 * restores plain routing.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../src/config/types.js";
import type { Bridge } from "../../src/net/bridge.js";
import { hostSecretFiles, hostView } from "../../src/net/host.js";
import { type Plan, plan as planFleet } from "../../src/net/plan.js";
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
import {
  applyNetworkd,
  applyNetworkdHost,
  downNetworkd,
  hostFiles,
  stopUnit,
} from "./apply-networkd.js";
import { applyWgQuick, downWgQuick } from "./apply-wgquick.js";
import { makeTunnelStore, removeTunnelStores } from "./keys.js";
import { internetHostCommand, ipv6ReversePathFilter, REVERSE_PATH_FILTERS } from "./suite.js";

const PROVIDER = "198.51.100.1";
const TAVERN = "198.51.100.5";
const NYAA = "192.0.2.1";
const INTERNET = "198.51.100.100";
/** The provider's side of the tunnel, and its DNS server. */
const PROVIDER_TUNNEL = "10.64.0.1";
const NYAA_VPN_ADDRESS = "10.64.1.2";
const UPLINK6 = {
  provider: "2001:db8:1::",
  tavern: "2001:db8:2::",
  nyaa: "2001:db8:12::",
} as const;
const INTERNET6 = "2001:db8:ffff::100";

type Source = "provider" | "tavern" | "nyaa's uplink" | "other";
const SOURCES: [Source, string][] = [
  ["provider", PROVIDER],
  ["tavern", TAVERN],
  ["nyaa's uplink", NYAA],
  ["other", "0.0.0.0/0"],
];
const SOURCES6: [Source, string][] = [
  ["provider", `${UPLINK6.provider}/64`],
  ["tavern", `${UPLINK6.tavern}/64`],
  ["nyaa's uplink", `${UPLINK6.nyaa}/64`],
  ["other", "::/0"],
];

const wg = async (args: string[], input?: string) =>
  (await runCommand("wg", args, input === undefined ? {} : { input })).stdout.trim();

export function vpnTunnelSuite(format: "wg-quick" | "networkd"): void {
  const skip = tunnelSkipReason();
  describe.skipIf(skip !== undefined)(
    `a VPN and a proxy on one client, from the ${format} rendering${skip ? ` (skipped: ${skip})` : ""}`,
    () => {
      describe.each(REVERSE_PATH_FILTERS)("at rp_filter %i", (reversePathFilter) =>
        vpnFleet(format, reversePathFilter),
      );
    },
  );
}

function vpnFleet(format: "wg-quick" | "networkd", reversePathFilter: ReversePathFilter): void {
  let lab: Lab | undefined;
  const hosts: Record<string, Host> = {};
  const host = (name: string) => hosts[name]!;
  let config: Config;
  let planned: Plan;
  let files: RenderedFile[] = [];
  let bridge: Bridge;
  const dns: Record<string, string[]> = {};
  const providerKeys = { server: "", client: "", clientPublic: "", psk: "" };

  const unitFiles = (rendered: RenderedFile[], name: string, network: string) => {
    if (format === "wg-quick") {
      return { conf: rendered.find((f) => f.path === `${name}/${network}.conf`)! };
    }
    const base = `${name}/50-wgqt-${network}`;
    return {
      netdev: rendered.find((f) => f.path === `${base}.netdev`)!,
      network: rendered.find((f) => f.path === `${base}.network`)!,
    };
  };

  /** Bring up one of nyaa's or tavern's interfaces exactly as rendered. */
  const bringUp = async (name: string, network: string, rendered = files): Promise<void> => {
    const unit = unitFiles(rendered, name, network);
    dns[network] =
      unit.conf !== undefined
        ? await applyWgQuick(host(name), network, unit.conf.content)
        : await applyNetworkd(host(name), unit.netdev!.content, unit.network!.content);
  };

  /**
   * Take it down on purpose: `wg-quick down`, or as the .network file says: `networkctl down`
   * (the link deleted), and for a tunnel without the kill switch, stopping the unit that
   * holds its rules.
   */
  const takeDown = async (name: string, network: string, rendered = files): Promise<void> => {
    const unit = unitFiles(rendered, name, network);
    if (unit.conf !== undefined) return downWgQuick(host(name), network, unit.conf.content);
    await downNetworkd(host(name), unit.netdev!.content, unit.network!.content);
    const stop = /^# down on purpose: networkctl down \S+ && systemctl stop (\S+)$/m.exec(
      unit.network!.content,
    );
    if (stop !== null) {
      const routing = rendered.find((f) => f.path === `${name}/system/${stop[1]}`)!;
      await stopUnit(host(name), routing.content);
    }
  };

  /** Lift a kill switch the way the rendered file's header says. */
  const liftKillSwitch = async (name: string, network: string): Promise<void> => {
    const unit = unitFiles(files, name, network);
    if (unit.conf !== undefined) {
      const header = unit.conf.content.split("\n[Interface]")[0]!;
      const commands = header
        .split("To lift it without the tunnel, run as root:\n")[1]!
        .split("\n")
        .filter((line) => line.startsWith("#   "))
        .map((line) => line.slice("#   ".length));
      expect(commands.length).toBeGreaterThan(0);
      for (const command of commands) await host(name).run(command);
      return;
    }
    const killSwitch = files.find((f) => f.path === `${name}/system/wgqt-killswitch.service`)!;
    expect(killSwitch.content).toContain("To lift it: systemctl stop\n# wgqt-killswitch.service");
    await stopUnit(host(name), killSwitch.content);
  };

  beforeAll(async () => {
    lab = new Lab({ reversePathFilter });
    // The fleet: nyaa a client of germany, whose gateway is tavern.
    const store = await makeTunnelStore(
      makeConfig({
        machines: { tavern: { endpoint: TAVERN }, nyaa: {} },
        proxies: { germany: { gateway: "tavern", clients: ["nyaa"] } },
      }),
    );
    // The provider makes nyaa's device key (and a PSK) and hands out a wg-quick file.
    providerKeys.server = await wg(["genkey"]);
    providerKeys.client = await wg(["genkey"]);
    providerKeys.clientPublic = await wg(["pubkey"], `${providerKeys.client}\n`);
    providerKeys.psk = await wg(["genpsk"]);
    const providerFile = join(store.dir, "us-west.conf");
    writeFileSync(
      providerFile,
      [
        "[Interface]",
        "# Device: Happy Frog",
        `PrivateKey = ${providerKeys.client}`,
        `Address = ${NYAA_VPN_ADDRESS}/32`,
        `DNS = ${PROVIDER_TUNNEL}`,
        "MTU = 1380",
        "",
        "[Peer]",
        `PublicKey = ${await wg(["pubkey"], `${providerKeys.server}\n`)}`,
        `PresharedKey = ${providerKeys.psk}`,
        "AllowedIPs = 0.0.0.0/0",
        `Endpoint = ${PROVIDER}:51820`,
        "PersistentKeepalive = 21",
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    const imported = wgqt(
      store.dir,
      "vpn",
      "import",
      "us-west",
      "--from",
      providerFile,
      "--machine",
      "nyaa",
    );
    if (imported.status !== 0) throw new Error(`wgqt vpn import failed: ${imported.stderr}`);

    config = await loadConfig(store.dir);
    planned = planFleet(config, (await openKeyStore(config.keysDir)).publicKeys());
    files = render(planned, config, { format });
    const nyaaView = hostView(planned, config, "nyaa");
    bridge = nyaaView.interfaces.find((entry) => entry.name === "germany")!.routing!.bridge!;

    for (const name of ["internet", "provider", "tavern", "nyaa", "box"])
      hosts[name] = await lab.host(name);
    for (const [name, address] of [
      ["provider", PROVIDER],
      ["tavern", TAVERN],
      ["nyaa", NYAA],
    ] as const) {
      const peer = address.replace(/\d+$/, (last) => String(Number(last) + 1));
      await lab.link(host(name), "uplink0", `${address}/30`, host("internet"), name, `${peer}/30`);
      await host(name).run(`ip route add default via ${peer}`);
      const prefix = UPLINK6[name];
      await host(name).run(
        `ip -6 address add ${prefix}1/64 dev uplink0 nodad && ip -6 route add default via ${prefix}2`,
      );
      await host("internet").run(`ip -6 address add ${prefix}2/64 dev ${name} nodad`);
      if (reversePathFilter !== 0) await host(name).run(ipv6ReversePathFilter(reversePathFilter));
    }
    await host("internet").run(
      internetHostCommand(INTERNET, INTERNET6, SOURCES, SOURCES6, reversePathFilter),
    );

    // The provider's server: its own keys, nyaa's device as the one peer, NAT to the internet.
    await host("provider").run("umask 077 && cat > /etc/wireguard/server.key", {
      input: `${providerKeys.server}\n`,
    });
    await host("provider").run("umask 077 && cat > /etc/wireguard/psk", {
      input: `${providerKeys.psk}\n`,
    });
    await host("provider").run(
      [
        "wireguard-go wg0 >/dev/null 2>&1",
        `wg set wg0 listen-port 51820 private-key /etc/wireguard/server.key peer ${providerKeys.clientPublic} preshared-key /etc/wireguard/psk allowed-ips ${NYAA_VPN_ADDRESS}/32`,
        `ip address add ${PROVIDER_TUNNEL}/16 dev wg0`,
        "ip link set wg0 up",
        "sysctl -q -w net.ipv4.ip_forward=1",
        "iptables -t nat -A POSTROUTING -s 10.64.0.0/16 -o uplink0 -j MASQUERADE",
      ].join(" && "),
    );

    // tavern (gateway) first, then nyaa; keys decrypted by each host's own identity.
    for (const name of ["tavern", "nyaa"]) {
      for (const storeFile of hostSecretFiles(hostView(planned, config, name))) {
        const path = onHostKeyPath(DEFAULT_SECRETS_DIR, storeFile);
        await host(name).run(`mkdir -p "$(dirname ${path})" && umask 077 && cat > ${path}`, {
          input: `${await store.secret(name, storeFile)}\n`,
        });
      }
    }
    if (format === "networkd") {
      for (const name of ["tavern", "nyaa"])
        await applyNetworkdHost(host(name), hostFiles(files, name));
    }
    await bringUp("tavern", "germany");
    await bringUp("nyaa", "us-west");
    await bringUp("nyaa", "germany");
    if (format === "networkd") await bringUp("nyaa", bridge.name);

    // The "container": a namespace whose only link is a port of nyaa's bridge.
    await runCommand("ip", [
      "link",
      "add",
      "eth0",
      "netns",
      host("box").namespace,
      "type",
      "veth",
      "peer",
      "name",
      "box0",
      "netns",
      host("nyaa").namespace,
    ]);
    await host("nyaa").run(`ip link set box0 master ${bridge.name} && ip link set box0 up`);
    await host("box").run(
      `ip address add ${bridge.address.replace(/\.1$/, ".2")}/${bridge.prefixLength} dev eth0 && ip link set eth0 up && ip route add default via ${bridge.address}`,
    );
    await lab.enforceReversePathFilter();
  });

  afterAll(async () => {
    try {
      await lab?.cleanup();
    } finally {
      removeTunnelStores();
    }
  });

  /** A reachable peer gets 8 s (a first handshake may wait for WireGuard's 5 s retry). */
  const ping = async (from: string, to: string, deadline = 8) =>
    (await host(from).run(`ping -n -q -c 1 -w ${deadline} ${to}`, { allowFailure: true })).code ===
    0;

  /** The latest handshake (epoch seconds, 0 = none) of `on`'s one peer on `network`. */
  const latestHandshake = async (on: string, network: string) => {
    const output = (await host(on).run(`wg show ${network} latest-handshakes`)).stdout;
    return Number(output.trim().split("\t")[1]);
  };

  /** Which sources the internet host saw packets from during `action` (IPv4, or IPv6 apart). */
  const seenDuring = async (
    action: () => Promise<unknown>,
    family: "iptables" | "ip6tables" = "iptables",
  ): Promise<Partial<Record<Source, number>>> => {
    await host("internet").run(`${family} -Z WGQT_SEEN`);
    await action();
    const listing = (await host("internet").run(`${family} -L WGQT_SEEN -n -v -x`)).stdout;
    const seen: Partial<Record<Source, number>> = {};
    const sources = family === "iptables" ? SOURCES : SOURCES6;
    listing
      .split("\n")
      .slice(2)
      .filter((line) => line.trim() !== "")
      .forEach((row, index) => {
        const packets = Number(row.trim().split(/\s+/)[0]);
        if (packets > 0) seen[sources[index]![0]] = packets;
      });
    return seen;
  };
  const seen6During = (action: () => Promise<unknown>) => seenDuring(action, "ip6tables");
  /** nyaa's IPv6 attempts: ICMP, UDP and TCP to the internet host, none of which may arrive. */
  const tryIpv6 = async () => {
    expect(await ping("nyaa", INTERNET6, 3)).toBe(false);
    await host("nyaa").run(
      `echo leak > /dev/udp/${INTERNET6}/53; timeout 3 bash -c 'echo > /dev/tcp/${INTERNET6}/80'`,
      { allowFailure: true },
    );
  };

  it("the bridge is named and numbered as routing.ts says: br-germany, 10.20.100.1/24, <prefix>:b100::1/64", () => {
    const germany = hostView(planned, config, "nyaa").interfaces.find((e) => e.name === "germany")!;
    expect(bridge).toEqual({
      name: "br-germany",
      address: "10.20.100.1",
      prefixLength: 24,
      cidr: "10.20.100.0/24",
      snatTo: "10.128.0.2",
      address6: expect.stringMatching(/^fd[0-9a-f:]+:b100::1$/),
      prefixLength6: 64,
      cidr6: expect.stringMatching(/^fd[0-9a-f:]+:b100::\/64$/),
      snatTo6: germany.address6,
    });
  });

  it("the provider file's MTU and PersistentKeepalive are applied to us-west", async () => {
    expect((await host("nyaa").run("ip -o link show us-west")).stdout).toContain(" mtu 1380 ");
    const keepalive = (await host("nyaa").run("wg show us-west persistent-keepalive")).stdout;
    expect(keepalive.trim().split("\t")[1]).toBe("21");
  });

  it("nyaa's own traffic leaves through the VPN: the internet host sees the provider's address", async () => {
    const seen = await seenDuring(async () => expect(await ping("nyaa", INTERNET)).toBe(true));
    expect(seen).toEqual({ provider: expect.any(Number) });
    const peers = (await host("provider").run("wg show wg0 endpoints")).stdout;
    expect(peers).toContain(`${providerKeys.clientPublic}\t${NYAA}:`);
  });

  it("the provider has no IPv6: nyaa's IPv6 goes nowhere, never by the plain uplink", async () => {
    expect(await seen6During(tryIpv6)).toEqual({});
    const routes = (await host("nyaa").run("ip -6 route show table 52001")).stdout;
    expect(routes).toContain("unreachable default");
    // The uplink itself works: the internet host answers nyaa's uplink on the link.
    expect(await ping("nyaa", `${UPLINK6.nyaa}2`)).toBe(true);
  });

  it("the VPN's DNS server is the host's, and answers through the tunnel", async () => {
    expect(dns["us-west"]).toEqual([PROVIDER_TUNNEL]);
    expect(dns.germany).toEqual([]);
    const seen = await seenDuring(async () =>
      expect(await ping("nyaa", PROVIDER_TUNNEL)).toBe(true),
    );
    expect(seen).toEqual({});
  });

  it("a namespace attached to br-germany leaves through the proxy's gateway", async () => {
    const seen = await seenDuring(async () => expect(await ping("box", INTERNET)).toBe(true));
    expect(seen).toEqual({ tavern: expect.any(Number) });
  });

  it("with the VPN down, nyaa's default traffic fails and nothing leaves by the plain uplink; it comes back with the tunnel", async () => {
    await host("nyaa").run("ip link del us-west");
    const down = await seenDuring(async () => {
      expect(await ping("nyaa", INTERNET, 3)).toBe(false);
      // Not only ICMP: a UDP datagram and a TCP connection attempt go nowhere either.
      await host("nyaa").run(
        `echo leak > /dev/udp/${INTERNET}/53; timeout 3 bash -c 'echo > /dev/tcp/${INTERNET}/80'`,
        { allowFailure: true },
      );
    });
    expect(down).toEqual({});
    expect(await seen6During(tryIpv6)).toEqual({});
    const routes = (await host("nyaa").run("ip -4 route show table 52001")).stdout;
    expect(routes).toContain("unreachable default");
    // The proxy's bridge does not depend on the VPN.
    const bridged = await seenDuring(async () => expect(await ping("box", INTERNET)).toBe(true));
    expect(bridged).toEqual({ tavern: expect.any(Number) });
    // Nor does a new start of the proxy: its handshake gets through with the VPN gone.
    await host("nyaa").run("ip link del germany");
    const restarted = Math.floor(Date.now() / 1000);
    await bringUp("nyaa", "germany");
    await lab!.enforceReversePathFilter();
    const again = await seenDuring(async () => {
      expect(await ping("box", INTERNET)).toBe(true);
      expect(await ping("nyaa", "10.128.0.1")).toBe(true); // tavern on germany
    });
    expect(again).toEqual({ tavern: expect.any(Number) });
    expect(await latestHandshake("nyaa", "germany")).toBeGreaterThanOrEqual(restarted);

    await bringUp("nyaa", "us-west");
    await lab!.enforceReversePathFilter();
    const up = await seenDuring(async () => expect(await ping("nyaa", INTERNET)).toBe(true));
    expect(up).toEqual({ provider: expect.any(Number) });
  });

  it("kill switch: with us-west taken down on purpose nothing leaves by the plain uplink, until it is lifted as the file says", async () => {
    await takeDown("nyaa", "us-west");
    const down = await seenDuring(async () => {
      expect(await ping("nyaa", INTERNET, 3)).toBe(false);
      await host("nyaa").run(
        `echo leak > /dev/udp/${INTERNET}/53; timeout 3 bash -c 'echo > /dev/tcp/${INTERNET}/80'`,
        { allowFailure: true },
      );
      // The bridge into germany is not us-west's: it still works.
      expect(await ping("box", INTERNET)).toBe(true);
    });
    expect(down).toEqual({ tavern: expect.any(Number) });
    expect(await seen6During(tryIpv6)).toEqual({});
    // The LAN (the main table's specific routes) still answers.
    expect(
      await ping(
        "nyaa",
        NYAA.replace(/\d+$/, (last) => String(Number(last) + 1)),
      ),
    ).toBe(true);

    await liftKillSwitch("nyaa", "us-west");
    const lifted = await seenDuring(async () => expect(await ping("nyaa", INTERNET)).toBe(true));
    expect(lifted).toEqual({ "nyaa's uplink": expect.any(Number) });
    const lifted6 = await seen6During(async () => expect(await ping("nyaa", INTERNET6)).toBe(true));
    expect(lifted6).toEqual({ "nyaa's uplink": expect.any(Number) });
  });

  it("with killswitch = false, taking us-west down on purpose restores plain routing", async () => {
    const open: Config = {
      ...config,
      vpns: { ...config.vpns, "us-west": { ...config.vpns!["us-west"]!, killswitch: false } },
    };
    const openFiles = render(planned, open, { format, machine: "nyaa" });
    // Deployed as rendered: on networkd its rules come with a unit of their own.
    if (format === "networkd") await applyNetworkdHost(host("nyaa"), hostFiles(openFiles, "nyaa"));
    await bringUp("nyaa", "us-west", openFiles);
    await lab!.enforceReversePathFilter();
    const up = await seenDuring(async () => expect(await ping("nyaa", INTERNET)).toBe(true));
    expect(up).toEqual({ provider: expect.any(Number) });
    await takeDown("nyaa", "us-west", openFiles);
    const down = await seenDuring(async () => expect(await ping("nyaa", INTERNET)).toBe(true));
    expect(down).toEqual({ "nyaa's uplink": expect.any(Number) });

    // Back to the kill switch for what follows: the host files (boot), then the tunnel.
    if (format === "networkd") await applyNetworkdHost(host("nyaa"), hostFiles(files, "nyaa"));
    await bringUp("nyaa", "us-west");
    await lab!.enforceReversePathFilter();
    const back = await seenDuring(async () => expect(await ping("nyaa", INTERNET)).toBe(true));
    expect(back).toEqual({ provider: expect.any(Number) });
  });

  it("with the proxy down, the bridge's traffic is dropped: not leaked into the VPN nor the uplink", async () => {
    await host("nyaa").run("ip link del germany");
    const seen = await seenDuring(async () => expect(await ping("box", INTERNET, 3)).toBe(false));
    expect(seen).toEqual({});
    // nyaa itself still browses through the VPN.
    const own = await seenDuring(async () => expect(await ping("nyaa", INTERNET)).toBe(true));
    expect(own).toEqual({ provider: expect.any(Number) });
  });
}
