/**
 * The README's mesh example, run exactly as written: its `toml` block is
 * appended to a fleet of the four machines it names (hub and vps with an
 * endpoint, laptop and desk without), then its `sh` block's lines go to bash
 * one by one with `wgqt` on PATH, and what they print and write is what the
 * README says: a preshared key for every pair that peers, and a plan in which
 * laptop and desk reach each other through hub.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeIdentity, makeRepo, makeTempDir, removeDir } from "../helpers/fleet.js";
import { ok, ROOT, run, TEST_ENV, WGQT } from "../helpers/run.js";

/** The `toml` and `sh` blocks after the README's "**Meshes.**" paragraph. */
function meshBlocks(): { toml: string; sh: string[] } {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf("**Meshes.**");
  expect(start, "README: the mesh paragraph").toBeGreaterThan(0);
  const section = readme.slice(start);
  const toml = /```toml\n([\s\S]*?)```/.exec(section);
  const sh = /```sh\n([\s\S]*?)```/.exec(section);
  expect(toml, "README: the mesh's toml block").not.toBeNull();
  expect(sh, "README: the mesh's sh block").not.toBeNull();
  return { toml: toml![1]!, sh: sh![1]!.split("\n").filter((line) => line.trim() !== "") };
}

describe("the README's mesh", () => {
  let home: string;
  let repo: string;
  let env: NodeJS.ProcessEnv;
  const bash = (line: string) =>
    run("bash", ["-c", `set -o pipefail; ${line}`], { cwd: repo, env });

  beforeAll(() => {
    home = makeTempDir("wgqt-home-");
    const bin = join(home, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "wgqt"), `#!/bin/sh\nexec "${process.execPath}" "${WGQT}" "$@"\n`);
    chmodSync(join(bin, "wgqt"), 0o755);
    const ageDir = join(home, ".config", "age");
    mkdirSync(ageDir, { recursive: true });
    ok("age-keygen", ["-o", join(ageDir, "me.key")]);
    writeFileSync(join(ageDir, "me.pub"), ok("age-keygen", ["-y", join(ageDir, "me.key")]));
    env = { ...TEST_ENV, HOME: home, PATH: `${bin}:${process.env.PATH}` };

    repo = makeRepo();
    const setup = ["wgqt init --admin-file ~/.config/age/me.pub"];
    for (const [name, endpoint] of [
      ["hub", "hub.example.org"],
      ["vps", "vps.example.org"],
      ["laptop", undefined],
      ["desk", undefined],
    ] as const) {
      const identity = makeIdentity(home, name, "ssh-ed25519");
      setup.push(
        `wgqt machine add ${name} -R ${identity.recipientFile}${endpoint ? ` --endpoint ${endpoint}` : ""}`,
      );
    }
    for (const line of setup) {
      const result = bash(line);
      expect(result.status, `${line}: ${result.stderr}`).toBe(0);
    }
    const toml = join(repo, "wgqt.toml");
    writeFileSync(toml, `${readFileSync(toml, "utf8")}\n${meshBlocks().toml}`);
  });

  afterAll(() => {
    removeDir(repo);
    removeDir(home);
  });

  it("runs as written: keys for the five pairs that peer, and laptop–desk through hub", () => {
    const outputs = meshBlocks().sh.map((line) => {
      const result = bash(line);
      expect(result.status, `${line}: ${result.stderr}`).toBe(0);
      return result.stdout + result.stderr;
    });
    // Six pairs, less laptop+desk, which never peer: they have no endpoint.
    const psks = readdirSync(join(repo, "wireguard_keys", "preshared_keys")).sort();
    expect(psks).toEqual([
      "desk+hub.age",
      "desk+vps.age",
      "hub+laptop.age",
      "hub+vps.age",
      "laptop+vps.age",
    ]);
    const plan = outputs.at(-1)!;
    expect(plan).toMatch(/home/);
    expect(plan).toMatch(
      /desk, laptop have no endpoint; they reach each other through the relay hub/,
    );
  });
});
