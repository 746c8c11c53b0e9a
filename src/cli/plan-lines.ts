/**
 * How a command shows what it will do before it does it. A short plan is
 * shown line by line (`+ preshared key nyaa+tavern`); a long one (a fleet's
 * first keygen is thousands of files) one line per machine, with what that
 * machine gets, unless `--verbose` asks for every line. Pure.
 */
import type { Pair } from "../config/peers.js";
import type { MemberChange } from "../net/diff.js";
import { byteOrder } from "../order.js";
import { grouped } from "./numbers.js";

/** One thing a plan does: its own line, and the machines it concerns. */
export interface PlanItem {
  /** The full line, as shown with `--verbose` or in a short plan. */
  line: string;
  /** The machines it concerns (one for a keypair, two for a pair's PSK). */
  machines: readonly string[];
  /** What it is, to count per machine: `keypair`, `preshared key`. */
  what: string;
}

/** `  + keypair tavern`: a machine's keypair in a plan, led by `symbol`. */
export function keypairItem(symbol: string, machine: string): PlanItem {
  return { line: `  ${symbol} keypair ${machine}`, machines: [machine], what: "keypair" };
}

/** `  + preshared key nyaa+tavern`: a pair's PSK in a plan, led by `symbol`. */
export function presharedKeyItem(symbol: string, peers: Pair): PlanItem {
  return {
    line: `  ${symbol} preshared key ${peers.join("+")}`,
    machines: peers,
    what: "preshared key",
  };
}

/** From how many lines a plan is summarized per machine. */
export const SUMMARY_FROM = 40;

/** `keypair`, `3 preshared keys`. */
function counted(count: number, what: string): string {
  return count === 1 ? what : `${count} ${what}s`;
}

/**
 * The lines to show for `items`: each one when the plan is short or
 * `verbose`; else `<symbol> <machine>: keypair, 12 preshared keys` per
 * machine (a pair's key counts for both of its machines), in byte order,
 * and a last line saying how to see every line.
 */
export function planLines(
  items: readonly PlanItem[],
  options: { verbose?: boolean; symbol: string; noun: string },
): string[] {
  if (options.verbose || items.length < SUMMARY_FROM) return items.map((item) => item.line);
  const perMachine = new Map<string, Map<string, number>>();
  for (const item of items) {
    for (const machine of item.machines) {
      const counts = perMachine.get(machine) ?? new Map<string, number>();
      counts.set(item.what, (counts.get(item.what) ?? 0) + 1);
      perMachine.set(machine, counts);
    }
  }
  const machines = [...perMachine.keys()].sort(byteOrder);
  const width = Math.max(...machines.map((machine) => machine.length));
  return [
    ...machines.map((machine) => {
      const parts = [...perMachine.get(machine)!].map(([what, count]) => counted(count, what));
      return `  ${options.symbol} ${`${machine}:`.padEnd(width + 1)} ${parts.join(", ")}`;
    }),
    `  (${grouped(items.length)} ${options.noun} for ${machines.length} ${machines.length === 1 ? "machine" : "machines"}; --verbose lists each one)`,
  ];
}

/** `a b c and 197 more`: a few names of a long list, and how many others, for one line. */
export function someNames(names: readonly string[], shown = 3): string {
  if (names.length <= shown + 1) return names.join(" ");
  return `${names.slice(0, shown).join(" ")} and ${names.length - shown} more`;
}

/** `a, b, c and 3 more`, or `a, b, c, d`: a list of names for a sentence. */
export function listNames(names: readonly string[], shown = 3): string {
  if (names.length <= shown + 1) return names.join(", ");
  return `${names.slice(0, shown).join(", ")} and ${names.length - shown} more`;
}

/** One line per renumbered member: `germany nyaa: 10.128.0.11 -> 10.128.0.12, port 16843 -> 16844`. */
export function describeRenumbering(moves: readonly MemberChange[]): string[] {
  return moves.map((change) => {
    const parts: string[] = [];
    if (change.address) parts.push(`${change.address.from} -> ${change.address.to}`);
    if (change.address6) parts.push(`${change.address6.from} -> ${change.address6.to}`);
    if (change.port) parts.push(`port ${change.port.from} -> ${change.port.to}`);
    return `  ${change.network} ${change.machine}: ${parts.join(", ")}`;
  });
}
