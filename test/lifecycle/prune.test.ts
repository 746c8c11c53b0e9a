/**
 * `wgqt prune`: once wgqt.toml no longer asks for a machine or a pair, its
 * files are orphans; verify names them, prune removes them (and leftover temp
 * files) after a yes, keeps every other byte, and commits.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitLog, lastCommitFiles } from "../helpers/fleet.js";
import { changedFiles, Fleet, snapshot } from "../helpers/lifecycle.js";

let fleet: Fleet;

const ORPHANS = [
  "lighthouse.age",
  "lighthouse.pub",
  "preshared_keys/lighthouse+nyaa.age",
  "preshared_keys/spark+tavern.age",
];
const TEMP = ".wgqt-tmp-tavern.age.4242.deadbeef";

beforeAll(async () => {
  fleet = await Fleet.create();
  // lighthouse is decommissioned (with its proxy); spark leaves germany.
  delete fleet.hostKeys.lighthouse;
  delete fleet.proxies.finland;
  fleet.proxies.germany!.clients = ["nyaa", "archive"];
  fleet.writeConfig("lighthouse gone, spark leaves germany");
  // A crash mid-write leaves a temp file behind.
  writeFileSync(join(fleet.keys, TEMP), "partial");
});

afterAll(() => fleet.cleanup());

describe("orphaned key files", () => {
  it("verify names each orphan and the temp file", async () => {
    const result = await fleet.wgqt("verify");
    expect(result.status).toBe(1);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines).toEqual(
      expect.arrayContaining([
        "wireguard_keys/lighthouse.age: orphaned: machine lighthouse is not in wgqt.toml (wgqt prune removes it)",
        "wireguard_keys/lighthouse.pub: orphaned: machine lighthouse is not in wgqt.toml (wgqt prune removes it)",
        "wireguard_keys/preshared_keys/lighthouse+nyaa.age: orphaned: machine lighthouse is not in wgqt.toml (wgqt prune removes it)",
        "wireguard_keys/preshared_keys/spark+tavern.age: orphaned: spark and tavern are no longer peers in any network (wgqt prune removes it)",
        `wireguard_keys/${TEMP}: leftover temp file from an interrupted write (wgqt prune, or any command that writes, removes it)`,
      ]),
    );
  });

  it("prune on a pipe without --yes exits 2 and removes no key file", async () => {
    const before = snapshot(fleet.keys);
    const head = fleet.head();
    const result = await fleet.wgqt("prune");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/pass --yes to confirm/);
    // A killed writer's temp file is garbage: every mutating command clears
    // it under the fleet lock before it starts. Key files stay.
    expect(changedFiles(before, snapshot(fleet.keys))).toEqual([TEMP]);
    expect(fleet.head()).toBe(head);
  });

  it("prune --yes removes exactly the orphans, keeps every other byte, and commits", async () => {
    const before = snapshot(fleet.keys);
    const result = await fleet.wgqt("prune", "--yes");
    expect(result.status, result.stderr).toBe(0);
    for (const file of [...ORPHANS, TEMP])
      expect(existsSync(join(fleet.keys, file)), file).toBe(false);
    expect(changedFiles(before, snapshot(fleet.keys))).toEqual(
      [...ORPHANS, "machines.nix", "manifest.json", "secrets.nix"].sort(),
    );
    expect(Object.keys(fleet.manifest().files).sort()).toEqual(fleet.encryptedFiles());
    expect(gitLog(fleet.repo)[0]).toBe("wgqt: prune (4 orphaned files)");
    // The temp file was never tracked, so the commit holds the rest.
    expect(lastCommitFiles(fleet.repo)).toEqual(
      [...ORPHANS, "machines.nix", "manifest.json", "secrets.nix"]
        .map((file) => `wireguard_keys/${file}`)
        .sort(),
    );
    expect((await fleet.wgqt("verify")).status).toBe(0);
  });

  it("a second prune has nothing to do", async () => {
    const head = fleet.head();
    const result = await fleet.wgqt("prune");
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/^nothing to prune/);
    expect(fleet.head()).toBe(head);
  });
});
