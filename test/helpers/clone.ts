/** What someone who clones the fleet gets: HEAD, checked out fresh, and `wgqt verify` on it. */
import { join } from "node:path";
import { makeTempDir, removeDir } from "./fleet.js";
import { ok, type Result, run, TEST_ENV, WGQT } from "./run.js";

/** Clone `repo`'s HEAD into a scratch directory and run `wgqt verify` there. */
export function verifyClone(repo: string): Result {
  const scratch = makeTempDir("wgqt-clone-");
  try {
    const clone = join(scratch, "fleet");
    ok("git", ["clone", "-q", repo, clone]);
    return run(process.execPath, [WGQT, "verify"], { cwd: clone, env: TEST_ENV });
  } finally {
    removeDir(scratch);
  }
}
