#!/usr/bin/env node
// `npm run demo`: wgqt on the bundled example fleet, in a throwaway copy so the
// repository is never touched. Every command is echoed before it runs.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const wgqt = join(root, "bin", "wgqt");
const work = mkdtempSync(join(tmpdir(), "wgqt-demo-"));
const env = {
  ...process.env,
  GIT_AUTHOR_NAME: "wgqt demo",
  GIT_AUTHOR_EMAIL: "demo@example.org",
  GIT_COMMITTER_NAME: "wgqt demo",
  GIT_COMMITTER_EMAIL: "demo@example.org",
};

function step(title) {
  process.stderr.write(`\n\x1b[1m== ${title}\x1b[0m\n`);
}

function run(command, args, { input, quiet } = {}) {
  process.stderr.write(
    `$ ${[command === process.execPath ? "wgqt" : command, ...(command === process.execPath ? args.slice(1) : args)].join(" ")}\n`,
  );
  const result = spawnSync(command, args, {
    cwd: work,
    env,
    input,
    stdio: [input === undefined ? "ignore" : "pipe", quiet ? "pipe" : "inherit", "inherit"],
  });
  if (result.status !== 0) {
    process.stderr.write(`demo: that command exited ${result.status}\n`);
    process.exit(1);
  }
  return result.stdout?.toString() ?? "";
}

const w = (...args) => run(process.execPath, [wgqt, ...args]);

try {
  step("a copy of the example fleet in a fresh git repository");
  for (const entry of ["wgqt.toml", "wireguard_keys", "examples"])
    cpSync(join(root, entry), join(work, entry), { recursive: true });
  run("git", ["init", "-q", "-b", "main"]);
  run("git", ["add", "."]);
  run("git", ["commit", "-qm", "example fleet"]);

  step("the fleet");
  w("machine", "list");
  step("addresses and ports (the seed's worked example)");
  w("plan");
  step("the store is consistent: verify is the CI gate");
  w("verify");

  step("tavern's private key decrypts with tavern's own identity, and matches tavern.pub");
  const privateKey = run(
    "age",
    ["-d", "-i", "examples/identities/tavern.key", "wireguard_keys/tavern.age"],
    { quiet: true },
  );
  const derived = run("wg", ["pubkey"], { input: privateKey, quiet: true }).trim();
  const stored = readFileSync(join(work, "wireguard_keys", "tavern.pub"), "utf8").trim();
  process.stderr.write(
    `wg pubkey: ${derived}\ntavern.pub: ${stored}\n${derived === stored ? "they match" : "MISMATCH"}\n`,
  );
  if (derived !== stored) process.exit(1);

  step("a new machine joins both proxies: keygen makes only what is missing, and commits it");
  run("age-keygen", ["-o", "cellar.key"], { quiet: true });
  const recipient = run("age-keygen", ["-y", "cellar.key"], { quiet: true }).trim();
  w("machine", "add", "cellar", "--recipient", recipient);
  run("sed", [
    "-i",
    's/^clients = \\["nyaa", "spark", "archive"\\]$/clients = ["nyaa", "spark", "archive", "cellar"]/',
    "wgqt.toml",
  ]);
  run("git", ["commit", "-qam", "cellar joins the proxies"]);
  w("keygen", "--machine", "cellar");
  run("git", ["log", "--oneline", "-3"]);

  step("cellar sorts before nyaa, so nyaa's addresses move: plan shows it, render waits for a yes");
  w("plan");
  w("plan", "--write", "--yes");

  step("nyaa's wg-quick configuration for germany (keys referenced by path, never inlined)");
  w("render", "--machine", "nyaa", "--format", "wg-quick");
  step("done");
} finally {
  rmSync(work, { recursive: true, force: true });
}
