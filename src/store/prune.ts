/**
 * `wgqt prune`: remove what wgqt.toml no longer asks for: key files of
 * machines that are gone, PSKs of pairs that are no longer peers, and temp
 * files an interrupted write left behind. Then the manifest and generated
 * files are brought in line. Planning is pure; `applyPrune` deletes.
 */
import type { Config } from "../config/types.js";
import { beginChange, type ChangeOptions, finishChange, stageRemoval } from "./apply.js";
import { orphanFiles } from "./inspect/problems.js";
import type { KeyStore } from "./keystore.js";

/** What {@link applyPrune} removes. */
export interface PrunePlan {
  /** Store-relative `.age` and `.pub` files nothing in wgqt.toml asks for. */
  orphans: string[];
  /** Store-relative leftover temp files. */
  tempFiles: string[];
  /** Manifest entries to drop: orphans, and entries whose file is already gone. */
  manifestEntries: string[];
}

/** What prune would remove. `tempFiles` comes from `findTempFiles`. Pure. */
export function planPrune(
  config: Config,
  store: KeyStore,
  tempFiles: readonly string[] = [],
): PrunePlan {
  const orphans = orphanFiles(config, store);
  const orphaned = new Set(orphans);
  const manifestEntries = Object.keys(store.manifest.files)
    .filter((file) => orphaned.has(file) || !store.encryptedFiles.has(file))
    .sort();
  return { orphans, tempFiles: [...tempFiles], manifestEntries };
}

/** Whether a prune plan removes nothing. */
export function pruneIsEmpty(plan: PrunePlan): boolean {
  return plan.orphans.length + plan.tempFiles.length + plan.manifestEntries.length === 0;
}

/**
 * Delete the planned files and rewrite the generated ones. Returns the absolute paths changed.
 *
 * @throws {StoreError} when a file cannot be removed or written; nothing is changed then.
 */
export async function applyPrune(
  config: Config,
  store: KeyStore,
  plan: PrunePlan,
  options: ChangeOptions = {},
): Promise<string[]> {
  const change = beginChange(config, store, options.afterApply);
  for (const file of [...plan.orphans, ...plan.tempFiles]) stageRemoval(change, file);
  for (const file of plan.manifestEntries) delete change.manifest.files[file];
  return finishChange(config, change, options.message ?? "wgqt: prune");
}
