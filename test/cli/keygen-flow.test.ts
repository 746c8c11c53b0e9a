/**
 * A new user's first run, on a pipe as scripts and CI run it: the right files,
 * one commit holding exactly them, and a second run that changes nothing.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

let repo: string;
let idDir: string;
const ids: Record<string, TestIdentity> = {};

beforeAll(() => {
  repo = makeRepo();
  idDir = makeTempDir("wgqt-ids-");
  for (const name of ["tavern", "nyaa", "spark"])
    ids[name] = makeIdentity(idDir, name, "ssh-ed25519");
  ids.admin = makeIdentity(idDir, "admin", "x25519");
});

afterAll(() => {
  removeDir(repo);
  removeDir(idDir);
});

const head = () => ok("git", ["-C", repo, "rev-parse", "HEAD"]).trim();

describe("a new user on a pipe", () => {
  it("wgqt init writes wgqt.toml and the store, in one commit", async () => {
    const result = await cli(repo, "init", "--admin", ids.admin!.recipient);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe("");
    expect(gitLog(repo)[0]).toBe("wgqt: init");
    expect(lastCommitFiles(repo)).toEqual([
      ".gitignore",
      "wgqt.toml",
      "wireguard_keys/machines.nix",
      "wireguard_keys/manifest.json",
      "wireguard_keys/secrets.nix",
    ]);
    expect(readFileSync(join(repo, "wgqt.toml"), "utf8")).toContain(ids.admin!.recipient);
  });

  it("wgqt machine add records the host key and commits wgqt.toml", async () => {
    for (const name of ["tavern", "nyaa", "spark"]) {
      const result = await cli(
        repo,
        "machine",
        "add",
        name,
        "--recipient-file",
        ids[name]!.recipientFile,
        ...(name === "tavern" ? ["--endpoint", "tavern.example.org"] : []),
      );
      expect(result.status, result.stderr).toBe(0);
      expect(gitLog(repo)[0]).toBe(`wgqt: add machine ${name}`);
    }
    expect(readFileSync(join(repo, "wgqt.toml"), "utf8")).toContain(
      '[machines.tavern]\nrecipients = ["ssh-ed25519 ',
    );
  });

  it("refuses a machine that exists, a bad name and a missing key, writing nothing", async () => {
    const before = readFileSync(join(repo, "wgqt.toml"), "utf8");
    const headBefore = head();
    const duplicate = await cli(
      repo,
      "machine",
      "add",
      "tavern",
      "--recipient",
      ids.tavern!.recipient,
    );
    expect(duplicate.status).toBe(1);
    expect(duplicate.stderr).toMatch(/^wgqt: .*wgqt\.toml: machines\.tavern: already exists\n$/);
    const badName = await cli(
      repo,
      "machine",
      "add",
      "../etc",
      "--recipient",
      ids.tavern!.recipient,
    );
    expect(badName.status).toBe(2);
    expect(badName.stderr).toBe(
      "wgqt: machine add: machine name \"../etc\" is not a host name (lowercase letters, digits and '-', not at either end)\n",
    );
    const noKey = await cli(repo, "machine", "add", "ghost");
    expect(noKey.status).toBe(2);
    const badKey = await cli(repo, "machine", "add", "ghost", "--recipient", "ssh-ed25519 AAAA");
    expect(badKey.status).toBe(1);
    expect(badKey.stderr).toMatch(/^wgqt: --recipient: /);
    expect(readFileSync(join(repo, "wgqt.toml"), "utf8")).toBe(before);
    expect(head()).toBe(headBefore);
  });

  it("wgqt keygen --machine tavern makes tavern's keypair and its PSKs, in one commit", async () => {
    appendFileSync(
      join(repo, "wgqt.toml"),
      '\n[proxies.germany]\ngateway = "tavern"\nclients = ["spark", "nyaa"]\n',
    );
    ok("git", ["-C", repo, "commit", "-qam", "add proxy germany"], {
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "T",
        GIT_AUTHOR_EMAIL: "t@e",
        GIT_COMMITTER_NAME: "T",
        GIT_COMMITTER_EMAIL: "t@e",
      },
    });
    // Something unrelated the user has staged must stay out of wgqt's commit.
    writeFileSync(join(repo, "notes.txt"), "mine\n");
    ok("git", ["-C", repo, "add", "notes.txt"]);

    const result = await cli(repo, "keygen", "--machine", "tavern");
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("+ keypair tavern");
    expect(result.stderr).toContain("+ preshared key nyaa+tavern");
    expect(gitLog(repo)[0]).toBe("wgqt: keygen tavern (keypair + 2 preshared keys)");
    expect(lastCommitFiles(repo)).toEqual([
      "wireguard_keys/machines.nix",
      "wireguard_keys/manifest.json",
      // The first keygen of a fleet with a network keeps its address plan.
      "wireguard_keys/plan.json",
      "wireguard_keys/preshared_keys/nyaa+tavern.age",
      "wireguard_keys/preshared_keys/spark+tavern.age",
      // The new proxy's pairs are new agenix rules.
      "wireguard_keys/secrets.nix",
      "wireguard_keys/tavern.age",
      "wireguard_keys/tavern.pub",
    ]);
    expect(ok("git", ["-C", repo, "diff", "--cached", "--name-only"]).trim()).toBe("notes.txt");
    expect(existsSync(join(repo, "wireguard_keys", "nyaa.age"))).toBe(false);
  });

  it("a second run changes nothing and commits nothing", async () => {
    const before = head();
    const result = await cli(repo, "keygen", "--machine", "tavern");
    expect(result.status).toBe(0);
    expect(result.stderr).toContain("nothing to do");
    expect(result.stderr).toContain("= kept keypair tavern");
    expect(head()).toBe(before);
  });

  it("plain wgqt keygen creates the rest and keeps tavern's keys", async () => {
    const tavernKey = readFileSync(join(repo, "wireguard_keys", "tavern.age"));
    const result = await cli(repo, "keygen");
    expect(result.status, result.stderr).toBe(0);
    expect(gitLog(repo)[0]).toBe("wgqt: keygen (2 keypairs)");
    expect(readFileSync(join(repo, "wireguard_keys", "tavern.age")).equals(tavernKey)).toBe(true);
    expect(
      readdirSync(join(repo, "wireguard_keys"))
        .filter((f) => f.endsWith(".pub"))
        .sort(),
    ).toEqual(["nyaa.pub", "spark.pub", "tavern.pub"]);
  });

  it("an unknown --machine is a usage error and writes nothing", async () => {
    const before = head();
    const result = await cli(repo, "keygen", "--machine", "ghost");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^wgqt: --machine: unknown machine "ghost"/);
    expect(head()).toBe(before);
    expect(ok("git", ["-C", repo, "status", "--porcelain", "wireguard_keys"])).toBe("");
  });

  it("machine list shows keys and networks; --json for scripts", async () => {
    const list = await cli(repo, "machine", "list");
    expect(list.stdout.split("\n")[0]).toMatch(
      /^MACHINE\s+PUBLIC KEY\s+RECIPIENTS\s+ENDPOINT\s+NETWORKS$/,
    );
    const json = JSON.parse((await cli(repo, "machine", "list", "--json")).stdout);
    expect(json.machines.map((m: { name: string }) => m.name)).toEqual(["nyaa", "spark", "tavern"]);
    expect(json.machines[2].networks).toEqual(["germany"]);
    expect(json.machines[2].publicKey).toBe(
      readFileSync(join(repo, "wireguard_keys", "tavern.pub"), "utf8").trim(),
    );
  });

  it("machine remove refuses a machine a proxy uses, then removes it with its keys", async () => {
    const used = await cli(repo, "machine", "remove", "spark", "--yes");
    expect(used.status).toBe(1);
    expect(used.stderr).toMatch(
      /proxies\.germany: uses "spark" as a client; remove it there first/,
    );
    const text = readFileSync(join(repo, "wgqt.toml"), "utf8").replace(
      'clients = ["spark", "nyaa"]',
      'clients = ["nyaa"]',
    );
    writeFileSync(join(repo, "wgqt.toml"), text);
    const removed = await cli(repo, "machine", "remove", "spark", "--yes");
    expect(removed.status, removed.stderr).toBe(0);
    expect(gitLog(repo)[0]).toBe("wgqt: remove machine spark");
    expect(lastCommitFiles(repo)).toEqual([
      "wgqt.toml",
      "wireguard_keys/machines.nix",
      "wireguard_keys/manifest.json",
      "wireguard_keys/preshared_keys/spark+tavern.age",
      "wireguard_keys/secrets.nix",
      "wireguard_keys/spark.age",
      "wireguard_keys/spark.pub",
    ]);
    expect(readFileSync(join(repo, "wgqt.toml"), "utf8")).not.toContain("[machines.spark]");
  });
});

describe("a store outside git", () => {
  it("works and says it did not commit", async () => {
    const dir = makeTempDir();
    try {
      expect((await cli(dir, "init")).status).toBe(0);
      const added = await cli(dir, "machine", "add", "solo", "--recipient", ids.nyaa!.recipient);
      expect(added.status, added.stderr).toBe(0);
      const result = await cli(dir, "keygen");
      expect(result.status, result.stderr).toBe(0);
      expect(result.stderr).toContain("not committed: not in a git repository");
      expect(existsSync(join(dir, "wireguard_keys", "solo.age"))).toBe(true);
    } finally {
      removeDir(dir);
    }
  });
});
