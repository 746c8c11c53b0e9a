/**
 * Renumbering, shown before it happens. The CLI keeps the last plan next to
 * the store (`plan.json`, committed); a change to `wgqt.toml` that moves an
 * existing member to another address or port — the top complaint about
 * allocators — is listed from `diffPlans(old, new)` before anything is
 * written. Pure.
 */
import * as v from "valibot";
import { StoreError } from "../errors.js";
import { byteOrder } from "../order.js";
import { describeStoreIssue, openTable, wholeNumber } from "../schema.js";
import type { PlanJson } from "./plan.js";

/** A member present in both plans whose address or port differs. */
export interface MemberChange {
  network: string;
  machine: string;
  address?: { from: string; to: string };
  /** The IPv6 address, when both plans have one (a fleet prefix or a network name changed). */
  address6?: { from: string; to: string };
  port?: { from: number; to: number };
}

/** What {@link diffPlans} finds: members renumbered, added and removed. */
export interface PlanDiff {
  /** Members that would be renumbered: the ones to confirm. */
  changed: MemberChange[];
  /** Members (network/machine) only in the new plan. */
  added: { network: string; machine: string }[];
  /** Members only in the old plan. */
  removed: { network: string; machine: string }[];
}

type Located = {
  network: string;
  machine: string;
  address: string;
  address6: string | undefined;
  port: number;
};

/**
 * A plan's members by network name, then by machine; of a member listed twice
 * (plan.json edited by hand), the last. Maps within a map, not one keyed by
 * network and machine: a dense fleet has a member per client per network,
 * and each would make a key of its own.
 */
function members(planned: PlanJson): Map<string, Map<string, Located>> {
  const found = new Map<string, Map<string, Located>>();
  for (const network of planned.networks) {
    let byMachine = found.get(network.name);
    if (byMachine === undefined) {
      byMachine = new Map();
      found.set(network.name, byMachine);
    }
    for (const member of network.members) {
      byMachine.set(member.machine, {
        network: network.name,
        machine: member.machine,
        address: member.address,
        address6: member.address6,
        port: network.port,
      });
    }
  }
  return found;
}

const byNetworkThenMachine = (
  a: { network: string; machine: string },
  b: { network: string; machine: string },
) => byteOrder(a.network, b.network) || byteOrder(a.machine, b.machine);

/** What moves between two plans (a `Plan` works too: it has this shape and more). */
export function diffPlans(oldPlan: PlanJson, newPlan: PlanJson): PlanDiff {
  const before = members(oldPlan);
  const after = members(newPlan);
  const changed: MemberChange[] = [];
  const added: PlanDiff["added"] = [];
  const removed: PlanDiff["removed"] = [];
  for (const [network, olds] of before) {
    const nows = after.get(network);
    for (const [machine, old] of olds) {
      const now = nows?.get(machine);
      if (now === undefined) {
        removed.push({ network: old.network, machine: old.machine });
        continue;
      }
      // An address6 that appears or goes (ipv6 turned on or off, an older plan.json) moves nobody.
      const moved6 =
        old.address6 !== undefined && now.address6 !== undefined && now.address6 !== old.address6;
      if (now.address === old.address && now.port === old.port && !moved6) continue;
      changed.push({
        network: old.network,
        machine: old.machine,
        ...(now.address !== old.address ? { address: { from: old.address, to: now.address } } : {}),
        ...(moved6 ? { address6: { from: old.address6!, to: now.address6! } } : {}),
        ...(now.port !== old.port ? { port: { from: old.port, to: now.port } } : {}),
      });
    }
  }
  for (const [network, nows] of after) {
    const olds = before.get(network);
    for (const [machine, now] of nows)
      if (olds?.has(machine) !== true) added.push({ network: now.network, machine: now.machine });
  }
  return {
    changed: changed.sort(byNetworkThenMachine),
    added: added.sort(byNetworkThenMachine),
    removed: removed.sort(byNetworkThenMachine),
  };
}

const planJsonSchema = openTable({
  ipv6Prefix: v.optional(v.string()),
  networks: v.array(
    openTable({
      name: v.string(),
      kind: v.picklist(["proxy", "mesh"]),
      id: v.pipe(wholeNumber, v.minValue(0)),
      port: v.pipe(wholeNumber, v.minValue(1), v.maxValue(65535)),
      cidr: v.string(),
      cidr6: v.optional(v.string()),
      gateway: v.optional(v.string()),
      relay: v.optional(v.string()),
      members: v.array(
        openTable({
          machine: v.string(),
          role: v.picklist(["gateway", "client", "member", "relay"]),
          address: v.string(),
          address6: v.optional(v.string()),
        }),
      ),
    }),
  ),
});

/**
 * Validate a parsed `plan.json`; `source` names the file in the error.
 *
 * @param value - The result of `JSON.parse`.
 * @throws {StoreError} naming the field when `value` is not a plan.
 */
export function readPlanJson(value: unknown, source = "plan.json"): PlanJson {
  const parsed = v.safeParse(planJsonSchema, value);
  if (!parsed.success) {
    const problem = describeStoreIssue(planJsonSchema, parsed.issues[0]);
    throw new StoreError("store/corrupt", `${source}: ${problem}`);
  }
  return parsed.output;
}
