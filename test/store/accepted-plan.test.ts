/**
 * plan.json carries each network's IPv6 /64 forward: written, read back and
 * handed to the planner, it keeps a network's /64 when a network whose name
 * hashes to the same subnet id joins later, and an older plan.json without
 * /64s gets them. Against a real store directory and transactions.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Config } from "../../src/config/types.js";
import { networkBlock } from "../../src/net/ipv6.js";
import { type PlanJson, plan } from "../../src/net/plan.js";
import {
  pendingRenumbering,
  pinned,
  readAcceptedPlan,
  serializePlan,
  stageAcceptedPlan,
} from "../../src/store/accepted-plan.js";
import { PLAN_FILE } from "../../src/store/layout.js";
import { Transaction } from "../../src/store/transaction.js";
import { makeConfig } from "../net/fleet.js";
import { collidingPair } from "../net/subnets.js";

const PREFIX = "fd01:2:3::/48";

let root: string;
let keysDir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "wgqt-accepted-"));
  keysDir = join(root, "wireguard_keys");
  mkdirSync(keysDir);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** `networks`: name → clients, all through gateway `gw`. */
function fleet(networks: Record<string, string[]>, ipv6Prefix?: string): Config {
  const config = makeConfig({
    machines: { gw: { endpoint: "gw.example.org" }, a: {}, b: {} },
    proxies: Object.fromEntries(
      Object.entries(networks).map(([name, clients]) => [name, { gateway: "gw", clients }]),
    ),
  });
  return {
    ...config,
    path: join(root, "wgqt.toml"),
    dir: root,
    keysDir,
    ...(ipv6Prefix === undefined ? {} : { ipv6Prefix }),
  };
}

/** What a command writing the store does to plan.json for `config`. */
async function stage(config: Config): Promise<void> {
  const tx = new Transaction(root);
  stageAcceptedPlan(config, keysDir, {}, tx);
  await tx.commit("wgqt: test");
}

const onDisk = (): PlanJson => readAcceptedPlan(keysDir)!;
const network = (planned: PlanJson, name: string) =>
  planned.networks.find((entry) => entry.name === name)!;

describe("plan.json and the IPv6 /64s", () => {
  it("a network joining with a colliding subnet id takes the next; the one in plan.json stays", async () => {
    const { names, subnet } = collidingPair("j");
    // The joiner sorts first: without plan.json, it would take the id.
    const [joiner, existing] = names;
    await stage(fleet({ [existing]: ["a", "b"] }, PREFIX));
    const before = onDisk();
    expect(network(before, existing).cidr6).toBe(networkBlock(PREFIX, subnet));

    // A gateway-only network sorts after the existing one, so no IPv4 block moves either.
    const both = fleet({ [existing]: ["a", "b"], [joiner]: [] }, PREFIX);
    expect(network(plan(both), joiner).cidr6).toBe(networkBlock(PREFIX, subnet));
    await stage(both);
    const after = onDisk();
    expect(network(after, existing)).toEqual(network(before, existing));
    expect(network(after, joiner).cidr6).toBe(networkBlock(PREFIX, (subnet + 1) % 65536));
    expect(readFileSync(join(keysDir, PLAN_FILE), "utf8")).toBe(
      serializePlan(plan(both, {}, pinned(after))),
    );
    expect(pendingRenumbering(both, {})).toBeUndefined();

    // Without ipv6_prefix, the prefix comes from plan.json too: nothing moves.
    expect(
      plan(fleet({ [existing]: ["a", "b"], [joiner]: [] }), {}, pinned(after)).toJSON(),
    ).toEqual(after);
  });

  it("a changed ipv6_prefix is a renumbering of every member, IPv6 included", async () => {
    const { names } = collidingPair("j");
    const [joiner, existing] = names;
    await stage(fleet({ [existing]: ["a", "b"] }, PREFIX));
    await stage(fleet({ [existing]: ["a", "b"], [joiner]: [] }, PREFIX));
    const renumbered = fleet({ [existing]: ["a", "b"], [joiner]: [] }, "fd09::/48");
    expect(pendingRenumbering(renumbered, {})).toMatch(/moves 4 existing members/);
    const before = onDisk();
    await stage(renumbered); // a move is left for `wgqt plan --write`
    expect(onDisk()).toEqual(before);
  });

  it("an older plan.json without /64s gets them on the next write, and they stay", async () => {
    const config = fleet({ north: ["a"], south: ["b"] }, PREFIX);
    await stage(config);
    const full = onDisk();
    const older = {
      ...full,
      networks: full.networks.map(({ cidr6: _, ...rest }) => ({
        ...rest,
        members: rest.members.map(({ address6: __, ...member }) => member),
      })),
    };
    writeFileSync(join(keysDir, PLAN_FILE), `${JSON.stringify(older, null, 2)}\n`);
    expect(pinned(onDisk()).acceptedCidr6).toBeUndefined();
    await stage(config);
    expect(onDisk()).toEqual(full);
    expect(pinned(onDisk()).acceptedCidr6).toEqual({
      north: network(full, "north").cidr6,
      south: network(full, "south").cidr6,
    });
  });
});
