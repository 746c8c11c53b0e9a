/**
 * Mesh preshared keys through the CLI, in a fresh git repository: keygen makes
 * one per pair of members that peer (a pair also in a proxy keeps its one
 * file), and status, verify, plan, rotate, rekey and prune treat them like
 * every other key.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitLog, lastCommitFiles } from "../helpers/fleet.js";
import { Fleet } from "../helpers/lifecycle.js";
import { ok, TEST_ENV } from "../helpers/run.js";

let fleet: Fleet;

const config = () => readFileSync(join(fleet.repo, "wgqt.toml"), "utf8");
function commitConfig(text: string, message: string): void {
  writeFileSync(join(fleet.repo, "wgqt.toml"), text);
  ok("git", ["-C", fleet.repo, "commit", "-q", "-m", message, "--", "wgqt.toml"], {
    env: TEST_ENV,
  });
}
const psk = (pair: string) => join(fleet.keys, "preshared_keys", `${pair}.age`);
const MESH = '\n[meshes.home]\nmembers = ["laptop", "hub", "desk", "vps"]\nrelay = "hub"\n';

beforeAll(async () => {
  // hub and vps are gateways, so they have endpoints; laptop and desk roam.
  fleet = await Fleet.create({
    machines: { hub: "x25519", vps: "ssh-ed25519", laptop: "x25519", desk: "ssh-ed25519" },
    admins: { admin: "x25519" },
    proxies: {
      exit: { gateway: "vps", clients: ["laptop"] },
      backup: { gateway: "hub", clients: ["desk"] },
    },
  });
  commitConfig(`${config()}${MESH}`, "a mesh");
});

afterAll(() => fleet.cleanup());

describe("mesh preshared keys", () => {
  it("status and verify report the mesh pairs' keys as missing until keygen", async () => {
    const verify = await fleet.wgqt("verify");
    expect(verify.status).toBe(1);
    expect(verify.stdout).toMatch(/preshared_keys\/hub\+vps\.age/);
  });

  it("keygen makes one per peering pair, shares a pair's with its proxy, none for two roamers", async () => {
    const keygen = await fleet.wgqt("keygen");
    expect(keygen.status, keygen.stderr).toBe(0);
    expect(lastCommitFiles(fleet.repo).filter((file) => file.endsWith(".age"))).toEqual([
      "wireguard_keys/preshared_keys/desk+vps.age",
      "wireguard_keys/preshared_keys/hub+laptop.age",
      "wireguard_keys/preshared_keys/hub+vps.age",
    ]);
    for (const pair of ["desk+hub", "laptop+vps"]) expect(existsSync(psk(pair))).toBe(true);
    expect(existsSync(psk("desk+laptop"))).toBe(false);
    // Both machines of a pair, and the admin, can read its key; nobody else.
    expect(fleet.decrypt("hub", "preshared_keys/hub+laptop.age")).toBeDefined();
    expect(fleet.decrypt("laptop", "preshared_keys/hub+laptop.age")).toBeDefined();
    expect(fleet.decrypt("desk", "preshared_keys/hub+laptop.age")).toBeUndefined();
    expect((await fleet.wgqt("verify")).status).toBe(0);
    const status = await fleet.wgqt("status");
    expect(status.status, status.stderr).toBe(0);
  });

  it("plan shows the mesh and how the roaming members reach each other", async () => {
    const plan = await fleet.wgqt("plan");
    expect(plan.status, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/home +0 +16842 +10\.128\.0\.0\/29 +desk +member/);
    expect(plan.stdout).toMatch(/hub +relay +10\.128\.0\.2/);
    expect(plan.stderr).toContain(
      "mesh home: desk, laptop have no endpoint; they reach each other through the relay hub",
    );
    const json = JSON.parse((await fleet.wgqt("plan", "--json")).stdout);
    expect(json.networks[0]).toMatchObject({ name: "home", kind: "mesh", relay: "hub" });
    // A mesh of four sorts before the proxies of two: adding it moves them, and the
    // renumbering review says so until it is accepted; plan.json then reads back with the mesh.
    expect(plan.stderr).toContain("renumbering:");
    expect(plan.stderr).toContain("exit vps: 10.128.0.5 -> 10.128.0.13, port 16843 -> 16844");
    expect((await fleet.wgqt("render", "--format", "json")).status).toBe(1);
    expect((await fleet.wgqt("plan", "--write", "--yes")).status).toBe(0);
    expect(JSON.parse(readFileSync(join(fleet.keys, "plan.json"), "utf8"))).toEqual(json);
    expect((await fleet.wgqt("plan")).stderr).not.toContain("renumbering:");
    const list = JSON.parse((await fleet.wgqt("machine", "list", "--json")).stdout);
    expect(
      list.machines.find((machine: { name: string }) => machine.name === "laptop").networks,
    ).toEqual(["exit", "home"]);
    const removed = await fleet.wgqt("machine", "remove", "desk", "--yes");
    expect(removed.status).toBe(1);
    expect(removed.stderr).toContain("meshes.home (a member)");
    expect((await fleet.wgqt("render", "--format", "json")).status).toBe(0);
  });

  it("rotating a mesh member lists every mesh peer to redeploy, not a member it reaches through the relay", async () => {
    const rotate = await fleet.wgqt("rotate", "--machine", "laptop", "--yes");
    expect(rotate.status, rotate.stderr).toBe(0);
    const redeploy = rotate.stderr.slice(rotate.stderr.indexOf("redeploy these machines"));
    for (const machine of ["hub", "laptop", "vps"])
      expect(redeploy).toMatch(new RegExp(`\\n  ${machine} `));
    expect(redeploy).not.toMatch(/\n {2}desk /);
    expect(lastCommitFiles(fleet.repo).filter((file) => file.endsWith(".age"))).toEqual([
      "wireguard_keys/laptop.age",
      "wireguard_keys/preshared_keys/hub+laptop.age",
      "wireguard_keys/preshared_keys/laptop+vps.age",
    ]);
    expect((await fleet.wgqt("verify")).status).toBe(0);
  });

  it("rekey re-encrypts a member's mesh keys when its recipients change", async () => {
    fleet.identity("laptop2", "x25519");
    commitConfig(
      config().replace(fleet.ids.laptop!.recipient, fleet.ids.laptop2!.recipient),
      "laptop has a new host key",
    );
    const verify = await fleet.wgqt("verify");
    expect(verify.status).toBe(1);
    expect(verify.stdout).toContain(
      "wireguard_keys/preshared_keys/hub+laptop.age: recipients differ from wgqt.toml",
    );
    const rekey = await fleet.wgqt("rekey", "--identity", fleet.ids.admin!.identityFile, "--yes");
    expect(rekey.status, rekey.stderr).toBe(0);
    expect(gitLog(fleet.repo)[0]).toMatch(/^wgqt: rekey/);
    expect(fleet.decrypt("laptop2", "preshared_keys/hub+laptop.age")).toBeDefined();
    expect(fleet.decrypt("laptop", "preshared_keys/hub+laptop.age")).toBeUndefined();
    expect((await fleet.wgqt("verify")).status).toBe(0);
  });

  it("prune removes the key of a pair that no longer peers; a pair still in a proxy keeps its own", async () => {
    commitConfig(
      config().replace('"laptop", "hub", "desk", "vps"', '"laptop", "hub", "vps"'),
      "desk leaves home",
    );
    const verify = await fleet.wgqt("verify");
    expect(verify.status).toBe(1);
    expect(verify.stdout).toMatch(/preshared_keys\/desk\+vps\.age: orphaned/);
    const prune = await fleet.wgqt("prune", "--yes");
    expect(prune.status, prune.stderr).toBe(0);
    expect(lastCommitFiles(fleet.repo)).toContain("wireguard_keys/preshared_keys/desk+vps.age");
    expect(existsSync(psk("desk+vps"))).toBe(false);
    expect(existsSync(psk("desk+hub"))).toBe(true);
    expect((await fleet.wgqt("verify")).status).toBe(0);
  });
});
