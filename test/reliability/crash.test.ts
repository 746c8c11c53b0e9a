/**
 * Crash safety: wgqt keygen, rotate and rekey on a 100-machine fleet are
 * killed with SIGKILL at random (seeded) moments, 52 times. After every kill:
 * no truncated file, no .pub without its private key or with a different one,
 * manifest and files agree — or a journal is pending and `verify` says so —
 * and HEAD never holds a half state. Then a plain `wgqt keygen` finishes the
 * job, `verify` passes, and the age CLI decrypts with the hosts' identities.
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decryptWith } from "../../src/age/crypt.js";
import { readHeader } from "../../src/age/header.js";
import { type LoadedIdentity, parseIdentities } from "../../src/age/identity.js";
import { parseKeyFileContent, publicKeyOf } from "../../src/keys/wireguard.js";
import { sha256Hex } from "../../src/store/files.js";
import { parseManifest } from "../../src/store/manifest.js";
import { JOURNAL_FILE } from "../../src/store/transaction-journal.js";
import {
  makeIdentity,
  makeRepo,
  makeTempDir,
  removeDir,
  type TestIdentity,
} from "../helpers/fleet.js";
import { ageDecrypt, ok, TEST_ENV, WGQT, wgqt } from "../helpers/run.js";

const MACHINES = 100;
const GATEWAYS = [0, 20, 40, 60, 80];
const name = (i: number) => `m${String(i).padStart(3, "0")}`;

let work: string;
let keyedTemplate: string;
let freshTemplate: string;
const hosts: TestIdentity[] = [];
let admin: TestIdentity;
let adminIdentity: LoadedIdentity[];

/** mulberry32: a small seeded PRNG, so every kill moment can be replayed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fleetConfig(hostKeyOf: (i: number) => string): string {
  const lines = [`admins = [${JSON.stringify(admin.recipient)}]`, ""];
  for (let i = 0; i < MACHINES; i++) {
    lines.push(
      `[machines.${name(i)}]`,
      `recipients = [${JSON.stringify(hostKeyOf(i))}]`,
      `endpoint = "${name(i)}.example.org"`,
      "",
    );
  }
  for (const gateway of GATEWAYS) {
    const clients = Array.from({ length: 19 }, (_, k) => JSON.stringify(name(gateway + 1 + k)));
    lines.push(
      `[proxies.p${gateway}]`,
      `gateway = "${name(gateway)}"`,
      `clients = [${clients.join(", ")}]`,
      "",
    );
  }
  return lines.join("\n");
}

function copyRepo(from: string, label: string): string {
  const to = join(work, label);
  cpSync(from, to, { recursive: true });
  return to;
}

function runKilledAfter(cwd: string, args: string[], delayMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [WGQT, ...args], { cwd, env: TEST_ENV, stdio: "ignore" });
    const timer = setTimeout(() => child.kill("SIGKILL"), delayMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

function timed(cwd: string, ...args: string[]): number {
  const start = performance.now();
  const result = wgqt(cwd, ...args);
  expect(result.status, result.stderr).toBe(0);
  return performance.now() - start;
}

/** Decrypted keys by ciphertext hash: files copied from a template are decrypted once. */
const decrypted = new Map<string, string>();
async function keyIn(bytes: Uint8Array, file: string): Promise<string> {
  const hash = sha256Hex(bytes);
  let key = decrypted.get(hash);
  if (key === undefined) {
    key = parseKeyFileContent(await decryptWith(bytes, adminIdentity, file), file);
    decrypted.set(hash, key);
  }
  return key;
}

/** Every invariant that must hold for the store files in `keys` (no journal pending). */
async function consistentStore(keys: string, where: string): Promise<string[]> {
  const problems: string[] = [];
  const manifestPath = join(keys, "manifest.json");
  const manifest = parseManifest(readFileSync(manifestPath, "utf8"), manifestPath);
  const ages = [
    ...readdirSync(keys).filter((f) => f.endsWith(".age")),
    ...(existsSync(join(keys, "preshared_keys"))
      ? readdirSync(join(keys, "preshared_keys")).map((f) => `preshared_keys/${f}`)
      : []),
  ].filter((f) => f.endsWith(".age"));
  for (const file of ages) {
    const bytes = readFileSync(join(keys, file));
    const entry = manifest.files[file];
    if (!entry) problems.push(`${where}: ${file} is not in the manifest`);
    else if (entry.sha256 !== sha256Hex(bytes))
      problems.push(`${where}: ${file} differs from the manifest`);
    const key = await keyIn(bytes, file);
    if (!file.includes("/")) {
      const pubPath = join(keys, file.replace(/\.age$/, ".pub"));
      if (!existsSync(pubPath)) problems.push(`${where}: ${file} has no .pub`);
      else if (readFileSync(pubPath, "utf8").trim() !== publicKeyOf(key))
        problems.push(`${where}: ${file} and its .pub disagree`);
    }
  }
  for (const pub of readdirSync(keys).filter((f) => f.endsWith(".pub"))) {
    if (!ages.includes(pub.replace(/\.pub$/, ".age")))
      problems.push(`${where}: ${pub} without its private key`);
  }
  for (const file of Object.keys(manifest.files))
    if (!ages.includes(file)) problems.push(`${where}: manifest lists missing ${file}`);
  return problems;
}

/** No file anywhere in the store is truncated: every .age has a whole header and decrypts, every .pub is a key. */
async function noTornFiles(keys: string): Promise<void> {
  if (!existsSync(keys)) return; // killed before the store existed
  for (const entry of readdirSync(keys, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name.startsWith(".wgqt-tmp-")) continue;
    const path = join(entry.parentPath, entry.name);
    if (entry.name.endsWith(".age")) {
      const bytes = readFileSync(path);
      readHeader(bytes);
      await keyIn(bytes, path);
    } else if (entry.name.endsWith(".pub")) {
      publicKeyOf(readFileSync(path, "utf8").trim());
    } else if (entry.name.endsWith(".json")) {
      JSON.parse(readFileSync(path, "utf8"));
    }
  }
}

/** HEAD's tree, extracted, must itself be a consistent store. */
async function headIsConsistent(repo: string, label: string): Promise<string[]> {
  const out = join(work, `${label}-head`);
  mkdirSync(out, { recursive: true });
  ok("sh", ["-c", `git -C ${repo} archive HEAD wireguard_keys | tar -x -C ${out}`]);
  if (!existsSync(join(out, "wireguard_keys", "manifest.json"))) return [];
  return consistentStore(join(out, "wireguard_keys"), `${label} HEAD`);
}

beforeAll(() => {
  work = makeTempDir("wgqt-crash-");
  const idDir = join(work, "ids");
  mkdirSync(idDir);
  admin = makeIdentity(idDir, "admin", "x25519");
  adminIdentity = parseIdentities(readFileSync(admin.identityFile, "utf8"), admin.identityFile);
  const kinds = ["x25519", "ssh-ed25519", "ssh-rsa", "ssh-ed25519"] as const;
  for (const [index, kind] of kinds.entries())
    hosts.push(makeIdentity(idDir, `host${index}`, kind));
  hosts.push(makeIdentity(idDir, "replacement", "ssh-ed25519"));

  freshTemplate = makeRepo();
  writeFileSync(
    join(freshTemplate, "wgqt.toml"),
    fleetConfig((i) => hosts[i % 4]!.recipient),
  );
  // An empty keys_dir is a new store (what `wgqt init` starts); keygen fills it.
  mkdirSync(join(freshTemplate, "wireguard_keys"));
  ok("git", ["-C", freshTemplate, "add", "wgqt.toml"]);
  ok("git", ["-C", freshTemplate, "commit", "-qm", "fleet"], { env: TEST_ENV });
  keyedTemplate = copyRepo(freshTemplate, "keyed");
  expect(wgqt(keyedTemplate, "keygen").status).toBe(0);
}, 120_000);

afterAll(() => {
  removeDir(work);
  removeDir(freshTemplate);
});

interface Scenario {
  command: string[];
  template: () => string;
  /** Prepare the copy before the killed run (e.g. change a host key). */
  prepare?: (repo: string) => void;
  /** What finishes the job after the kill. */
  finish: string[][];
  runs: number;
}

const replaceHostKey = (repo: string) => {
  const path = join(repo, "wgqt.toml");
  // m001..m003 are host1's; give m005 (host1) the replacement key.
  writeFileSync(
    path,
    readFileSync(path, "utf8").replace(
      /(\[machines\.m005\]\nrecipients = \[)"[^"]*"/,
      `$1${JSON.stringify(hosts[4]!.recipient)}`,
    ),
  );
  ok("git", ["-C", repo, "commit", "-qam", "m005 has a new host key"], { env: TEST_ENV });
};

/**
 * m005's files, which its old host key can read: a key this fleet shares
 * among a quarter of its machines, so wgqt.toml now gives it to other
 * machines only. rekey re-encrypts such a file only when told it is this
 * machine's own (see rekeyRefusal).
 */
const ACCEPT_M005 = [
  "--accept",
  "wireguard_keys/m005.age",
  "--accept",
  "wireguard_keys/preshared_keys/m000+m005.age",
];

const SCENARIOS: Record<string, Scenario> = {
  keygen: { command: ["keygen"], template: () => freshTemplate, finish: [["keygen"]], runs: 30 },
  rotate: {
    command: ["rotate", "--machine", "m020", "--yes"],
    template: () => keyedTemplate,
    finish: [["keygen"]],
    runs: 12,
  },
  rekey: {
    command: ["rekey", "--identity", "ADMIN", ...ACCEPT_M005, "--yes"],
    template: () => keyedTemplate,
    prepare: replaceHostKey,
    finish: [["keygen"], ["rekey", "--identity", "ADMIN", ...ACCEPT_M005, "--yes"]],
    runs: 10,
  },
};

describe("SIGKILL at random moments", () => {
  const kills: string[] = [];

  for (const [label, scenario] of Object.entries(SCENARIOS)) {
    it(`${label}: ${scenario.runs} kills, each recovered`, async () => {
      const withAdmin = (args: string[]) =>
        args.map((arg) => (arg === "ADMIN" ? admin.identityFile : arg));
      // How long the whole command takes here: kill moments spread over it.
      const probe = copyRepo(scenario.template(), `${label}-probe`);
      scenario.prepare?.(probe);
      const full = timed(probe, ...withAdmin(scenario.command));
      const random = prng(0x5eed + label.length);
      for (let run = 0; run < scenario.runs; run++) {
        const repo = copyRepo(scenario.template(), `${label}-${run}`);
        scenario.prepare?.(repo);
        const keys = join(repo, "wireguard_keys");
        const headBefore = ok("git", ["-C", repo, "rev-parse", "HEAD"]).trim();
        const delay = Math.round(random() * full * 1.1);
        const exit = await runKilledAfter(repo, withAdmin(scenario.command), delay);

        // After the kill: nothing torn, and either consistent or a journal that verify reports.
        await noTornFiles(keys);
        const headMoved = ok("git", ["-C", repo, "rev-parse", "HEAD"]).trim() !== headBefore;
        const state =
          exit === 0
            ? "finished"
            : existsSync(join(repo, JOURNAL_FILE))
              ? "journal pending"
              : headMoved
                ? "committed"
                : "before commit point";
        kills.push(`${label}@${delay}ms: ${state}`);
        if (existsSync(join(repo, JOURNAL_FILE))) {
          const verify = wgqt(repo, "verify");
          expect(verify.status).toBe(1);
          expect(verify.stdout).toContain("an interrupted change is pending");
        } else if (existsSync(join(keys, "manifest.json"))) {
          expect(await consistentStore(keys, `${label} run ${run} after kill`)).toEqual([]);
        }
        if (headMoved) {
          expect(await headIsConsistent(repo, `${label}-${run}`)).toEqual([]);
        }

        // Then the plain command(s) finish the job.
        for (const args of scenario.finish) {
          const result = wgqt(repo, ...withAdmin(args));
          expect(
            result.status,
            `${label} run ${run} (${delay} ms): wgqt ${args.join(" ")}: ${result.stderr}`,
          ).toBe(0);
        }
        const verify = wgqt(repo, "verify");
        expect(verify.status, `${label} run ${run} (${delay} ms): ${verify.stdout}`).toBe(0);
        expect(await consistentStore(keys, `${label} run ${run} recovered`)).toEqual([]);
        expect(
          ok("git", ["-C", repo, "status", "--porcelain"]).trim(),
          `${label} run ${run}: uncommitted changes`,
        ).toBe("");
        // The reference CLI, with the hosts' own identities, on a sample of files.
        const owner = run % 4;
        const machine = name(owner + 40);
        expect(
          ageDecrypt(hosts[owner]!.identityFile, join(keys, `${machine}.age`))
            ?.toString()
            .trim(),
        ).toMatch(/^[A-Za-z0-9+/]{43}=$/);
        expect(
          ageDecrypt(
            hosts[owner]!.identityFile,
            join(keys, `preshared_keys/m040+${machine}.age`),
          ) ?? (owner === 0 ? Buffer.from("gateway") : undefined),
        ).toBeDefined();
        removeDir(repo);
      }
    }, 900_000);
  }

  afterAll(() => {
    const states = new Map<string, number>();
    for (const kill of kills) {
      const state = kill.slice(kill.indexOf(": ") + 2);
      states.set(state, (states.get(state) ?? 0) + 1);
    }
    process.stderr.write(
      `crash harness: ${kills.length} SIGKILLs; state at the kill: ${[...states].map(([state, count]) => `${count} ${state}`).join(", ")}; every one recovered to a store verify passes\n`,
    );
  });
});
