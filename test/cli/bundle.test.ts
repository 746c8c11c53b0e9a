/**
 * The built command as a user runs it: bin/wgqt loads the bundle in
 * dist/bundle/ (with its lazily loaded chunks and the key-making worker),
 * and exit codes reach the shell through the process. Most CLI tests run
 * in-process (helpers/run.ts); these prove what only a real process can.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  gitLog,
  makeRepo,
  makeTempDir,
  removeDir,
  writeGatewayAndClient,
} from "../helpers/fleet.js";
import { ROOT, run, TEST_ENV, WGQT, wgqt } from "../helpers/run.js";

const BUNDLE = join(ROOT, "dist", "bundle");

/**
 * `wgqt ARGS` in `cwd` as bin/wgqt runs, with an empty code cache: every file
 * of the bundle the command loads is compiled and leaves its cache behind
 * (src/cli/code-cache.ts); start.js, which Node loads, is always loaded.
 * Returns what the command ran, and the sources (esbuild's `// dist/…` and
 * `// node_modules/…` comments) of the code it loaded.
 */
function loadedSources(
  cwd: string,
  ...args: string[]
): { status: number | null; sources: string[] } {
  const cache = makeTempDir("wgqt-cache-");
  try {
    const result = run(process.execPath, [WGQT, ...args], {
      cwd,
      env: { ...TEST_ENV, XDG_CACHE_HOME: cache },
    });
    const [build] = readdirSync(join(cache, "wgqt"));
    const files = readdirSync(join(cache, "wgqt", build!)).map((name) =>
      join(BUNDLE, name.replace(/\.cache$/, "")),
    );
    const sources = new Set<string>();
    for (const file of [join(BUNDLE, "start.js"), ...files]) {
      const text = readFileSync(file, "utf8");
      for (const match of text.matchAll(/^\/\/ ((?:dist|node_modules)\/\S+)$/gm))
        sources.add(match[1]!);
    }
    return { status: result.status, sources: [...sources].sort() };
  } finally {
    removeDir(cache);
  }
}

let repo: string;
let idDir: string;
/** A directory with no wgqt.toml in it or above it. */
let empty: string;

beforeAll(() => {
  repo = makeRepo();
  idDir = makeTempDir("wgqt-ids-");
  empty = makeTempDir("wgqt-empty-");
  writeGatewayAndClient(repo, idDir);
});

afterAll(() => {
  removeDir(repo);
  removeDir(idDir);
  removeDir(empty);
});

describe("bin/wgqt", () => {
  it("--help prints the commands and exits 0", () => {
    const result = wgqt(repo, "--help");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: wgqt /);
    expect(result.stdout).toContain("keygen");
  });

  it("exits 2 on a usage error and 1 on a failure", () => {
    const usage = wgqt(repo, "keygen", "--no-such-option");
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/^wgqt: unknown option '--no-such-option'/);
    const failure = wgqt(empty, "status");
    expect(failure.status).toBe(1);
    expect(failure.stderr).toMatch(/^wgqt: .*wgqt\.toml/);
  });

  it("keygen makes the keys and commits them", () => {
    const result = wgqt(repo, "keygen");
    expect(result.status, result.stderr).toBe(0);
    expect(gitLog(repo)[0]).toMatch(/^wgqt: keygen/);
  });

  it("keygen with every key present loads no encryption code", () => {
    const made = wgqt(repo, "keygen", "--no-commit", "--yes");
    expect(made.status, made.stderr).toBe(0);
    const { status, sources } = loadedSources(repo, "keygen", "--no-commit", "--yes");
    expect(status).toBe(0);
    expect(sources).toContain("dist/store/keygen.js");
    const encryption = sources.filter((source) =>
      /^(?:dist\/age\/(?:crypt|encrypt|recipients|x25519-stanza|ssh)\.js|dist\/store\/secrets\.js|dist\/keys\/wireguard\.js|node_modules\/@noble\/curves\/)/.test(
        source,
      ),
    );
    expect(encryption).toEqual([]);
  });

  it("machine list off a terminal loads no colour code", () => {
    // run() gives the command pipes: no terminal, so nothing is styled.
    const { status, sources } = loadedSources(repo, "machine", "list");
    expect(status).toBe(0);
    expect(sources).toContain("dist/cli/commands/machine-list.js");
    expect(sources.filter((source) => source.startsWith("node_modules/chalk/"))).toEqual([]);
  });

  it("a reader that goes away ends the command quietly, with exit 0", () => {
    // `true` exits before wgqt writes: its write meets a pipe with no reader (EPIPE).
    const result = run("bash", ["-c", `set -o pipefail; "${WGQT}" plan | true`], { cwd: repo });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("a non-blocking pipe read slowly gets every byte", () => {
    // A fleet whose JSON rendering is several times a pipe's 64 KiB buffer.
    const big = makeTempDir("wgqt-big-");
    try {
      const machines = Array.from({ length: 60 }, (_, i) => {
        const { publicKey } = generateKeyPairSync("x25519");
        const key = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
        return [
          `[machines.m${i}]`,
          `public_key = "${key.toString("base64")}"`,
          ...(i === 0 ? [`endpoint = "m0.example.org"`] : []),
          ``,
        ].join("\n");
      });
      const clients = Array.from({ length: 59 }, (_, i) => `"m${i + 1}"`).join(", ");
      writeFileSync(
        join(big, "wgqt.toml"),
        `${machines.join("\n")}\n[proxies.hub]\ngateway = "m0"\nclients = [${clients}]\n`,
      );
      mkdirSync(join(big, "wireguard_keys"));
      const expected = wgqt(big, "render", "--format", "json");
      expect(expected.status, expected.stderr).toBe(0);
      expect(expected.stdout.length).toBeGreaterThan(4 * 65536);
      // Python sets O_NONBLOCK on the pipe's write end and reads only after a pause:
      // wgqt's writes meet a full pipe (EAGAIN) and must wait, not fail.
      const reader = `
import os, subprocess, sys, time
r, w = os.pipe()
os.set_blocking(w, False)
p = subprocess.Popen(sys.argv[1:], stdout=w)
os.close(w)
time.sleep(0.5)
out = bytearray()
while chunk := os.read(r, 65536):
    out += chunk
    time.sleep(0.002)
sys.stdout.buffer.write(out)
sys.exit(p.wait())
`;
      const result = run(
        "python3",
        ["-c", reader, process.execPath, WGQT, "render", "--format", "json"],
        { cwd: big },
      );
      expect(result.stderr).toBe("");
      expect(result.status).toBe(0);
      expect(result.stdout).toBe(expected.stdout);
    } finally {
      removeDir(big);
    }
  });

  it("render prints a host's wg-quick configuration", () => {
    const result = wgqt(repo, "render", "--machine", "spark", "--format", "wg-quick");
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain("[Peer]");
    expect(result.stdout).toContain("Endpoint = tavern.example.org:");
  });
});
