/**
 * What the tests that run the README as written share: its code blocks, and a
 * user's shell for them — a throwaway HOME whose `~/.config/age/me.key` and
 * `me.pub` are the admin's age identity and recipient, with `wgqt` on PATH.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { makeTempDir } from "./fleet.js";
import { ok, ROOT, run, TEST_ENV, WGQT } from "./run.js";

/** The first ```` ```lang ```` block of README.md after `marker`, as text. */
export function readmeBlock(marker: string, lang: "sh" | "toml"): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf(marker);
  expect(start, `README: ${marker}`).toBeGreaterThan(0);
  const fence = "```";
  const block = new RegExp(`${fence}${lang}\\n([\\s\\S]*?)${fence}`).exec(readme.slice(start));
  expect(block, `README: a ${lang} block after ${marker}`).not.toBeNull();
  return block![1]!;
}

/** The non-empty lines of the first `sh` block of README.md after `marker`. */
export function readmeLines(marker: string): string[] {
  return readmeBlock(marker, "sh")
    .split("\n")
    .filter((line) => line.trim() !== "");
}

/** A user's shell: HOME with the admin's age key, `wgqt` on PATH, and bash to run lines in `cwd`. */
export interface ReadmeUser {
  home: string;
  env: NodeJS.ProcessEnv;
  bash(line: string, cwd: string): ReturnType<typeof run>;
}

/** Make a {@link ReadmeUser}; `extraEnv` is added to its environment (e.g. `EDITOR`). */
export function readmeUser(extraEnv: NodeJS.ProcessEnv = {}): ReadmeUser {
  const home = makeTempDir("wgqt-home-");
  const bin = join(home, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "wgqt"), `#!/bin/sh\nexec "${process.execPath}" "${WGQT}" "$@"\n`);
  chmodSync(join(bin, "wgqt"), 0o755);
  const ageDir = join(home, ".config", "age");
  mkdirSync(ageDir, { recursive: true });
  ok("age-keygen", ["-o", join(ageDir, "me.key")]);
  writeFileSync(join(ageDir, "me.pub"), ok("age-keygen", ["-y", join(ageDir, "me.key")]));
  const env = { ...TEST_ENV, HOME: home, PATH: `${bin}:${process.env.PATH}`, ...extraEnv };
  return {
    home,
    env,
    bash: (line, cwd) => run("bash", ["-c", `set -o pipefail; ${line}`], { cwd, env }),
  };
}
