/**
 * A mesh of 200 machines (19,900 pairs): half with endpoints, half roaming
 * through a relay. Planning and rendering it for every host in every format
 * stays well within the budget (2 s on a developer machine; the bound here
 * leaves room for a loaded CI runner), and every pair count is as documented.
 */
import { describe, expect, it } from "vitest";
import { peerPairs } from "../../src/config/peers.js";
import { hostView } from "../../src/net/host.js";
import { plan } from "../../src/net/plan.js";
import { FORMATS, render } from "../../src/render/index.js";
import { fakePublicKey, makeConfig } from "../net/fleet.js";

const SIZE = 200;
const names = Array.from({ length: SIZE }, (_, index) => `m${String(index).padStart(3, "0")}`);
const machines = Object.fromEntries(
  names.map((name, index) => [name, index % 2 === 0 ? { endpoint: `${name}.example.org` } : {}]),
);
const config = makeConfig({
  machines,
  proxies: {},
  meshes: { big: { members: names, relay: "m000" } },
});
const publicKeys = Object.fromEntries(names.map((name) => [name, fakePublicKey(name)]));

describe(`a mesh of ${SIZE} machines`, () => {
  it("has a preshared key for every pair but the roaming ones", () => {
    const roaming = SIZE / 2;
    expect(peerPairs(config)).toHaveLength((SIZE * (SIZE - 1)) / 2 - (roaming * (roaming - 1)) / 2);
  });

  it("plans and renders every host in every format quickly", () => {
    const started = performance.now();
    const planned = plan(config, publicKeys);
    const timings: Record<string, number> = {};
    for (const format of FORMATS) {
      const begin = performance.now();
      const files = render(planned, config, { format });
      timings[format] = performance.now() - begin;
      expect(files.length).toBeGreaterThanOrEqual(SIZE);
    }
    const total = performance.now() - started;
    expect(total).toBeLessThan(20_000);
    // The relay carries every roaming member; a roaming member, the relay's and the 99 others.
    expect(hostView(planned, config, "m000").interfaces[0]!.peers).toHaveLength(SIZE - 1);
    const roamer = hostView(planned, config, "m001").interfaces[0]!.peers;
    expect(roamer).toHaveLength(SIZE / 2);
    expect(roamer[0]!.allowedIPs).toHaveLength(2 * (1 + SIZE / 2 - 1));
  });
});
