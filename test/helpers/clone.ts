/** What someone who clones the fleet gets: HEAD, checked out fresh, and `wgqt verify` on it. */
import { join } from "node:path";
import { makeTempDir, removeDir } from "./fleet.js";
import { cli, ok, type Result } from "./run.js";

/** Clone `repo`'s HEAD into a scratch directory and run `wgqt verify` there (in-process). */
export async function verifyClone(repo: string): Promise<Result> {
  const scratch = makeTempDir("wgqt-clone-");
  try {
    const clone = join(scratch, "fleet");
    ok("git", ["clone", "-q", repo, clone]);
    return await cli(clone, "verify");
  } finally {
    removeDir(scratch);
  }
}
