/**
 * Every commit wgqt makes is self-consistent: a fresh clone of it passes
 * `wgqt verify`. The store's files are made from the wgqt.toml in the work
 * tree; when they depend on edits the user has not committed, those edits go
 * into the commit (and the command says so), and edits they do not depend on
 * stay out of it, uncommitted in the file.
 */
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyClone } from "../helpers/clone.js";
import {
  gitLog,
  lastCommitFiles,
  makeIdentity,
  makeRepo,
  makeTempDir,
  removeDir,
  type TestIdentity,
} from "../helpers/fleet.js";
import { cli, ok } from "../helpers/run.js";

const MACHINES = ["tavern", "lighthouse", "nyaa", "spark", "archive"];
const GATEWAYS: Record<string, string> = {
  tavern: "tavern.example.org",
  lighthouse: "lighthouse.example.org",
};
const PROXIES = `
[proxies.germany]
gateway = "tavern"
clients = ["nyaa", "spark", "archive"]

[proxies.finland]
gateway = "lighthouse"
clients = ["nyaa", "spark", "archive"]
`;

let repo: string;
let idDir: string;
const ids: Record<string, TestIdentity> = {};
const toml = () => join(repo, "wgqt.toml");
const headToml = () => ok("git", ["-C", repo, "show", "HEAD:wgqt.toml"]);
const expectCloneVerifies = async (step: string) => {
  const result = await verifyClone(repo);
  expect(result.status, `${step}: a clone of HEAD fails verify:\n${result.stdout}`).toBe(0);
};

beforeAll(() => {
  repo = makeRepo();
  idDir = makeTempDir("wgqt-ids-");
  for (const name of MACHINES) ids[name] = makeIdentity(idDir, name, "ssh-ed25519");
  ids.admin = makeIdentity(idDir, "admin", "x25519");
  ids.admin2 = makeIdentity(idDir, "admin2", "x25519");
});

afterAll(() => {
  removeDir(repo);
  removeDir(idDir);
});

describe("a fresh fleet of five machines and two proxies, as Getting started makes it", () => {
  it("init and each machine add leave a HEAD that verifies", async () => {
    expect((await cli(repo, "init", "--admin-file", ids.admin!.recipientFile)).status).toBe(0);
    await expectCloneVerifies("init");
    for (const name of MACHINES) {
      const endpoint = GATEWAYS[name] ? ["--endpoint", GATEWAYS[name]] : [];
      const added = await cli(
        repo,
        "machine",
        "add",
        name,
        "-R",
        ids[name]!.recipientFile,
        ...endpoint,
      );
      expect(added.status, added.stderr).toBe(0);
      await expectCloneVerifies(`machine add ${name}`);
    }
  });

  it("keygen after proxies added by hand commits wgqt.toml with them, and says so", async () => {
    appendFileSync(toml(), PROXIES);
    await expectCloneVerifies("the hand edit (nothing committed)");
    const keygen = await cli(repo, "keygen");
    expect(keygen.status, keygen.stderr).toBe(0);
    expect(keygen.stderr).toContain(
      "committed wgqt.toml with your uncommitted edits too: the key store's files depend on them",
    );
    expect(lastCommitFiles(repo)).toContain("wgqt.toml");
    expect(lastCommitFiles(repo)).toContain("wireguard_keys/plan.json");
    expect(headToml()).toContain("[proxies.finland]");
    expect(ok("git", ["-C", repo, "log", "-1", "--format=%b"])).toContain(
      "With the uncommitted edits to wgqt.toml: the key store's files depend on them.",
    );
    // Nothing of wgqt's is left uncommitted, and the clone has every key and PSK.
    expect(ok("git", ["-C", repo, "status", "--porcelain", "--untracked-files=no"])).toBe("");
    await expectCloneVerifies("keygen");
    expect((await verifyClone(repo)).stderr).toMatch(/^verify ok: 11 encrypted files/);
  });

  it("machine add leaves an unrelated udp_start edit out of its commit, in the file", async () => {
    writeFileSync(
      toml(),
      readFileSync(toml(), "utf8").replace(/^udp_start *= *16842/m, "udp_start = 20000"),
    );
    const zed = makeIdentity(idDir, "zed", "ssh-ed25519");
    const added = await cli(repo, "machine", "add", "zed", "-R", zed.recipientFile);
    expect(added.status, added.stderr).toBe(0);
    expect(gitLog(repo)[0]).toBe("wgqt: add machine zed");
    expect(added.stderr).toContain(
      "left your other uncommitted edits to wgqt.toml out of the commit (they stay in the file)",
    );
    expect(headToml()).toContain("[machines.zed]");
    expect(headToml()).toMatch(/^udp_start += 16842/m);
    expect(readFileSync(toml(), "utf8")).toMatch(/^udp_start = 20000/m);
    // The index holds what was committed; the edit is still the user's to commit.
    expect(ok("git", ["-C", repo, "diff", "--cached", "--name-only"])).toBe("");
    expect(ok("git", ["-C", repo, "diff", "--name-only"]).trim()).toBe("wgqt.toml");
    await expectCloneVerifies("machine add zed");
  });

  it("keygen for the new machine leaves the udp_start edit out too", async () => {
    const keygen = await cli(repo, "keygen", "--machine", "zed");
    expect(keygen.status, keygen.stderr).toBe(0);
    expect(lastCommitFiles(repo)).not.toContain("wgqt.toml");
    expect(keygen.stderr).not.toContain("uncommitted edits");
    expect(headToml()).toMatch(/^udp_start += 16842/m);
    await expectCloneVerifies("keygen --machine zed");
    writeFileSync(toml(), headToml());
  });

  it("rekey after an admin added by hand commits wgqt.toml with the admin", async () => {
    writeFileSync(
      toml(),
      readFileSync(toml(), "utf8").replace(
        /^admins = \[\n/m,
        `admins = [\n  ${JSON.stringify(ids.admin2!.recipient)},\n`,
      ),
    );
    const rekey = await cli(repo, "rekey", "--identity", ids.admin!.identityFile);
    expect(rekey.status, rekey.stderr).toBe(0);
    expect(lastCommitFiles(repo)).toContain("wgqt.toml");
    expect(headToml()).toContain(ids.admin2!.recipient);
    await expectCloneVerifies("rekey");
  });

  it("prune after a client left a proxy by hand commits wgqt.toml without it", async () => {
    writeFileSync(
      toml(),
      readFileSync(toml(), "utf8").replace(
        'gateway = "lighthouse"\nclients = ["nyaa", "spark", "archive"]',
        'gateway = "lighthouse"\nclients = ["nyaa", "spark"]',
      ),
    );
    const prune = await cli(repo, "prune", "--yes");
    expect(prune.status, prune.stderr).toBe(0);
    expect(lastCommitFiles(repo)).toContain("wgqt.toml");
    expect(lastCommitFiles(repo)).toContain("wireguard_keys/preshared_keys/archive+lighthouse.age");
    await expectCloneVerifies("prune");
  });

  it("rotate with an unrelated edit pending commits only the keys", async () => {
    writeFileSync(
      toml(),
      readFileSync(toml(), "utf8").replace(
        'ipv4_start = "10.128.0.0"',
        'ipv4_start = "10.200.0.0"',
      ),
    );
    const rotate = await cli(repo, "rotate", "--machine", "spark", "--yes");
    expect(rotate.status, rotate.stderr).toBe(0);
    expect(lastCommitFiles(repo)).not.toContain("wgqt.toml");
    expect(headToml()).toContain('ipv4_start = "10.128.0.0"');
    await expectCloneVerifies("rotate");
  });

  it("vpn import leaves the unrelated edit out too, and its commit verifies", async () => {
    const server = ok("wg", ["pubkey"], { input: ok("wg", ["genkey"]) }).trim();
    const file = join(idDir, "us-west.conf");
    writeFileSync(
      file,
      `[Interface]\nPrivateKey = ${ok("wg", ["genkey"]).trim()}\nAddress = 10.64.1.2/32\n\n[Peer]\nPublicKey = ${server}\nEndpoint = 198.51.100.7:51820\nAllowedIPs = 0.0.0.0/0\n`,
    );
    const imported = await cli(
      repo,
      "vpn",
      "import",
      "us-west",
      "--from",
      file,
      "--machine",
      "nyaa",
    );
    expect(imported.status, imported.stderr).toBe(0);
    expect(imported.stderr).toContain(
      "left your other uncommitted edits to wgqt.toml out of the commit",
    );
    expect(headToml()).toContain("[vpns.us-west]");
    expect(headToml()).toContain('ipv4_start = "10.128.0.0"');
    expect(readFileSync(toml(), "utf8")).toContain('ipv4_start = "10.200.0.0"');
    await expectCloneVerifies("vpn import");
  });
});
