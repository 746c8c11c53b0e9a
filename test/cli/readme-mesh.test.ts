/**
 * The README's mesh example, run exactly as written: its `toml` block is
 * appended to a fleet of the four machines it names (hub and vps with an
 * endpoint, laptop and desk without), then its `sh` block's lines go to bash
 * one by one with `wgqt` on PATH, and what they print and write is what the
 * README says: a preshared key for every pair that peers, and a plan in which
 * laptop and desk reach each other through hub.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeIdentity, makeRepo, removeDir } from "../helpers/fleet.js";
import { type ReadmeUser, readmeBlock, readmeLines, readmeUser } from "../helpers/readme.js";

const MESH = "**Meshes.**";

describe("the README's mesh", () => {
  let user: ReadmeUser;
  let repo: string;
  const bash = (line: string) => user.bash(line, repo);

  beforeAll(() => {
    user = readmeUser();
    repo = makeRepo();
    const setup = ["wgqt init --admin-file ~/.config/age/me.pub"];
    for (const [name, endpoint] of [
      ["hub", "hub.example.org"],
      ["vps", "vps.example.org"],
      ["laptop", undefined],
      ["desk", undefined],
    ] as const) {
      const identity = makeIdentity(user.home, name, "ssh-ed25519");
      setup.push(
        `wgqt machine add ${name} -R ${identity.recipientFile}${endpoint ? ` --endpoint ${endpoint}` : ""}`,
      );
    }
    for (const line of setup) {
      const result = bash(line);
      expect(result.status, `${line}: ${result.stderr}`).toBe(0);
    }
    const toml = join(repo, "wgqt.toml");
    writeFileSync(toml, `${readFileSync(toml, "utf8")}\n${readmeBlock(MESH, "toml")}`);
  });

  afterAll(() => {
    removeDir(repo);
    removeDir(user.home);
  });

  it("runs as written: keys for the five pairs that peer, and laptop–desk through hub", () => {
    const outputs = readmeLines(MESH).map((line) => {
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
