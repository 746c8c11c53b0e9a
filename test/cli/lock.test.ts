/** Two wgqt processes never interleave on one fleet; a dead process's lock is cleared. */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeIdentity, makeRepo, makeTempDir, removeDir } from "../helpers/fleet.js";
import { ROOT, TEST_ENV, WGQT, wgqt } from "../helpers/run.js";

let repo: string;
let idDir: string;
const lockPath = () => join(repo, ".wgqt.lock");

beforeAll(() => {
  repo = makeRepo();
  idDir = makeTempDir("wgqt-ids-");
  expect(wgqt(repo, "init", "--no-commit").status).toBe(0);
  const host = makeIdentity(idDir, "host", "x25519");
  const lines = [];
  for (let i = 0; i < 30; i++) lines.push(`[machines.m${i}]\nrecipients = ["${host.recipient}"]\n`);
  lines.push(
    `[proxies.hub]\ngateway = "m0"\nclients = [${Array.from({ length: 29 }, (_, i) => `"m${i + 1}"`).join(", ")}]\n`,
  );
  writeFileSync(
    join(repo, "wgqt.toml"),
    `${readFileSync(join(repo, "wgqt.toml"), "utf8")}\n${lines.join("\n")}`,
  );
});

afterAll(() => {
  removeDir(repo);
  removeDir(idDir);
});

describe("the fleet lock", () => {
  it("refuses to run while a live process holds it, naming the pid, and writes nothing", () => {
    const holder = spawn("sleep", ["30"]);
    try {
      writeFileSync(lockPath(), `${holder.pid} ${hostname()}\n`);
      const result = wgqt(repo, "keygen", "--no-commit");
      expect(result.status).toBe(1);
      expect(result.stderr).toBe(
        `wgqt: store is locked by pid ${holder.pid} (${lockPath()}); wait for it to finish\n`,
      );
      expect(existsSync(join(repo, "wireguard_keys", "m0.age"))).toBe(false);
    } finally {
      holder.kill("SIGKILL");
    }
  });

  it("clears the lock of a process that no longer exists, and releases its own", async () => {
    const dead = spawnSync("true").pid!;
    writeFileSync(lockPath(), `${dead} ${hostname()}\n`);
    const result = wgqt(
      repo,
      "machine",
      "add",
      "solo",
      "--no-commit",
      "--recipient",
      readFileSync(join(idDir, "host.recipient"), "utf8").trim(),
    );
    expect(result.status, result.stderr).toBe(0);
    expect(existsSync(lockPath())).toBe(false);
  });

  it("clears an empty lock left long ago by a killed process, and refuses a fresh one", () => {
    writeFileSync(lockPath(), "");
    // prune takes the lock and, with no keys yet, changes nothing.
    const fresh = wgqt(repo, "prune", "--yes", "--no-commit");
    expect(fresh.status).toBe(1);
    expect(fresh.stderr).toBe(
      `wgqt: ${lockPath()}: unreadable lock file; remove it if no wgqt is running\n`,
    );
    const minuteAgo = new Date(Date.now() - 60_000);
    utimesSync(lockPath(), minuteAgo, minuteAgo);
    const result = wgqt(repo, "prune", "--yes", "--no-commit");
    expect(result.status, result.stderr).toBe(0);
    expect(existsSync(lockPath())).toBe(false);
  });

  it("is never seen without its owner: contending takers only ever find it held or free", async () => {
    // Three processes take and release the lock of one directory 300 times
    // each; a lock created empty and written after would now and then be
    // read in between ("unreadable lock file").
    const dir = makeTempDir("wgqt-lock-");
    const script = `
      import { acquireLock } from ${JSON.stringify(join(ROOT, "dist/store/lock.js"))};
      let held = 0, busy = 0;
      for (let i = 0; i < 300; i++) {
        try { const release = await acquireLock(process.argv[1] + "/.wgqt.lock"); held++; await release(); }
        catch (error) { if (!/store is locked by pid/.test(error.message)) throw error; busy++; }
      }
      console.log(JSON.stringify({ held, busy }));`;
    const takers = Array.from(
      { length: 3 },
      () =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, ["--input-type=module", "-e", script, dir]);
          let stdout = "";
          let stderr = "";
          child.stdout.on("data", (chunk) => {
            stdout += chunk;
          });
          child.stderr.on("data", (chunk) => {
            stderr += chunk;
          });
          child.on("close", (status) => resolve({ status, stdout, stderr }));
        }),
    );
    try {
      const results = await Promise.all(takers);
      for (const result of results) {
        expect(result.status, result.stderr).toBe(0);
        const { held, busy } = JSON.parse(result.stdout);
        expect(held + busy).toBe(300);
        expect(held).toBeGreaterThan(0);
      }
      // Released, and no temp file left behind.
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      removeDir(dir);
    }
  });

  it("lets exactly one of two concurrent keygens do the work", async () => {
    const runOne = () =>
      new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [WGQT, "keygen", "--no-commit"], {
          cwd: repo,
          env: TEST_ENV,
        });
        let stderr = "";
        child.stderr.on("data", (chunk) => {
          stderr += chunk;
        });
        child.on("close", (status) => resolve({ status, stderr }));
      });
    const results = await Promise.all([runOne(), runOne()]);
    const created = results.filter(
      (r) => r.status === 0 && r.stderr.includes("created 31 keypairs + 29 preshared keys"),
    );
    expect(created, JSON.stringify(results)).toHaveLength(1);
    const other = results.find((r) => r !== created[0])!;
    // The other either found the lock taken or ran after and found nothing to do.
    expect(other.stderr).toMatch(/store is locked by pid \d+|nothing to do/);
    const keys = join(repo, "wireguard_keys");
    expect(readdirSync(keys).filter((f) => f.endsWith(".age"))).toHaveLength(31);
    const manifest = JSON.parse(readFileSync(join(keys, "manifest.json"), "utf8"));
    expect(Object.keys(manifest.files)).toHaveLength(31 + 29);
    expect(existsSync(lockPath())).toBe(false);
  });
});
