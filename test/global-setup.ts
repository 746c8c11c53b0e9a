import { execFileSync } from "node:child_process";

/** Spawned CLI tests run bin/wgqt, which runs dist/bundle/: build it once, first. */
export default function setup(): void {
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
  execFileSync(process.execPath, ["scripts/bundle.mjs"], { stdio: "inherit" });
}
