/**
 * The README's Getting started and Key lifecycle, run exactly as written: the
 * commands of each section's `sh` block go to bash one by one (with `wgqt` on
 * PATH, a throwaway HOME holding the admin's age key, and the hosts' keys
 * beside wgqt.toml), the `$EDITOR wgqt.toml` steps are done as their comments
 * say, and after every step a fresh clone of HEAD passes `wgqt verify`: every
 * commit wgqt makes is self-consistent.
 */
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyClone } from "../helpers/clone.js";
import { gitLog, makeIdentity, makeRepo, removeDir } from "../helpers/fleet.js";
import { type ReadmeUser, readmeUser } from "../helpers/readme.js";
import { ok, ROOT } from "../helpers/run.js";

const README = () => readFileSync(join(ROOT, "README.md"), "utf8");

/** The lines of the first `sh` block of the README section titled `heading`. */
function shBlock(heading: string): string[] {
  const readme = README();
  const start = readme.indexOf(`\n## ${heading}`);
  expect(start, `README: a "## ${heading}" section`).toBeGreaterThan(0);
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  expect(block, `README: an sh block in "${heading}"`).not.toBeNull();
  return block![1]!.split("\n").filter((line) => line.trim() !== "");
}

/** The `[proxies.germany]` table of the README's wgqt.toml example. */
function readmeProxy(): { gateway: string; clients: string[] } {
  const table = /\[proxies\.germany\][^\n]*\ngateway = "([^"]+)"\nclients = (\[[^\]]*\])/.exec(
    README(),
  );
  expect(table, "README: the [proxies.germany] example").not.toBeNull();
  return { gateway: table![1]!, clients: JSON.parse(table![2]!) };
}

describe("the README's Getting started and Key lifecycle, as written", () => {
  let user: ReadmeUser;
  let repo: string;
  const toml = () => join(repo, "wgqt.toml");
  const bash = (line: string) => user.bash(line, repo);

  /** What each `$EDITOR wgqt.toml` step of the README asks for, by its comment. */
  const EDITS: [RegExp, () => void][] = [
    [
      /add a proxy/,
      () => {
        // The README's example proxy, with the clients this fleet has.
        const { gateway, clients } = readmeProxy();
        const text = readFileSync(toml(), "utf8");
        const present = clients.filter((name) => text.includes(`[machines.${name}]`));
        writeFileSync(
          toml(),
          `${text}\n[proxies.germany]\ngateway = "${gateway}"\nclients = ${JSON.stringify(present)}\n`,
        );
      },
    ],
    [
      /add .*admin/,
      () => {
        const second = makeIdentity(user.home, "second-admin", "x25519");
        const text = readFileSync(toml(), "utf8");
        writeFileSync(
          toml(),
          text.replace(/^admins = \[\n/m, `admins = [\n  "${second.recipient}",\n`),
        );
      },
    ],
    [
      /take nyaa out of the proxy/,
      () => {
        const text = readFileSync(toml(), "utf8");
        writeFileSync(toml(), text.replace(/^clients = \["nyaa"\]/m, "clients = []"));
      },
    ],
  ];

  beforeAll(() => {
    // An editor that must never be started: each $EDITOR step is done by the test.
    user = readmeUser({ EDITOR: "false" });
    repo = makeRepo();
    // The hosts' SSH keys, where the README's commands read them.
    for (const host of ["tavern", "nyaa"]) {
      const key = makeIdentity(user.home, host, "ssh-ed25519");
      copyFileSync(key.recipientFile, join(repo, `${host}_host_key.pub`));
    }
  });

  afterAll(() => {
    removeDir(repo);
    removeDir(user.home);
  });

  const walk = async (heading: string) => {
    for (const line of shBlock(heading)) {
      if (line.startsWith("$EDITOR wgqt.toml")) {
        const edit = EDITS.find(([comment]) => comment.test(line));
        expect(edit, `an editor step the walk does not know: ${line}`).toBeDefined();
        edit![1]();
      } else {
        const result = bash(line);
        expect(result.status, `${line}\n${result.stderr}`).toBe(0);
      }
      const clone = await verifyClone(repo);
      expect(clone.status, `after "${line}", a clone of HEAD fails verify:\n${clone.stdout}`).toBe(
        0,
      );
    }
  };

  it("Getting started: every step leaves a HEAD that verifies", async () => {
    await walk("Getting started");
    expect(gitLog(repo)[0]).toMatch(/^wgqt: keygen \(/);
    expect(ok("git", ["-C", repo, "show", "HEAD:wgqt.toml"])).toContain("[proxies.germany]");
    expect(ok("git", ["-C", repo, "status", "--porcelain", "--untracked-files=no"])).toBe("");
  });

  it("Key lifecycle: every step leaves a HEAD that verifies", async () => {
    await walk("Key lifecycle");
    expect(ok("git", ["-C", repo, "status", "--porcelain", "--untracked-files=no"])).toBe("");
  });
});
