/**
 * The interactive path, driven through a real pseudo-terminal (tmux): on a
 * terminal keygen lets the user pick machines (each shown with what it is
 * missing) and confirms before writing; every prompt that would break
 * deployed tunnels or delete keys answers No to Enter; Ctrl-C at any prompt,
 * or in the middle of a long keygen, ends with exit 130, one line, no
 * stack, and no lock left behind.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  gitLog,
  makeIdentity,
  makeRepo,
  makeTempDir,
  removeDir,
  type TestIdentity,
} from "../helpers/fleet.js";
import { ok, WGQT, wgqt } from "../helpers/run.js";

const HAS_TMUX = spawnSync("tmux", ["-V"]).status === 0;
if (!HAS_TMUX)
  console.warn("interactive tests skipped: tmux is not installed (apt-get install tmux)");

const session = `wgqt-test-${process.pid}`;
let work: string;
let runs = 0;

function tmux(...args: string[]): string {
  return execFileSync("tmux", args, { encoding: "utf8" });
}

function screen(): string {
  return tmux("capture-pane", "-p", "-t", session);
}

async function waitFor(predicate: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}; screen:\n${screen()}`);
}

/** A wgqt run on a fresh 120×40 terminal; `exit()` waits for its exit code. */
function onTerminal(cwd: string, ...args: string[]) {
  const done = join(work, `exit-${++runs}`);
  const script = join(work, `run-${runs}.sh`);
  const quoted = args.map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(" ");
  writeFileSync(
    script,
    // A trap (not an ignore) keeps the shell running when Ctrl-C reaches the
    // whole process group, while wgqt gets SIGINT as usual.
    `cd '${cwd}'\nunset CI\ntrap : INT\nexport NO_COLOR=1 GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@e GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@e\n${process.execPath} ${WGQT} ${quoted}\necho $? > ${done}\nsleep 60\n`,
  );
  spawnSync("tmux", ["kill-session", "-t", session]);
  tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", `sh ${script}`);
  return {
    keys: (...keys: string[]) => tmux("send-keys", "-t", session, ...keys),
    async exit(): Promise<number> {
      await waitFor(() => existsSync(done), `wgqt ${args.join(" ")} to exit`);
      return Number(readFileSync(done, "utf8").trim());
    },
  };
}

const head = (repo: string) => ok("git", ["-C", repo, "rev-parse", "HEAD"]).trim();
const appendToml = (repo: string, text: string) => {
  const path = join(repo, "wgqt.toml");
  writeFileSync(path, `${readFileSync(path, "utf8")}${text}`);
};

/** tavern (gateway), nyaa and spark, keyed, in proxy germany; a clean work tree. */
function keyedFleet(ids: Record<string, TestIdentity>): string {
  const repo = makeRepo();
  expect(wgqt(repo, "init", "--admin", ids.admin!.recipient).status).toBe(0);
  for (const name of ["tavern", "nyaa", "spark"]) {
    const endpoint = name === "tavern" ? ["--endpoint", "tavern.example.org"] : [];
    expect(wgqt(repo, "machine", "add", name, "-r", ids[name]!.recipient, ...endpoint).status).toBe(
      0,
    );
  }
  appendToml(repo, '\n[proxies.germany]\ngateway = "tavern"\nclients = ["nyaa", "spark"]\n');
  expect(wgqt(repo, "keygen").status).toBe(0);
  return repo;
}

const ids: Record<string, TestIdentity> = {};
const repos: string[] = [];

beforeAll(() => {
  work = makeTempDir("wgqt-tty-");
  for (const name of ["admin", "tavern", "nyaa", "spark", "zed"])
    ids[name] = makeIdentity(work, name, "x25519");
});

afterAll(() => {
  if (HAS_TMUX) spawnSync("tmux", ["kill-session", "-t", session]);
  for (const repo of repos) removeDir(repo);
  removeDir(work);
});

describe.skipIf(!HAS_TMUX)("wgqt keygen on a terminal (skipped without tmux)", () => {
  let repo: string;
  beforeAll(() => {
    repo = makeRepo();
    repos.push(repo);
    expect(wgqt(repo, "init", "--admin", ids.admin!.recipient).status).toBe(0);
    for (const name of ["nyaa", "spark", "tavern"])
      expect(wgqt(repo, "machine", "add", name, "--recipient", ids[name]!.recipient).status).toBe(
        0,
      );
  });

  it("asks which machines, confirms, and creates only those", async () => {
    const run = onTerminal(repo, "keygen");
    await waitFor(() => screen().includes("Create missing keys for which machines?"), "the picker");
    expect(screen()).toMatch(/nyaa +keypair[\s\S]*spark +keypair[\s\S]*tavern +keypair/);
    // The cursor starts on nyaa, every machine checked: uncheck nyaa, submit.
    run.keys("Space");
    run.keys("Enter");
    await waitFor(() => screen().includes("Create 2 keypairs?"), "the confirmation");
    // Creating keys breaks nothing: Enter answers Yes.
    expect(screen()).toContain("Create 2 keypairs? (Y/n)");
    run.keys("Enter");
    expect(await run.exit()).toBe(0);
    const keys = join(repo, "wireguard_keys");
    expect(existsSync(join(keys, "nyaa.age"))).toBe(false);
    expect(existsSync(join(keys, "spark.age"))).toBe(true);
    expect(existsSync(join(keys, "tavern.age"))).toBe(true);
    expect(gitLog(repo)[0]).toBe("wgqt: keygen spark tavern (2 keypairs)");
  });

  it("writes nothing when the user declines", async () => {
    const run = onTerminal(repo, "keygen", "--machine", "nyaa");
    await waitFor(() => screen().includes("Create keypair?"), "the confirmation");
    run.keys("n", "Enter");
    expect(await run.exit()).toBe(1);
    expect(screen()).toContain("cancelled; nothing written");
    expect(existsSync(join(repo, "wireguard_keys", "nyaa.age"))).toBe(false);
  });

  it("says what each machine is missing; a machine left out gets no preshared key either", async () => {
    const fleet = keyedFleet(ids);
    repos.push(fleet);
    expect(wgqt(fleet, "machine", "add", "zed", "-r", ids.zed!.recipient).status).toBe(0);
    const toml = join(fleet, "wgqt.toml");
    writeFileSync(
      toml,
      readFileSync(toml, "utf8").replace(
        /^clients = \["nyaa", "spark"\]/m,
        'clients = ["nyaa", "spark", "zed"]',
      ),
    );
    const run = onTerminal(fleet, "keygen");
    await waitFor(() => screen().includes("Create missing keys for which machines?"), "the picker");
    expect(screen()).toMatch(/tavern +preshared key with zed/);
    expect(screen()).toMatch(/zed +keypair, preshared key with tavern/);
    // tavern is first: leave it out, keep zed.
    run.keys("Space");
    run.keys("Enter");
    await waitFor(() => screen().includes("Create keypair?"), "the confirmation");
    run.keys("y", "Enter");
    expect(await run.exit()).toBe(0);
    const keys = join(fleet, "wireguard_keys");
    expect(existsSync(join(keys, "zed.age"))).toBe(true);
    expect(existsSync(join(keys, "preshared_keys", "tavern+zed.age"))).toBe(false);
    expect(gitLog(fleet)[0]).toBe("wgqt: keygen zed (keypair)");
  });
});

describe.skipIf(!HAS_TMUX)(
  "prompts that break tunnels or delete keys answer No to Enter (skipped without tmux)",
  () => {
    let repo: string;
    beforeAll(() => {
      repo = keyedFleet(ids);
      repos.push(repo);
    });

    const prompts: [string, string[] | (() => string[]), string, () => void][] = [
      ["rotate", ["rotate", "--machine", "spark"], "Replace keypair", () => {}],
      [
        "machine remove",
        ["machine", "remove", "zed"],
        "Remove machine zed",
        () => {
          expect(wgqt(repo, "machine", "add", "zed", "-r", ids.zed!.recipient).status).toBe(0);
        },
      ],
      [
        "prune",
        ["prune"],
        "Remove 1 orphaned file",
        () => {
          const toml = join(repo, "wgqt.toml");
          writeFileSync(
            toml,
            readFileSync(toml, "utf8").replace(
              /^clients = \["nyaa", "spark"\]/m,
              'clients = ["nyaa"]',
            ),
          );
        },
      ],
      [
        "plan --write",
        ["plan", "--write"],
        "Accept renumbering",
        () => {
          const toml = join(repo, "wgqt.toml");
          writeFileSync(
            toml,
            readFileSync(toml, "utf8").replace(/^udp_start *= *16842/m, "udp_start = 17000"),
          );
        },
      ],
    ];

    /** A provider's wg-quick file for nyaa, with a key of its own. */
    const providerFile = (name: string) => {
      const key = ok("wg", ["genkey"]).trim();
      const server = ok("wg", ["pubkey"], { input: ok("wg", ["genkey"]) }).trim();
      const path = join(work, `${name}.conf`);
      writeFileSync(
        path,
        `[Interface]\nPrivateKey = ${key}\nAddress = 10.64.1.2/32\nDNS = 10.64.0.1\n\n[Peer]\nPublicKey = ${server}\nEndpoint = 198.51.100.7:51820\nAllowedIPs = 0.0.0.0/0\n`,
      );
      return path;
    };
    prompts.push([
      "vpn import (a new key for an imported VPN)",
      () => [
        "vpn",
        "import",
        "us-west",
        "--from",
        join(work, "us-west-new.conf"),
        "--machine",
        "nyaa",
      ],
      "Replace the provider key",
      () => {
        const first = wgqt(
          repo,
          "vpn",
          "import",
          "us-west",
          "--from",
          providerFile("us-west"),
          "--machine",
          "nyaa",
        );
        expect(first.status, first.stderr).toBe(0);
        providerFile("us-west-new");
      },
    ]);

    for (const [name, argv, question, setUp] of prompts) {
      it(`${name}: Enter cancels and writes nothing; Ctrl-C too, with exit 130`, async () => {
        setUp();
        const args = typeof argv === "function" ? argv() : argv;
        const before = head(repo);
        const status = ok("git", ["-C", repo, "status", "--porcelain"]);
        const enter = onTerminal(repo, ...args);
        await waitFor(() => screen().includes(question), `the ${name} prompt`);
        expect(screen()).toMatch(/\(y\/N\)/);
        enter.keys("Enter");
        expect(await enter.exit()).toBe(1);
        expect(screen()).toContain("cancelled; nothing");

        const interrupted = onTerminal(repo, ...args);
        await waitFor(() => screen().includes(question), `the ${name} prompt`);
        interrupted.keys("C-c");
        expect(await interrupted.exit()).toBe(130);
        expect(screen()).toContain("cancelled; nothing written");
        expect(screen()).not.toMatch(/internal error|ExitPromptError| {4}at /);
        expect(existsSync(join(repo, ".wgqt.lock"))).toBe(false);
        expect(head(repo)).toBe(before);
        expect(ok("git", ["-C", repo, "status", "--porcelain"])).toBe(status);
      });
    }

    it("Ctrl-C at keygen's picker and confirmation, and at rekey's, exits 130 with no lock", async () => {
      const toml = join(repo, "wgqt.toml");
      writeFileSync(toml, ok("git", ["-C", repo, "show", "HEAD:wgqt.toml"]));
      expect(wgqt(repo, "machine", "add", "late", "-r", ids.zed!.recipient).status).toBe(0);
      const before = head(repo);
      for (const [args, question] of [
        [["keygen"], "Create missing keys for which machines?"],
        [["keygen", "--machine", "late"], "Create keypair?"],
      ] as const) {
        const run = onTerminal(repo, ...args);
        await waitFor(() => screen().includes(question), question);
        run.keys("C-c");
        expect(await run.exit()).toBe(130);
        expect(screen()).toContain("cancelled; nothing written");
        expect(screen()).not.toMatch(/internal error| {4}at /);
        expect(existsSync(join(repo, ".wgqt.lock"))).toBe(false);
      }
      // rekey: an admin added by hand; re-encrypting asks first (Enter would say Yes).
      writeFileSync(
        toml,
        readFileSync(toml, "utf8").replace(
          /^admins = \[\n/m,
          `admins = [\n  "${ids.zed!.recipient}",\n`,
        ),
      );
      const rekey = onTerminal(repo, "rekey", "--identity", ids.admin!.identityFile);
      await waitFor(() => screen().includes("Re-encrypt"), "the rekey prompt");
      expect(screen()).toMatch(/\(Y\/n\)/);
      rekey.keys("C-c");
      expect(await rekey.exit()).toBe(130);
      expect(existsSync(join(repo, ".wgqt.lock"))).toBe(false);
      expect(head(repo)).toBe(before);
    });
  },
);

describe.skipIf(!HAS_TMUX)("a long keygen on a terminal (skipped without tmux)", () => {
  let repo: string;
  beforeAll(() => {
    repo = makeRepo();
    repos.push(repo);
    // 400 clients in four networks: about 2,000 keys, a few seconds of work.
    const machines = Array.from({ length: 400 }, (_, i) => `m${String(i).padStart(3, "0")}`);
    const gateways = ["gw0", "gw1", "gw2", "gw3"];
    const lines = [`admins = ["${ids.admin!.recipient}"]`, ""];
    for (const name of gateways)
      lines.push(
        `[machines.${name}]`,
        `recipients = ["${ids.tavern!.recipient}"]`,
        `endpoint = "${name}.example.org"`,
        "",
      );
    for (const name of machines)
      lines.push(`[machines.${name}]`, `recipients = ["${ids.nyaa!.recipient}"]`, "");
    for (const [index, gateway] of gateways.entries())
      lines.push(
        `[proxies.p${index}]`,
        `gateway = "${gateway}"`,
        `clients = ${JSON.stringify(machines)}`,
        "",
      );
    writeFileSync(join(repo, "wgqt.toml"), lines.join("\n"));
    ok("git", ["-C", repo, "add", "wgqt.toml"]);
    ok("git", ["-C", repo, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qm", "fleet"]);
    ok("mkdir", [join(repo, "wireguard_keys")]);
  });

  it("shows a progress bar; Ctrl-C stops it with exit 130, one line and no lock; keygen then finishes", async () => {
    const run = onTerminal(repo, "keygen", "--yes");
    await waitFor(() => /making keys ▕[█░]+▏ [\d,]+\/2,004/.test(screen()), "the progress bar");
    run.keys("C-c");
    expect(await run.exit()).toBe(130);
    const shown = screen();
    expect(shown).toMatch(/cancelled; nothing written|interrupted/);
    expect(shown).not.toMatch(/internal error| {4}at /);
    // The plan is one line per machine, not one per key.
    expect(shown).toContain("--verbose lists each one");
    expect(existsSync(join(repo, ".wgqt.lock"))).toBe(false);
    const again = wgqt(repo, "keygen");
    expect(again.status, again.stderr).toBe(0);
    expect(wgqt(repo, "verify").status).toBe(0);
  });
});
