/**
 * "Did you mean …?" for names a user typed: an unknown key in `wgqt.toml`
 * (`endpont`, `[proxy.x]`), a `keys_dir` that does not exist beside one that
 * does. Pure.
 */
import type * as v from "valibot";
import { schemaAt } from "../schema.js";

/** Edit distance (insertions, deletions, substitutions, adjacent swaps) between two words. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const columns = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: columns }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < columns; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate `word` was most likely meant as, or undefined when none is
 * close: at most two edits (a third of the word's length for long words), or
 * the same first four letters (`proxy` for `proxies`, `keys_directory` for
 * `keys_dir`). Ties go to the first in byte order, so the answer never
 * depends on the order candidates come in.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of [...new Set(candidates)].sort()) {
    if (name === word) continue;
    const distance = editDistance(lower, name.toLowerCase());
    const limit = Math.max(2, Math.floor(Math.max(word.length, name.length) / 3));
    const sharedStem = lower.length >= 4 && name.toLowerCase().startsWith(lower.slice(0, 4));
    if (distance > limit && !sharedStem) continue;
    if (best === undefined || distance < best.distance) best = { name, distance };
  }
  return best?.name;
}

/** `(did you mean "endpoint"?)`, or "" when nothing is close. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const match = closest(word, candidates);
  return match === undefined ? "" : ` (did you mean ${JSON.stringify(match)}?)`;
}

/**
 * The keys a table of `schema` may have at `path` (`["machines", "tavern"]`
 * is a machine's table), or none when the path does not lead to a table.
 * Read from the schema itself, so a new setting is suggested as soon as it
 * is accepted.
 */
export function knownKeysAt(schema: v.GenericSchema, path: readonly PropertyKey[]): string[] {
  const at = schemaAt(schema, path) as { entries?: Record<string, unknown> } | undefined;
  return at?.entries ? Object.keys(at.entries) : [];
}
