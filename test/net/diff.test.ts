/**
 * diffPlans: what a config change would renumber, before anything is written.
 */
import { describe, expect, it } from "vitest";
import { StoreError } from "../../src/errors.js";
import { diffPlans, readPlanJson } from "../../src/net/diff.js";
import { plan, planJson } from "../../src/net/plan.js";
import { seedConfig } from "./fleet.js";

describe("diffPlans", () => {
  it("is empty for the same plan", () => {
    const planned = planJson(plan(seedConfig()));
    expect(diffPlans(planned, planned)).toEqual({ changed: [], added: [], removed: [] });
  });

  it("shows the renumbering a new client causes", () => {
    const before = plan(seedConfig());
    const config = seedConfig();
    config.machines.bard = { name: "bard", recipients: [] };
    config.proxies.germany!.clients.push("bard");
    const after = plan(config);
    // germany grows to 5 machines: it takes the first block and port; finland moves.
    expect(diffPlans(before, after)).toEqual({
      changed: [
        {
          network: "finland",
          machine: "archive",
          address: { from: "10.128.0.2", to: "10.128.0.10" },
          port: { from: 16842, to: 16843 },
        },
        {
          network: "finland",
          machine: "lighthouse",
          address: { from: "10.128.0.1", to: "10.128.0.9" },
          port: { from: 16842, to: 16843 },
        },
        {
          network: "finland",
          machine: "nyaa",
          address: { from: "10.128.0.3", to: "10.128.0.11" },
          port: { from: 16842, to: 16843 },
        },
        {
          network: "finland",
          machine: "spark",
          address: { from: "10.128.0.4", to: "10.128.0.12" },
          port: { from: 16842, to: 16843 },
        },
        {
          network: "germany",
          machine: "archive",
          address: { from: "10.128.0.10", to: "10.128.0.2" },
          port: { from: 16843, to: 16842 },
        },
        {
          network: "germany",
          machine: "nyaa",
          address: { from: "10.128.0.11", to: "10.128.0.4" },
          port: { from: 16843, to: 16842 },
        },
        {
          network: "germany",
          machine: "spark",
          address: { from: "10.128.0.12", to: "10.128.0.5" },
          port: { from: 16843, to: 16842 },
        },
        {
          network: "germany",
          machine: "tavern",
          address: { from: "10.128.0.9", to: "10.128.0.1" },
          port: { from: 16843, to: 16842 },
        },
      ],
      added: [{ network: "germany", machine: "bard" }],
      removed: [],
    });
  });

  it("lists only the port when only the port moves", () => {
    const before = plan(seedConfig());
    const config = seedConfig();
    config.udpStart = 20000;
    expect(diffPlans(before, plan(config)).changed[0]).toEqual({
      network: "finland",
      machine: "archive",
      port: { from: 16842, to: 20000 },
    });
  });
});

describe("readPlanJson", () => {
  it("round-trips what plan --json prints", () => {
    const text = JSON.stringify(plan(seedConfig()));
    expect(readPlanJson(JSON.parse(text))).toEqual(JSON.parse(text));
  });

  it("names the bad field", () => {
    const value = JSON.parse(JSON.stringify(plan(seedConfig())));
    value.networks[1].members[0].role = "boss";
    expect(() => readPlanJson(value, "wireguard_keys/plan.json")).toThrow(StoreError);
    expect(() => readPlanJson(value, "wireguard_keys/plan.json")).toThrow(
      /^wireguard_keys\/plan\.json: networks\.1\.members\.0\.role: /,
    );
  });

  it.each([
    ["port", 0, "networks.0.port: Too small: expected number to be >=1"],
    ["id", 1.5, "networks.0.id: Invalid input: expected int, received number"],
    ["members", [[]], "networks.0.members.0: Invalid input: expected object, received array"],
    ["name", undefined, "networks.0.name: Invalid input: expected string, received undefined"],
    ["kind", "star", 'networks.0.kind: Invalid option: expected one of "proxy"|"mesh"'],
  ])("words a bad %s as it always has", (field, bad, message) => {
    const value = JSON.parse(JSON.stringify(plan(seedConfig())));
    value.networks[0][field] = bad;
    expect(() => readPlanJson(value)).toThrow(`plan.json: ${message}`);
  });
});
