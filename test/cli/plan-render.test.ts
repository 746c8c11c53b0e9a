/**
 * `wgqt plan` and `wgqt render` as a user runs them, on a copy of the bundled
 * example fleet (the seed's machines and proxies).
 */
import { cpSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitLog, makeRepo, removeDir } from "../helpers/fleet.js";
import { cli, ok, ROOT } from "../helpers/run.js";

let repo: string;
const admin = () => join(repo, "examples", "identities", "admin.key");

beforeAll(() => {
  repo = makeRepo();
  for (const entry of ["wgqt.toml", "wireguard_keys", "examples"]) {
    cpSync(join(ROOT, entry), join(repo, entry), { recursive: true });
  }
  ok("git", ["-C", repo, "add", "."]);
  ok("git", ["-C", repo, "commit", "-qm", "example fleet"], {
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "T",
      GIT_AUTHOR_EMAIL: "t@e",
      GIT_COMMITTER_NAME: "T",
      GIT_COMMITTER_EMAIL: "t@e",
    },
  });
});

afterAll(() => removeDir(repo));

describe("wgqt plan", () => {
  it("reproduces the seed's worked example exactly (--json)", async () => {
    const result = await cli(repo, "plan", "--json");
    expect(result.status, result.stderr).toBe(0);
    // The example's admins give its IPv6 prefix; interface ids come from machine names.
    const members = (gateway: string, base: number, subnet: string, gatewayId: string) => [
      {
        machine: gateway,
        role: "gateway",
        address: `10.128.0.${base + 1}`,
        address6: `fdef:fc68:9aa1:${subnet}:${gatewayId}`,
      },
      {
        machine: "archive",
        role: "client",
        address: `10.128.0.${base + 2}`,
        address6: `fdef:fc68:9aa1:${subnet}:82b9:894c:ca4f:d913`,
      },
      {
        machine: "nyaa",
        role: "client",
        address: `10.128.0.${base + 3}`,
        address6: `fdef:fc68:9aa1:${subnet}:d2f4:5948:bf78:4098`,
      },
      {
        machine: "spark",
        role: "client",
        address: `10.128.0.${base + 4}`,
        address6: `fdef:fc68:9aa1:${subnet}:fbf0:28bd:cd7b:ed8a`,
      },
    ];
    expect(JSON.parse(result.stdout)).toEqual({
      networks: [
        {
          name: "finland",
          kind: "proxy",
          id: 0,
          port: 16842,
          cidr: "10.128.0.0/29",
          cidr6: "fdef:fc68:9aa1:9b83::/64",
          gateway: "lighthouse",
          members: members("lighthouse", 0, "9b83", "733e:670a:a090:d215"),
        },
        {
          name: "germany",
          kind: "proxy",
          id: 1,
          port: 16843,
          cidr: "10.128.0.8/29",
          cidr6: "fdef:fc68:9aa1:12a9::/64",
          gateway: "tavern",
          members: members("tavern", 8, "12a9", "ee81:1019:9376:c677"),
        },
      ],
      ipv6Prefix: "fdef:fc68:9aa1::/48",
    });
  });

  it("prints a table a person reads", async () => {
    const lines = (await cli(repo, "plan")).stdout.split("\n");
    expect(lines[0]).toMatch(/^NETWORK\s+ID\s+PORT\s+BLOCK\s+MEMBER\s+ROLE\s+ADDRESS\s+IPV6$/);
    expect(lines[1]).toMatch(
      /^finland\s+0\s+16842\s+10\.128\.0\.0\/29\s+lighthouse\s+gateway\s+10\.128\.0\.1\s+fdef:fc68:9aa1:9b83:733e:670a:a090:d215$/,
    );
    expect(lines[2]).toMatch(/^\s+fdef:fc68:9aa1:9b83::\/64\s+archive\s+client\s+10\.128\.0\.2\s/);
    expect(
      lines.find((line) => line.includes("nyaa") && line.includes("10.128.0.11")),
    ).toBeDefined();
  });

  it("--write keeps plan.json in the store and commits it", async () => {
    ok("git", ["-C", repo, "rm", "-q", "wireguard_keys/plan.json"]);
    ok("git", ["-C", repo, "commit", "-qm", "no plan yet"], {
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "T",
        GIT_AUTHOR_EMAIL: "t@e",
        GIT_COMMITTER_NAME: "T",
        GIT_COMMITTER_EMAIL: "t@e",
      },
    });
    const result = await cli(repo, "plan", "--write");
    expect(result.status, result.stderr).toBe(0);
    expect(gitLog(repo)[0]).toBe("wgqt: plan (2 networks)");
    expect((await cli(repo, "plan", "--write")).stderr).toContain("plan.json is up to date");
    expect(JSON.parse(readFileSync(join(repo, "wireguard_keys", "plan.json"), "utf8"))).toEqual(
      JSON.parse((await cli(repo, "plan", "--json")).stdout),
    );
  });

  it("shows renumbering before anything is written; render refuses until it is accepted", async () => {
    // A fourth client in germany grows its block from /29 to /28, which moves it.
    const config = readFileSync(join(repo, "wgqt.toml"), "utf8");
    writeFileSync(
      join(repo, "wgqt.toml"),
      `${config.replace(/(\[proxies\.germany\]\ngateway = "tavern"\nclients = \["nyaa", "spark", "archive")\]/, '$1, "lighthouse2"]')}\n[machines.lighthouse2]\nrecipients = [${JSON.stringify(readFileSync(join(repo, "examples", "identities", "archive.key.pub"), "utf8").trim())}]\n`,
    );
    const shown = await cli(repo, "plan");
    expect(shown.status).toBe(0);
    expect(shown.stderr).toContain("renumbering:");
    // germany now has more members, so it sorts first and takes id 0.
    expect(shown.stderr).toContain("germany nyaa: 10.128.0.11 -> 10.128.0.4, port 16843 -> 16842");
    const refused = await cli(repo, "render", "--format", "wg-quick");
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(
      /^wgqt: .*wgqt\.toml: renumbers \d+ existing members against plan\.json .*'wgqt plan --write'\n$/,
    );
    const piped = await cli(repo, "plan", "--write");
    expect(piped.status).toBe(2);
    expect(piped.stderr).toMatch(/pass --yes/);
    const accepted = await cli(repo, "plan", "--write", "--yes");
    expect(accepted.status, accepted.stderr).toBe(0);
    expect(gitLog(repo)[0]).toMatch(/^wgqt: plan \(2 networks, \d+ members renumbered\)$/);
    expect((await cli(repo, "keygen", "--machine", "lighthouse2")).status).toBe(0);
    const rendered = await cli(repo, "render", "--format", "wg-quick");
    expect(rendered.status, rendered.stderr).toBe(0);
    expect(rendered.stdout).toContain("Endpoint = tavern.example.org:16842");
    // Back to the seed's fleet for the render tests.
    writeFileSync(join(repo, "wgqt.toml"), config);
    expect((await cli(repo, "plan", "--write", "--yes")).status).toBe(0);
  });
});

describe("wgqt render", () => {
  it("writes every host's files under --out, byte-identical on a second run", async () => {
    const out = join(repo, "out");
    const first = await cli(repo, "render", "--format", "wg-quick", "--out", out);
    expect(first.status, first.stderr).toBe(0);
    const files = readdirSync(out, { recursive: true }).map(String).sort();
    expect(files).toContain(join("nyaa", "finland.conf"));
    expect(files).toContain(join("tavern", "germany.conf"));
    const before = files
      .filter((f) => f.endsWith(".conf"))
      .map((f) => readFileSync(join(out, f), "utf8"));
    const second = await cli(repo, "render", "--format", "wg-quick", "--out", out);
    expect(second.stderr).toContain("(0 changed)");
    expect(
      files.filter((f) => f.endsWith(".conf")).map((f) => readFileSync(join(out, f), "utf8")),
    ).toEqual(before);
    const nyaa = readFileSync(join(out, "nyaa", "germany.conf"), "utf8");
    expect(nyaa).toContain("Endpoint = tavern.example.org:16843");
    expect(nyaa).toContain("Address = 10.128.0.11/29");
    expect(nyaa).not.toMatch(/PrivateKey\s*=/);
    expect(nyaa).not.toContain("SaveConfig");
  });

  it("prints one host's NixOS module to stdout, with no secret in it", async () => {
    const result = await cli(repo, "render", "--machine", "tavern", "--format", "nixos");
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain("==> hosts/tavern.nix <==");
    // The names of its one network come with it, imported from its module; no other network's.
    expect(result.stdout).toContain("==> names/germany.nix <==");
    expect(result.stdout).toContain("../names/germany.nix");
    expect(result.stdout).not.toContain("names/finland.nix");
    expect(result.stdout).toMatch(/wireguard = \{\s+interfaces = \{\s+germany = \{/);
    expect(result.stdout).toContain("file = ../wireguard_keys/tavern.age;");
    const privateKey = ok("age", [
      "-d",
      "-i",
      admin(),
      join(repo, "wireguard_keys", "tavern.age"),
    ]).trim();
    expect(result.stdout).not.toContain(privateKey);
  });

  it("exports one host's keys only on request, to stdout only", async () => {
    const exported = await cli(
      repo,
      "render",
      "--machine",
      "nyaa",
      "--format",
      "wg-quick",
      "--identity",
      admin(),
    );
    expect(exported.status, exported.stderr).toBe(0);
    const privateKey = ok("age", [
      "-d",
      "-i",
      admin(),
      join(repo, "wireguard_keys", "nyaa.age"),
    ]).trim();
    expect(exported.stdout).toContain(`PrivateKey = ${privateKey}`);
    const toFile = await cli(
      repo,
      "render",
      "--machine",
      "nyaa",
      "--format",
      "wg-quick",
      "--identity",
      admin(),
      "--out",
      join(repo, "x"),
    );
    expect(toFile.status).toBe(2);
    expect(toFile.stderr).toBe("wgqt: --identity: exported keys go to stdout only, not to --out\n");
    const wrong = await cli(
      repo,
      "render",
      "--machine",
      "nyaa",
      "--format",
      "wg-quick",
      "--identity",
      join(repo, "examples", "identities", "tavern.key"),
    );
    expect(wrong.status).toBe(1);
    expect(wrong.stdout).toBe("");
  });

  it("rejects an unknown format or machine with a usage error", async () => {
    expect((await cli(repo, "render", "--format", "yaml")).stderr).toBe(
      'wgqt: --format: expected one of nixos, wg-quick, networkd, json, got "yaml"\n',
    );
    expect((await cli(repo, "render", "--machine", "ghost")).status).toBe(2);
  });
});
