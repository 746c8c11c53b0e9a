/**
 * The interactive path, driven through a real pseudo-terminal (tmux): on a
 * terminal keygen lets the user pick machines and confirms before writing.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitLog, makeIdentity, makeRepo, makeTempDir, removeDir } from "../helpers/fleet.js";
import { WGQT, wgqt } from "../helpers/run.js";

const session = `wgqt-test-${process.pid}`;
let repo: string;
let idDir: string;

function tmux(...args: string[]): string {
  return execFileSync("tmux", args, { encoding: "utf8" });
}

function screen(): string {
  return tmux("capture-pane", "-p", "-t", session);
}

async function waitFor(predicate: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}; screen:\n${screen()}`);
}

beforeAll(() => {
  repo = makeRepo();
  idDir = makeTempDir("wgqt-ids-");
  expect(wgqt(repo, "init").status).toBe(0);
  for (const name of ["nyaa", "spark", "tavern"]) {
    const id = makeIdentity(idDir, name, "x25519");
    expect(wgqt(repo, "machine", "add", name, "--recipient", id.recipient).status).toBe(0);
  }
});

afterAll(() => {
  spawnSync("tmux", ["kill-session", "-t", session]);
  removeDir(repo);
  removeDir(idDir);
});

describe("wgqt keygen on a terminal", () => {
  it("asks which machines, confirms, and creates only those", async () => {
    const done = join(idDir, "exit-code");
    const script = join(idDir, "run.sh");
    writeFileSync(
      script,
      `cd ${repo}\nexport NO_COLOR=1 GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@e GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@e\n${process.execPath} ${WGQT} keygen\necho $? > ${done}\nsleep 30\n`,
    );
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", `sh ${script}`);
    await waitFor(
      () => screen().includes("Create missing keys for which machines?"),
      "the machine picker",
    );
    expect(screen()).toMatch(/nyaa[\s\S]*spark[\s\S]*tavern/);
    // The cursor starts on nyaa, every machine checked: uncheck nyaa, submit.
    tmux("send-keys", "-t", session, "Space");
    tmux("send-keys", "-t", session, "Enter");
    await waitFor(() => screen().includes("Create 2 keypairs?"), "the confirmation");
    tmux("send-keys", "-t", session, "y", "Enter");
    await waitFor(() => existsSync(done), "keygen to finish");
    expect(readFileSync(done, "utf8").trim()).toBe("0");
    const keys = join(repo, "wireguard_keys");
    expect(existsSync(join(keys, "nyaa.age"))).toBe(false);
    expect(existsSync(join(keys, "spark.age"))).toBe(true);
    expect(existsSync(join(keys, "tavern.age"))).toBe(true);
    expect(gitLog(repo)[0]).toBe("wgqt: keygen spark tavern (2 keypairs)");
  });

  it("writes nothing when the user declines", async () => {
    const done = join(idDir, "exit-code-2");
    const script = join(idDir, "run2.sh");
    writeFileSync(
      script,
      `cd ${repo}\nexport NO_COLOR=1\n${process.execPath} ${WGQT} keygen --machine nyaa\necho $? > ${done}\nsleep 30\n`,
    );
    spawnSync("tmux", ["kill-session", "-t", session]);
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", `sh ${script}`);
    await waitFor(() => screen().includes("Create keypair?"), "the confirmation");
    tmux("send-keys", "-t", session, "n", "Enter");
    await waitFor(() => existsSync(done), "keygen to finish");
    expect(readFileSync(done, "utf8").trim()).toBe("1");
    expect(screen()).toContain("cancelled; nothing written");
    expect(existsSync(join(repo, "wireguard_keys", "nyaa.age"))).toBe(false);
  });
});
