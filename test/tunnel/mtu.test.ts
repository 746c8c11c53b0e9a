/**
 * A proxy's `mtu` and `keepalive`, applied from each rendering to a gateway
 * and a client in network namespaces (wireguard-go devices):
 *
 *   tavern 192.0.2.1/30 ── nyaa 192.0.2.2/30     proxy germany: tavern → nyaa
 *
 * The MTU is not only what `ip link` reports: a packet of exactly that size
 * with Don't Fragment crosses the tunnel, one byte more is refused by the
 * sender (EMSGSIZE). The client keeps its gateway alive at the proxy's
 * interval (`wg show persistent-keepalive`); the gateway never does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostSecretFiles, hostView } from "../../src/net/host.js";
import { plan as planFleet } from "../../src/net/plan.js";
import { DEFAULT_SECRETS_DIR, onHostKeyPath } from "../../src/render/common.js";
import { type RenderedFile, render } from "../../src/render/index.js";
import { type Host, Lab, tunnelSkipReason } from "../helpers/netns.js";
import { makeConfig } from "../net/fleet.js";
import { applyNetworkd } from "./apply-networkd.js";
import { applyWgQuick } from "./apply-wgquick.js";
import { generateKeys, removeTunnelStores, type TunnelKeys } from "./keys.js";

const TAVERN = "192.0.2.1";
const NYAA = "192.0.2.2";
const MTU = 1380;
const KEEPALIVE = 17;
/** ICMP echo payload that makes an IPv4 packet of `size` bytes (20 IP + 8 ICMP header). */
const payload = (size: number) => size - 28;

const skip = tunnelSkipReason();

describe.skipIf(skip !== undefined).each(["wg-quick", "networkd"] as const)(
  `a proxy's mtu and keepalive from the %s rendering${skip ? ` (skipped: ${skip})` : ""}`,
  (format) => {
    let lab: Lab | undefined;
    const hosts: Record<string, Host> = {};
    const host = (name: string) => hosts[name]!;
    const config = makeConfig({
      machines: { tavern: { endpoint: TAVERN }, nyaa: {} },
      proxies: {
        germany: { gateway: "tavern", clients: ["nyaa"], mtu: MTU, keepalive: KEEPALIVE },
      },
    });
    let keys: TunnelKeys;

    beforeAll(async () => {
      lab = new Lab();
      keys = await generateKeys(config);
      const planned = planFleet(config, keys.publicKeys);
      const files: RenderedFile[] = render(planned, config, { format });
      for (const name of ["tavern", "nyaa"]) hosts[name] = await lab.host(name);
      await lab.link(
        host("tavern"),
        "uplink0",
        `${TAVERN}/30`,
        host("nyaa"),
        "uplink0",
        `${NYAA}/30`,
      );
      await host("tavern").run(`ip route add default via ${NYAA}`);
      await host("nyaa").run(`ip route add default via ${TAVERN}`);
      for (const name of ["tavern", "nyaa"]) {
        for (const storeFile of hostSecretFiles(hostView(planned, config, name))) {
          const path = onHostKeyPath(DEFAULT_SECRETS_DIR, storeFile);
          await host(name).run(`mkdir -p "$(dirname ${path})" && umask 077 && cat > ${path}`, {
            input: `${await keys.secret(name, storeFile)}\n`,
          });
        }
        const file = (path: string) => files.find((f) => f.path === path)!.content;
        if (format === "wg-quick") {
          await applyWgQuick(host(name), "germany", file(`${name}/germany.conf`));
        } else {
          const base = `${name}/50-wgqt-germany`;
          await applyNetworkd(host(name), file(`${base}.netdev`), file(`${base}.network`));
        }
      }
    });

    afterAll(async () => {
      try {
        await lab?.cleanup();
      } finally {
        removeTunnelStores();
      }
    });

    const ping = (from: string, to: string, size: number) =>
      host(from).run(`ping -n -q -c 1 -w 8 -M do -s ${payload(size)} ${to}`, {
        allowFailure: true,
      });

    it("both ends' interface has the proxy's MTU", async () => {
      for (const name of ["tavern", "nyaa"]) {
        expect((await host(name).run("ip -o link show germany")).stdout).toContain(` mtu ${MTU} `);
      }
    });

    it("a packet of exactly the MTU crosses the tunnel unfragmented; one byte more is refused", async () => {
      expect((await ping("nyaa", "10.128.0.1", MTU)).code).toBe(0);
      expect((await ping("tavern", "10.128.0.2", MTU)).code).toBe(0);
      // Not -q: ping reports the sender's EMSGSIZE only per packet.
      const tooBig = await host("nyaa").run(
        `ping -n -c 1 -w 3 -M do -s ${payload(MTU + 1)} 10.128.0.1`,
        { allowFailure: true },
      );
      expect(tooBig.code).not.toBe(0);
      expect(tooBig.stderr).toContain(`message too long, mtu=${MTU}`);
    });

    it("the client keeps its gateway alive at the proxy's interval; the gateway does not", async () => {
      const client = (await host("nyaa").run("wg show germany persistent-keepalive")).stdout;
      expect(client).toBe(`${keys.publicKeys.tavern}\t${KEEPALIVE}\n`);
      const gateway = (await host("tavern").run("wg show germany persistent-keepalive")).stdout;
      expect(gateway).toBe(`${keys.publicKeys.nyaa}\toff\n`);
    });
  },
);
