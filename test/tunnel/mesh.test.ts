/**
 * A real mesh in network namespaces, configured from wgqt's rendered output
 * (wg-quick and networkd): four members, hub and vps with endpoints, laptop
 * and desk without; hub is the relay. An "internet" host routes between them.
 *
 *            hub 198.51.100.1/30 ─┐
 *            vps 198.51.100.5/30 ─┤
 *         laptop 192.0.2.1/30    ─├─ internet (router, 198.51.100.100)
 *           desk 192.0.2.5/30    ─┘
 *             └─ lan0 192.168.77.1/24 ── lan (192.168.77.2, default via desk)
 *            vps └─ lan0 192.168.88.1/24 ── lan2 (192.168.88.2, no route beyond it)
 *
 * Every member pings every other by its mesh address (IPv4 and IPv6), and by
 * name (`<machine>.home`, from its rendered hosts fragment installed in the
 * namespace's own /etc/hosts, /etc/netns/<ns>/hosts); laptop
 * and desk, which cannot reach each other directly, go through hub (its
 * transfer counters for both grow, vps's do not); no host's default route
 * changes and the internet host never sees mesh addresses. desk routes its
 * LAN (`routes`): every other member reaches the host on it, laptop through
 * hub then desk. vps routes lan2's subnet masqueraded (`masquerade_routes`): lan2
 * has no route to the mesh and sees only vps's address. With wg-quick every member's FORWARD policy is DROP: the
 * files' own rules must let the relayed and routed traffic through. Runs at rp_filter
 * 0, 1 and 2 on every interface, as the proxy suite does.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostSecretFiles, hostView, plannedHosts } from "../../src/net/host.js";
import { plan as planFleet } from "../../src/net/plan.js";
import { DEFAULT_SECRETS_DIR, onHostKeyPath } from "../../src/render/common.js";
import { HOSTS_INSTALL } from "../../src/render/hosts.js";
import { type RenderedFile, render } from "../../src/render/index.js";
import { type Host, Lab, type ReversePathFilter, tunnelSkipReason } from "../helpers/netns.js";
import { makeConfig } from "../net/fleet.js";
import { applyNetworkd, applyNetworkdHost, hostFiles } from "./apply-networkd.js";
import { applyWgQuick } from "./apply-wgquick.js";
import { generateKeys, removeTunnelStores, type TunnelKeys } from "./keys.js";
import { ipv6ReversePathFilter, REVERSE_PATH_FILTERS } from "./suite.js";

const UPLINK = { hub: "198.51.100.1", vps: "198.51.100.5" } as const;
const ROAMING = { laptop: "192.0.2.1", desk: "192.0.2.5" } as const;
const MEMBERS = ["desk", "hub", "laptop", "vps"] as const;
const INTERNET = "198.51.100.100";
const LAN = { desk: "192.168.77.1", host: "192.168.77.2", cidr: "192.168.77.0/24" } as const;
const LAN2 = { vps: "192.168.88.1", host: "192.168.88.2", cidr: "192.168.88.0/24" } as const;

const meshFleet = () =>
  makeConfig({
    machines: {
      hub: { endpoint: UPLINK.hub },
      vps: { endpoint: UPLINK.vps, routes: [LAN2.cidr], masqueradeRoutes: true },
      laptop: {},
      desk: { routes: [LAN.cidr] },
    },
    proxies: {},
    meshes: { home: { members: ["laptop", "hub", "desk", "vps"], relay: "hub" } },
  });

/** Every /etc/netns/<ns> this file made and has not removed yet: gone on exit, whatever happened. */
const liveNetnsDirs = new Set<string>();
/** Whether this file made /etc/netns (then removed again once empty). */
let madeEtcNetns = false;
process.on("exit", () => {
  for (const dir of liveNetnsDirs) rmSync(dir, { recursive: true, force: true });
});

function rmEmptyDir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // not empty, or gone
  }
}

const skip = tunnelSkipReason();
describe.skipIf(skip !== undefined)(
  `a mesh with a relay${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    let keys: Promise<TunnelKeys> | undefined;
    const sharedKeys = () => {
      keys ??= generateKeys(meshFleet());
      return keys;
    };
    afterAll(() => removeTunnelStores());
    describe.each(["wg-quick", "networkd"] as const)("from the %s rendering", (format) => {
      describe.each(REVERSE_PATH_FILTERS)("at rp_filter %i", (reversePathFilter) =>
        meshLab(format, reversePathFilter, sharedKeys),
      );
    });
  },
);

function meshLab(
  format: "wg-quick" | "networkd",
  reversePathFilter: ReversePathFilter,
  sharedKeys: () => Promise<TunnelKeys>,
): void {
  let lab: Lab | undefined;
  const hosts: Record<string, Host> = {};
  const host = (name: string) => hosts[name]!;
  const publicKeys: Record<string, string> = {};
  const address: Record<string, string> = {};
  const address6: Record<string, string> = {};
  let files: RenderedFile[] = [];
  const defaultRoutes: Record<string, string> = {};
  /** /etc/netns/<ns> of the members' namespaces: created here, removed after. */
  const netnsDirs: string[] = [];
  const rootHosts = readFileSync("/etc/hosts", "utf8");

  const defaultRoute = async (name: string) =>
    (await host(name).run("ip -4 route show default; ip -6 route show default; ip rule show"))
      .stdout;

  beforeAll(async () => {
    lab = new Lab({ reversePathFilter });
    const config = meshFleet();
    const shared = await sharedKeys();
    Object.assign(publicKeys, shared.publicKeys);
    const plan = planFleet(config, shared.publicKeys);
    for (const member of plan.networks[0]!.members) {
      address[member.machine] = member.address;
      address6[member.machine] = member.address6!;
    }
    files = render(plan, config, { format });

    hosts.internet = await lab.host("internet");
    for (const name of plannedHosts(plan)) {
      // `ip netns exec` (which starts each host) bind-mounts /etc/netns/<ns>/hosts over
      // /etc/hosts: the member's own /etc/hosts, to install its names into.
      const dir = `/etc/netns/${lab.prefix}${name}`;
      if (!existsSync("/etc/netns")) madeEtcNetns = true;
      mkdirSync(dir, { recursive: true });
      netnsDirs.push(dir);
      liveNetnsDirs.add(dir);
      copyFileSync("/etc/hosts", `${dir}/hosts`);
      hosts[name] = await lab.host(name);
    }
    const links = [...Object.entries(UPLINK), ...Object.entries(ROAMING)];
    for (const [index, [name, ipv4]] of links.entries()) {
      const peer = ipv4.replace(/\d+$/, (last) => String(Number(last) + 1));
      await lab.link(host(name), "uplink0", `${ipv4}/30`, host("internet"), name, `${peer}/30`);
      const prefix = `2001:db8:${index + 1}::`;
      await host(name).run(
        `ip route add default via ${peer} && ip -6 address add ${prefix}1/64 dev uplink0 nodad && ip -6 route add default via ${prefix}2`,
      );
      await host("internet").run(`ip -6 address add ${prefix}2/64 dev ${name} nodad`);
      if (reversePathFilter !== 0) await host(name).run(ipv6ReversePathFilter(reversePathFilter));
    }
    await host("internet").run(
      [
        "sysctl -q -w net.ipv4.ip_forward=1",
        "sysctl -q -w net.ipv6.conf.all.forwarding=1",
        `ip address add ${INTERNET}/32 dev lo`,
        // Counts anything from or to a mesh address: none may pass in the clear.
        "iptables -N WGQT_MESH",
        "iptables -A FORWARD -j WGQT_MESH",
        "iptables -A WGQT_MESH -s 10.128.0.0/16 -j RETURN",
        "iptables -A WGQT_MESH -d 10.128.0.0/16 -j RETURN",
      ].join(" && "),
    );
    hosts.lan = await lab.host("lan");
    await lab.link(host("desk"), "lan0", `${LAN.desk}/24`, host("lan"), "eth0", `${LAN.host}/24`);
    await host("lan").run(`ip route add default via ${LAN.desk}`);
    hosts.lan2 = await lab.host("lan2");
    await lab.link(host("vps"), "lan0", `${LAN2.vps}/24`, host("lan2"), "eth0", `${LAN2.host}/24`);
    await host("lan2").run(
      [
        "iptables -N WGQT_SEEN",
        "iptables -A INPUT -p icmp --icmp-type echo-request -j WGQT_SEEN",
        `iptables -A WGQT_SEEN -s ${LAN2.vps} -j RETURN`,
        "iptables -A WGQT_SEEN -j RETURN",
      ].join(" && "),
    );
    for (const name of MEMBERS) defaultRoutes[name] = await defaultRoute(name);

    // Members with an endpoint first, as in life.
    const order = [...MEMBERS].sort((a, b) => Number(b in UPLINK) - Number(a in UPLINK));
    for (const name of order) {
      // A firewall that forwards nothing it is not told to: the wg-quick files' own
      // FORWARD rules must carry the relay's and desk's traffic (networkd renders no
      // firewall rules, so that host keeps the kernel's ACCEPT).
      if (format === "wg-quick")
        await host(name).run("iptables -P FORWARD DROP && ip6tables -P FORWARD DROP");
      const view = hostView(plan, config, name);
      for (const storeFile of hostSecretFiles(view)) {
        const path = onHostKeyPath(DEFAULT_SECRETS_DIR, storeFile);
        await host(name).run(`mkdir -p "$(dirname ${path})" && umask 077 && cat > ${path}`, {
          input: `${await shared.secret(name, storeFile)}\n`,
        });
      }
      if (format === "networkd") {
        await applyNetworkdHost(host(name), hostFiles(files, name));
        const base = `${name}/50-wgqt-home`;
        await applyNetworkd(
          host(name),
          files.find((f) => f.path === `${base}.netdev`)!.content,
          files.find((f) => f.path === `${base}.network`)!.content,
        );
      } else {
        const file = files.find((f) => f.path === `${name}/home.conf`)!;
        await applyWgQuick(host(name), "home", file.content);
      }
    }
    await lab.enforceReversePathFilter();
    // Names: each member's hosts fragment installed as the file's header says, twice (the
    // second run replaces the first block).
    for (const name of MEMBERS) {
      const fragment = files.find((f) => f.path === `${name}/hosts`)!.content;
      await host(name).run("mkdir -p /run/wgqt-names && cat > /run/wgqt-names/hosts", {
        input: fragment,
      });
      for (let round = 0; round < 2; round++)
        await host(name).run(`cd /run/wgqt-names && ${HOSTS_INSTALL.join("\n")}`);
    }
  });

  afterAll(async () => {
    try {
      await lab?.cleanup();
    } finally {
      for (const dir of netnsDirs.splice(0)) {
        rmSync(dir, { recursive: true, force: true });
        liveNetnsDirs.delete(dir);
      }
      // /etc/netns itself when this file made it and nothing else is in it.
      if (madeEtcNetns && liveNetnsDirs.size === 0) rmEmptyDir("/etc/netns");
    }
  });

  const ping = async (from: string, to: string, deadline = 8) =>
    (await host(from).run(`ping -n -q -c 1 -w ${deadline} ${to}`, { allowFailure: true })).code ===
    0;

  /** Bytes `on` received from and sent to `peer` on the mesh (wg show transfer). */
  const transfer = async (on: string, peer: string): Promise<number> => {
    const output = (await host(on).run("wg show home transfer")).stdout;
    const line = output.split("\n").find((entry) => entry.startsWith(publicKeys[peer]!));
    const [, received, sent] = line?.split("\t") ?? [];
    return Number(received ?? 0) + Number(sent ?? 0);
  };

  it("every member pings every other by its mesh address, IPv4 and IPv6", async () => {
    // The roaming members first greet the relay, as their keepalive would.
    for (const name of ["laptop", "desk"]) expect(await ping(name, address.hub!)).toBe(true);
    for (const from of MEMBERS) {
      for (const to of MEMBERS) {
        if (from === to) continue;
        expect({ from, to, ok: await ping(from, address[to]!) }).toEqual({ from, to, ok: true });
        expect({ from, to, ok6: await ping(from, address6[to]!) }).toEqual({
          from,
          to,
          ok6: true,
        });
      }
    }
  });

  it("every member pings every other by name, <machine>.home, IPv4 and IPv6", async () => {
    for (const name of ["laptop", "desk"]) expect(await ping(name, address.hub!)).toBe(true);
    for (const from of MEMBERS) {
      for (const to of MEMBERS) {
        if (from === to) continue;
        const ok = await ping(from, `-4 ${to}.home`);
        const ok6 = await ping(from, `-6 ${to}.home`);
        expect({ from, to, ok, ok6 }).toEqual({ from, to, ok: true, ok6: true });
      }
      // The names resolve to the plan's addresses, from one block however often installed.
      const resolved = (await host(from).run(`getent ahostsv4 laptop.home`)).stdout;
      expect(resolved.split(/\s+/)[0]).toBe(address.laptop);
      const etcHosts = (await host(from).run("cat /etc/hosts")).stdout;
      expect(etcHosts.split("\n").filter((line) => line === "# BEGIN wgqt")).toHaveLength(1);
    }
    // The root namespace's /etc/hosts is untouched.
    expect(readFileSync("/etc/hosts", "utf8")).toBe(rootHosts);
  });

  it("laptop and desk reach each other through hub, not directly nor through vps", async () => {
    const before = {
      hubLaptop: await transfer("hub", "laptop"),
      hubDesk: await transfer("hub", "desk"),
      vpsLaptop: await transfer("vps", "laptop"),
      vpsDesk: await transfer("vps", "desk"),
    };
    for (let round = 0; round < 5; round++) expect(await ping("laptop", address.desk!)).toBe(true);
    expect(await transfer("hub", "laptop")).toBeGreaterThan(before.hubLaptop + 5 * 84);
    expect(await transfer("hub", "desk")).toBeGreaterThan(before.hubDesk + 5 * 84);
    // vps may see a keepalive (32 bytes each way), never the pings.
    expect(await transfer("vps", "laptop")).toBeLessThan(before.vpsLaptop + 5 * 84);
    expect(await transfer("vps", "desk")).toBeLessThan(before.vpsDesk + 5 * 84);
    // laptop has no peer for desk: hub's peer carries desk's address.
    const peers = (await host("laptop").run("wg show home allowed-ips")).stdout;
    expect(peers.split("\n").filter((line) => line.trim() !== "")).toHaveLength(2);
    expect(peers).toContain(`${publicKeys.hub}\t${address.hub}/32`);
    expect(peers).toMatch(new RegExp(`${address.desk!.replace(/\./g, "\\.")}/32`));
    expect(await host("hub").run("sysctl -n net.ipv4.ip_forward")).toMatchObject({
      stdout: "1\n",
    });
  });

  it("desk's routed LAN is reachable from every other member, laptop's through the relay", async () => {
    for (const name of ["hub", "vps", "laptop"])
      expect({ name, ok: await ping(name, LAN.host) }).toEqual({ name, ok: true });
    const before = await transfer("hub", "laptop");
    for (let round = 0; round < 5; round++) expect(await ping("laptop", LAN.host)).toBe(true);
    expect(await transfer("hub", "laptop")).toBeGreaterThan(before + 5 * 84);
    // The LAN host sees mesh addresses (no NAT), and answers through desk.
    expect(await host("lan").run(`ping -n -q -c 1 -w 8 ${address.vps}`)).toMatchObject({ code: 0 });
  });

  it("vps's masqueraded LAN answers every other member, and sees only vps's address", async () => {
    for (const name of ["hub", "desk", "laptop"])
      expect({ name, ok: await ping(name, LAN2.host) }).toEqual({ name, ok: true });
    const counted = (await host("lan2").run("iptables -L WGQT_SEEN -n -v -x")).stdout
      .split("\n")
      .slice(2)
      .filter((line) => line.trim() !== "")
      .map((line) => Number(line.trim().split(/\s+/)[0]));
    expect(counted[0]).toBeGreaterThanOrEqual(3);
    expect(counted[1]).toBe(0);
  });

  it("nothing takes a default route, no rule is added, nothing leaves the tunnels in the clear", async () => {
    for (const name of MEMBERS) expect(await defaultRoute(name)).toBe(defaultRoutes[name]);
    // The internet host still routes to itself as before: no member's traffic is captured.
    for (const name of MEMBERS) expect(await ping(name, INTERNET)).toBe(true);
    const counted = (await host("internet").run("iptables -L WGQT_MESH -n -v -x")).stdout
      .split("\n")
      .slice(2)
      .filter((line) => line.trim() !== "")
      .map((line) => Number(line.trim().split(/\s+/)[0]));
    expect(counted).toEqual([0, 0]);
  });
}
