/**
 * `plan.json`, the accepted address plan (docs/networks.md "Renumbering is
 * reviewed, never a surprise"). An address or port that changes breaks the deployed
 * tunnels of everyone in that network until they are redeployed, so a plan
 * that moves an existing member is accepted only by `wgqt plan --write`,
 * after the user has seen the moves.
 *
 * For that, plan.json must know every member: every command that writes the
 * store keeps it so here, in the same transaction, as long as nobody moves.
 * It is written when it is absent (nothing was accepted yet) and the fleet
 * has a network, and rewritten when members joined and nobody moved; a plan
 * that would move someone is left for `wgqt plan --write`.
 */
import { join } from "node:path";
import type { Config } from "../config/types.js";
import { StoreError, WgqtError } from "../errors.js";
import { diffPlans, type MemberChange, readPlanJson } from "../net/diff.js";
import {
  plan as makePlan,
  type Plan,
  type PlanJson,
  type PlanOptions,
  planJson,
} from "../net/plan.js";
import { readStoreFileSync } from "./files.js";
import type { KeyStore } from "./keystore.js";
import { PLAN_FILE } from "./layout.js";
import { type AfterApply, Transaction } from "./transaction.js";

/** plan.json's bytes for a plan: pretty JSON, one trailing newline. */
export function serializePlan(plan: Pick<Plan, "networks"> & { ipv6Prefix?: string }): string {
  return `${JSON.stringify(planJson(plan), null, 2)}\n`;
}

/**
 * The accepted plan in the store at `dir`, or undefined when there is none.
 *
 * @param dir - The key store directory (absolute).
 * @throws {StoreError} when `plan.json` is not valid JSON or not a plan.
 */
export function readAcceptedPlan(dir: string): PlanJson | undefined {
  const path = join(dir, PLAN_FILE);
  const bytes = readStoreFileSync(path);
  if (bytes === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    throw new StoreError("store/corrupt", `${path}: not valid JSON (${(error as Error).message})`);
  }
  return readPlanJson(json, path);
}

/**
 * The planner's options for an accepted plan: its IPv6 prefix, which stays
 * unless wgqt.toml sets another, and each network's /64, which stays while
 * it is one of the fleet prefix's.
 */
export function pinned(accepted: PlanJson | undefined): PlanOptions {
  if (accepted === undefined) return {};
  const cidr6 = accepted.networks.flatMap((network) =>
    network.cidr6 === undefined ? [] : [[network.name, network.cidr6] as const],
  );
  return {
    ...(accepted.ipv6Prefix === undefined ? {} : { acceptedIpv6Prefix: accepted.ipv6Prefix }),
    ...(cidr6.length === 0 ? {} : { acceptedCidr6: Object.fromEntries(cidr6) }),
  };
}

/**
 * Hosts whose networks moved between the accepted plan and `plan`: every
 * member, in `plan`, of a network in which some existing member changed
 * address or port. Byte order.
 */
export function movedHosts(accepted: PlanJson, plan: Pick<Plan, "networks">): string[] {
  const moved = new Set(diffPlans(accepted, plan).changed.map((change) => change.network));
  const hosts = new Set<string>();
  for (const network of plan.networks)
    if (moved.has(network.name)) for (const member of network.members) hosts.add(member.machine);
  return [...hosts].sort();
}

/**
 * Stage plan.json for `config` when that accepts no move: see the module
 * comment. A plan that cannot be made (a gateway without an endpoint, say)
 * or an unreadable plan.json is left for `wgqt plan` and `wgqt render` to
 * report; the command writing the store goes on without it.
 */
export function stageAcceptedPlan(
  config: Config,
  dir: string,
  publicKeys: Record<string, string>,
  tx: Transaction,
): void {
  let plan: Plan;
  let accepted: PlanJson | undefined;
  try {
    accepted = readAcceptedPlan(dir);
    plan = makePlan(config, publicKeys, pinned(accepted));
  } catch (error) {
    if (error instanceof WgqtError) return;
    throw error;
  }
  if (accepted === undefined) {
    if (plan.networks.length > 0) tx.write(join(dir, PLAN_FILE), serializePlan(plan), 0o644);
    return;
  }
  // Members who left need no review and stay listed until the next write;
  // members who joined must be recorded, so that their later moves are reviewed.
  // An older plan.json without the IPv6 prefix or a network's /64 gets them, so that they never move.
  const diff = diffPlans(accepted, plan);
  const unpinned =
    (accepted.ipv6Prefix === undefined && plan.networks.length > 0) ||
    unrecordedCidr6(accepted, plan);
  if (diff.changed.length === 0 && (diff.added.length > 0 || unpinned))
    tx.write(join(dir, PLAN_FILE), serializePlan(plan), 0o644);
}

/** Whether a network of `plan` has a /64 that the accepted plan lists it without. */
function unrecordedCidr6(accepted: PlanJson, plan: Plan): boolean {
  const recorded = new Map(accepted.networks.map((network) => [network.name, network.cidr6]));
  return plan.networks.some(
    (network) =>
      network.cidr6 !== undefined &&
      recorded.has(network.name) &&
      recorded.get(network.name) === undefined,
  );
}

/**
 * Accepting the address plan (`wgqt plan --write`): the plan wgqt.toml and
 * the store give now, the accepted one, and the members it moves.
 */
export interface AcceptPlan {
  /** plan.json, absolute. */
  path: string;
  plan: Plan;
  /** plan.json as it is, when there is one. */
  accepted?: PlanJson;
  /** Existing members whose address or port changes against plan.json. */
  moves: MemberChange[];
}

/** What accepting the current plan would change. Reads plan.json; writes nothing. */
export function planAcceptPlan(config: Config, store: KeyStore): AcceptPlan {
  const path = join(config.keysDir, PLAN_FILE);
  const accepted = readAcceptedPlan(config.keysDir);
  const plan = makePlan(config, store.publicKeys(), pinned(accepted));
  if (accepted === undefined) return { path, plan, moves: [] };
  return { path, plan, accepted, moves: diffPlans(accepted, plan).changed };
}

/** `wgqt: plan (3 networks, 2 members renumbered)`. */
export function acceptPlanMessage(plan: AcceptPlan): string {
  const moved = plan.moves.length;
  return `wgqt: plan (${plan.plan.networks.length} networks${moved ? `, ${moved} members renumbered` : ""})`;
}

/** Write plan.json. Returns the absolute paths changed: none when it was up to date. */
export function applyAcceptPlan(
  config: Config,
  plan: AcceptPlan,
  options: { message?: string; afterApply?: AfterApply } = {},
): Promise<string[]> {
  const tx = new Transaction(config.dir, options.afterApply);
  tx.write(plan.path, serializePlan(plan.plan), 0o644);
  return tx.commit(options.message ?? acceptPlanMessage(plan));
}

/**
 * A line for a command that changed the fleet when wgqt.toml now moves
 * existing members against plan.json (removing a client moves the clients
 * after it), or undefined when nobody moves.
 */
export function pendingRenumbering(
  config: Config,
  publicKeys: Record<string, string>,
): string | undefined {
  let moves: number;
  try {
    const accepted = readAcceptedPlan(config.keysDir);
    if (accepted === undefined) return undefined;
    moves = diffPlans(accepted, makePlan(config, publicKeys, pinned(accepted))).changed.length;
  } catch {
    return undefined; // `wgqt plan` and `wgqt render` report it
  }
  if (moves === 0) return undefined;
  return `renumbering: wgqt.toml now moves ${moves} existing ${moves === 1 ? "member" : "members"} against ${PLAN_FILE}; review with 'wgqt plan', accept with 'wgqt plan --write' (render holds back their hosts until then)`;
}
