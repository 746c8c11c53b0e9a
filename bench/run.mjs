#!/usr/bin/env node
// `npm run bench`: wgqt's keygen (whole fleet and one new machine), rotate, rekey, plan, render and
// start-up, measured as a user runs them (bin/wgqt in a child process), side by
// side with the shell baseline (bench/baseline.sh) and the X25519 floor
// (bench/floor.mjs), all in one run so the ratios mean something.
//
//   node bench/run.mjs [--quick] [--runs N] [--budget SECONDS] [--keep] [--out FILE]
//
// --quick        n = 25 and 100 only (rotate, rekey, plan and render on n = 100), 3 runs
// --runs N       runs per measurement (default 5, 3 with --quick; start-up: at least 10)
// --budget S     stop adding runs to a measurement once its runs would pass S seconds
//                (default: no limit, every measurement runs N times; a sampled shell
//                baseline counts the time its runs really took). A measurement always
//                runs at least once; the table's "runs" column says how many ran.
// --timeout S    kill a rotate, rekey, plan or render run after S seconds (default 120);
//                its row then shows "> S" (keygen and the baseline: 15 minutes)
// --shell-limit S  measure the shell baseline on a sample when a full run is estimated
//                to take longer than S seconds (default 180)
// --keep         keep the scratch directory (fleets, stores, rendered files)
// --out FILE     write the results there instead of bench/results/
//
// Prints the table to stdout (progress to stderr) and writes bench/results/latest.json
// (bench/results/quick.json with --quick).
// How each number is measured: bench/measure.mjs (wall, CPU, RSS), bench/floor.mjs
// (the floor), bench/fleet.mjs (the fleets), bench/baseline.sh (the shell baseline).
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism, release, tmpdir, totalmem } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  baselineJobs,
  fleetShape,
  fleetToml,
  hostKeyOf,
  machineName,
  makeKeys,
  proxyName,
} from "./fleet.mjs";
import { diagnostics, floorOps, x25519NodeOp } from "./floor.mjs";
import {
  activeChildren,
  formatMs,
  hasGnuTime,
  measurementMethod,
  measureRow,
  runOnce,
  wrapperOverhead,
} from "./measure.mjs";
import { evaluateTargets, formatRows, formatTargets } from "./report.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const wgqt = join(root, "bin", "wgqt");
const baselineScript = join(root, "bench", "baseline.sh");
// --quick writes its own file, so a quick check never replaces the full run's results.
const resultsName = (quick) => (quick ? "quick.json" : "latest.json");

const { values: options } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    runs: { type: "string" },
    budget: { type: "string" },
    keep: { type: "boolean", default: false },
    timeout: { type: "string", default: "120" },
    "shell-limit": { type: "string", default: "180" },
    out: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (options.help) {
  process.stdout.write(
    readFileSync(fileURLToPath(import.meta.url), "utf8")
      .split("\n")
      .filter((line) => line.startsWith("//"))
      .map((line) => line.slice(3))
      .join("\n")
      .concat("\n"),
  );
  process.exit(0);
}
const quick = options.quick;
const resultsFile = options.out
  ? resolve(options.out)
  : join(root, "bench", "results", resultsName(quick));
const runs = Number(options.runs ?? (quick ? 3 : 5));
const budgetSeconds = Number(options.budget ?? 0);
const budgetMs = budgetSeconds > 0 ? budgetSeconds * 1000 : Number.POSITIVE_INFINITY;
if (
  !(runs >= 1) ||
  !(budgetSeconds >= 0) ||
  !(Number(options.timeout) > 0) ||
  !(Number(options["shell-limit"]) > 0)
) {
  process.stderr.write(
    "bench: --runs must be ≥ 1, --budget ≥ 0, --timeout and --shell-limit > 0\n",
  );
  process.exit(2);
}
const sizes = quick ? [25, 100] : [25, 100, 400];
const largeN = sizes[sizes.length - 1];
const renderN = quick ? 100 : 1000;
/** A full shell baseline longer than this is measured on a sample and extrapolated. */
const SHELL_FULL_LIMIT_MS = Number(options["shell-limit"]) * 1000;
/** keygen and the shell baseline: a run is killed after this. */
const LONG_TIMEOUT_MS = 15 * 60_000;
/** rotate, rekey, plan, render: killed after this; the row then says "> …". */
const STEP_TIMEOUT_MS = Number(options.timeout) * 1000;
const SHELL_SAMPLE_EVERY = 10;

const log = (line) => process.stderr.write(`${line}\n`);
const have = (tool) =>
  spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status === 0;
for (const tool of ["ssh-keygen", "age-keygen"]) {
  if (!have(tool)) {
    log(`bench: ${tool} is needed to make the fleets' keys; install it (openssh-client, age)`);
    process.exit(1);
  }
}
if (!existsSync(join(root, "dist", "bundle", "main.js"))) {
  log("bench: dist/ is missing; run `npm run bench` (it builds first) or `npm run build`");
  process.exit(1);
}
const shellTools = ["bash", "wg", "age"].filter((tool) => !have(tool));
const gitMissing = !have("git");

const work = mkdtempSync(join(tmpdir(), "wgqt-bench-"));
const home = join(work, "home");
mkdirSync(home);
// Children see no terminal (stdin /dev/null), no colour, and none of the user's
// git or ssh configuration: HOME is an empty directory, system git config off.
const env = {
  ...process.env,
  HOME: home,
  NO_COLOR: "1",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "wgqt bench",
  GIT_AUTHOR_EMAIL: "bench@example.org",
  GIT_COMMITTER_NAME: "wgqt bench",
  GIT_COMMITTER_EMAIL: "bench@example.org",
};
delete env.FORCE_COLOR;
delete env.GIT_DIR;
delete env.GIT_WORK_TREE;

/**
 * Before a timed run: flush what the untimed setup wrote (fleet copies), so
 * that its writeback is not billed to the next command measured.
 */
function settle() {
  execFileSync("sync");
}

/**
 * Put a finished run's files out of the way without deleting them: they are
 * moved under the scratch directory's trash/ and deleted with it at the end.
 * Deleting thousands of files right before a timed run would bill the run
 * for it: ext4 without a journal (as on this kind of virtual machine) does
 * not reuse an inode freed in the last minutes, and checks every such inode
 * each time it creates a file, so creating a file after deleting a fleet's
 * store cost over ten times as much kernel time, an effect of the benchmark
 * and not of anything a user does.
 */
const trash = join(work, "trash");
let trashed = 0;
function discard(path) {
  if (!existsSync(path)) return;
  mkdirSync(trash, { recursive: true });
  renameSync(path, join(trash, String(trashed++)));
}

/**
 * The same for files a command replaces: before a run of a command that
 * replaces a whole store (rotate --all, a rekey of every file), each file of
 * the store is hard-linked under trash/, so the renames that put the new
 * files in place free no inode until the end. Otherwise each run would leave
 * 14,800 freshly freed inodes, and the next run, or the next command
 * measured, would be billed for the file system's reaction to them.
 */
function keepReplaced(dir) {
  const into = join(trash, String(trashed++));
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const from = join(entry.parentPath, entry.name);
    const to = join(into, relative(dir, from));
    if (entry.isDirectory()) mkdirSync(to, { recursive: true });
    else if (entry.isFile()) {
      mkdirSync(dirname(to), { recursive: true });
      linkSync(from, to);
    }
  }
}

function cleanUp() {
  if (options.keep) log(`bench: scratch directory kept: ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
process.on("SIGINT", () => {
  for (const pid of activeChildren) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {}
  }
  cleanUp();
  process.exit(130);
});

const statFile = join(work, "run.time");
const node = (args, cwd, timeoutMs = LONG_TIMEOUT_MS) =>
  runOnce(process.execPath, [wgqt, ...args], { cwd, env, statFile, timeoutMs });
const git = (cwd, ...args) =>
  execFileSync("git", args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });

const rows = [];
const notes = [];
/** Creating one small file slower than this (ms) means the measurements are skewed. */
const SLOW_CREATE_MS = 0.2;
function record(row) {
  rows.push(row);
  return row;
}

// ---------------------------------------------------------------- checks (untimed)

/** Every file relative to `dir`, with a SHA-256 of its bytes. */
function snapshot(dir) {
  const files = new Map();
  const walk = (path) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) walk(full);
      else
        files.set(
          relative(dir, full),
          createHash("sha256").update(readFileSync(full)).digest("hex"),
        );
    }
  };
  walk(dir);
  return files;
}

function changedFiles(before, after) {
  const changed = [...after.keys()].filter((path) => before.get(path) !== after.get(path));
  const removed = [...before.keys()].filter((path) => !after.has(path));
  const kind = (path) =>
    path.startsWith("preshared_keys/")
      ? "psk"
      : path.endsWith(".age")
        ? "age"
        : path.endsWith(".pub")
          ? "pub"
          : "other";
  const count = { age: 0, psk: 0, pub: 0, other: 0 };
  for (const path of changed) count[kind(path)]++;
  return { count, removed: removed.length, total: changed.length };
}

const describeChanges = ({ count, removed, total }) =>
  total === 0 && removed === 0
    ? "changed nothing"
    : `changed ${count.age} key .age + ${count.psk} PSK .age + ${count.pub} .pub + ${count.other} generated` +
      (removed ? `, removed ${removed}` : "");

/**
 * The store keygen (or the baseline) wrote has the right files, and the
 * reference tools read them: the admin's age identity opens a preshared key, a
 * client's ssh host key opens its private key, and `wg pubkey` agrees with its .pub.
 */
function checkKeyFiles(keysDir, shape, keys, presharedExpected) {
  const problems = [];
  const list = (dir, suffix) =>
    existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith(suffix)) : [];
  const pubs = list(keysDir, ".pub").length;
  const ages = list(keysDir, ".age").length;
  const psks = list(join(keysDir, "preshared_keys"), ".age");
  if (pubs !== shape.n) problems.push(`${pubs} .pub of ${shape.n}`);
  if (ages !== shape.n) problems.push(`${ages} .age of ${shape.n}`);
  if (psks.length !== presharedExpected)
    problems.push(`${psks.length} PSKs of ${presharedExpected}`);
  if (have("age") && psks.length > 0) {
    const psk = spawnSync("age", [
      "-d",
      "-i",
      keys.adminIdentity,
      join(keysDir, "preshared_keys", psks[0]),
    ]);
    if (psk.status !== 0 || !/^[A-Za-z0-9+/]{43}=\n$/.test(psk.stdout.toString())) {
      problems.push(`age -d (admin) fails on ${psks[0]}`);
    }
    const client = shape.clients[0];
    const decrypted = spawnSync("age", [
      "-d",
      "-i",
      hostKeyOf(keys, client).privateFile,
      join(keysDir, `${client}.age`),
    ]);
    const pub = have("wg")
      ? spawnSync("wg", ["pubkey"], { input: decrypted.stdout }).stdout.toString()
      : null;
    if (decrypted.status !== 0) problems.push(`age -d (ssh host key) fails on ${client}.age`);
    else if (pub !== null && pub !== readFileSync(join(keysDir, `${client}.pub`), "utf8")) {
      problems.push(`wg pubkey disagrees with ${client}.pub`);
    }
  }
  return problems.length ? `CHECK FAILED: ${problems.join(", ")}` : undefined;
}

// ---------------------------------------------------------------- measurements

async function startup() {
  log("start-up: node -e 0 vs wgqt --help");
  const startupRuns = Math.max(runs, 10);
  await runOnce(process.execPath, ["-e", "0"], { env }); // warm the page cache
  await runOnce(process.execPath, [wgqt, "--help"], { env });
  record(
    await measureRow(
      { id: "startup-node", label: "node -e 0" },
      {
        runs: startupRuns,
        budgetMs,
        log,
        run: () => runOnce(process.execPath, ["-e", "0"], { cwd: work, env, statFile }),
      },
    ),
  );
  record(
    await measureRow(
      { id: "startup-help", label: "wgqt --help" },
      { runs: startupRuns, budgetMs, log, run: () => node(["--help"], work) },
    ),
  );
}

/** `wgqt keygen` on a fresh store, without and with a commit. Returns a kept store. */
async function keygen(shape, keys, toml, { keepStore }) {
  let kept;
  for (const variant of ["nc", "commit"]) {
    const commit = variant === "commit";
    const label = commit ? "keygen (commit)" : "keygen --no-commit";
    log(`n = ${shape.n}: ${label}`);
    if (commit && gitMissing) {
      record({
        id: `keygen-commit-${shape.n}`,
        label,
        n: shape.n,
        status: "n/a",
        note: "git not installed",
      });
      continue;
    }
    let previous;
    const row = await measureRow(
      { id: `keygen-${variant}-${shape.n}`, label, n: shape.n, files: shape.files },
      {
        runs,
        budgetMs,
        log,
        run: (i) => {
          // A fresh fleet directory per run (untimed): wgqt.toml and, with
          // commit, a git repository whose only commit holds it.
          const dir = join(work, `keygen-${shape.n}-${variant}-${i}`);
          mkdirSync(dir);
          writeFileSync(join(dir, "wgqt.toml"), toml);
          // An empty keys_dir is a new store (what `wgqt init` starts); keygen fills it.
          mkdirSync(join(dir, "wireguard_keys"));
          if (commit) {
            git(dir, "init", "-q");
            git(dir, "add", "wgqt.toml");
            git(dir, "commit", "-q", "-m", "fleet");
          }
          if (previous && previous !== kept) discard(previous);
          previous = dir;
          settle();
          return node(commit ? ["keygen", "--yes"] : ["keygen", "--no-commit", "--yes"], dir);
        },
        check: (i) => {
          if (!commit && keepStore) {
            // Keep the newest store for rotate and rekey; drop the one kept before.
            if (kept && kept !== previous) discard(kept);
            kept = previous;
          }
          if (i > 0) return undefined;
          const problem = checkKeyFiles(
            join(previous, "wireguard_keys"),
            shape,
            keys,
            shape.presharedKeys,
          );
          if (problem) return problem;
          if (commit) {
            const count = git(previous, "rev-list", "--count", "HEAD").toString().trim();
            const dirty = git(previous, "status", "--porcelain").toString().trim();
            if (count !== "2" || dirty)
              return `CHECK FAILED: ${count} commits, ${dirty ? "dirty" : "clean"} tree`;
          }
          return undefined;
        },
      },
    );
    if (previous && previous !== kept) discard(previous);
    record(row);
  }
  return kept;
}

/**
 * The shell baseline. When the full run would take longer than
 * SHELL_FULL_LIMIT_MS (estimated from the previous fleet's per-file time),
 * each run does all keypairs and every SHELL_SAMPLE_EVERY-th preshared key, and
 * the preshared part is scaled up linearly by the number of files.
 */
async function shellBaseline(shape, keys, perFileMs) {
  const id = `shell-${shape.n}`;
  const label = "shell baseline (wg + age)";
  log(`n = ${shape.n}: ${label}`);
  if (shellTools.length) {
    return record({
      id,
      label,
      n: shape.n,
      status: "n/a",
      note: `not installed: ${shellTools.join(", ")}`,
    });
  }
  const estimate = perFileMs === undefined ? undefined : perFileMs * shape.files;
  const sample = estimate !== undefined && estimate > SHELL_FULL_LIMIT_MS ? SHELL_SAMPLE_EVERY : 1;
  const jobs = baselineJobs(shape, keys, sample);
  const dir = join(work, `shell-${shape.n}`);
  mkdirSync(dir);
  const keypairJobs = join(dir, "keypairs.jobs");
  const presharedJobs = join(dir, "preshared.jobs");
  const allJobs = join(dir, "all.jobs");
  writeFileSync(keypairJobs, `${jobs.keypairs.join("\n")}\n`);
  writeFileSync(presharedJobs, `${jobs.preshared.join("\n")}\n`);
  writeFileSync(allJobs, `${[...jobs.keypairs, ...jobs.preshared].join("\n")}\n`);
  const scale = shape.presharedKeys / jobs.preshared.length;
  const note =
    sample > 1
      ? `sampled: all ${shape.keypairs} keypairs + every ${sample}th PSK (${jobs.preshared.length} of ${shape.presharedKeys}), PSK time ×${scale.toFixed(1)}`
      : undefined;
  if (sample > 1) {
    notes.push(
      `shell baseline at n = ${shape.n}: a full run would take about ${formatMs(estimate)} (from the per-file time at the previous n), so each run does all ${shape.keypairs} keypairs and a deterministic sample of ${jobs.preshared.length} of the ${shape.presharedKeys} preshared keys (every ${sample}th gateway–client pair in order); the PSK part's wall and CPU time are multiplied by ${scale.toFixed(2)}.`,
    );
  }
  let out;
  const row = await measureRow(
    { id, label, n: shape.n, files: shape.files, note },
    {
      runs,
      budgetMs,
      log,
      run: async (i) => {
        out = join(dir, `out-${i}`);
        const bash = (jobFile) =>
          runOnce("bash", [baselineScript, jobFile, out], {
            cwd: dir,
            env,
            statFile,
            timeoutMs: LONG_TIMEOUT_MS,
          });
        settle();
        if (sample === 1) return bash(allJobs);
        const keypairs = await bash(keypairJobs);
        if (keypairs.code !== 0) return keypairs;
        const preshared = await bash(presharedJobs);
        return {
          ...preshared,
          wallMs: keypairs.wallMs + preshared.wallMs * scale,
          // What the time budget counts: the run as it really took, not scaled up.
          spentMs: keypairs.wallMs + preshared.wallMs,
          cpuMs: keypairs.cpuMs === null ? null : keypairs.cpuMs + preshared.cpuMs * scale,
          rssMb: Math.max(keypairs.rssMb ?? 0, preshared.rssMb ?? 0) || null,
        };
      },
      check: (i) => {
        const problem =
          i === 0 ? checkKeyFiles(out, shape, keys, jobs.preshared.length) : undefined;
        discard(out);
        return problem;
      },
    },
  );
  return record(row);
}

function floorRow(shape, x25519Ms) {
  const ops = floorOps(shape);
  return record({
    id: `floor-${shape.n}`,
    label: "X25519 floor",
    n: shape.n,
    files: shape.files,
    computed: true,
    status: "ok",
    runs: 0,
    ops,
    wallMs: {
      median: ops.minimal * x25519Ms,
      min: ops.minimal * x25519Ms,
      max: ops.minimal * x25519Ms,
    },
    cpuMs: null,
    peakRssMb: null,
    note: `${ops.minimal.toLocaleString("en")} ops × ${formatMs(x25519Ms)} (agessh as written: ${ops.agessh.toLocaleString("en")} ops = ${formatMs(ops.agessh * x25519Ms)})`,
  });
}

/**
 * The fleet's wgqt.toml with one more machine, `name`, a client of the first
 * proxy: what a user has after `wgqt machine add` and an edit.
 */
function withNewClient(shape, keys, name) {
  const proxy = `[proxies.${proxyName(0)}]\ngateway = "${shape.gateways[0]}"\nclients = [`;
  const toml = fleetToml(shape, keys);
  if (!toml.includes(proxy)) throw new Error(`bench: no ${proxy} in the fleet's wgqt.toml`);
  const machine = `[machines.${name}]\nrecipients = [${JSON.stringify(hostKeyOf(keys, name).recipient)}]\n\n`;
  return toml.replace(proxy, `${machine}${proxy}${JSON.stringify(name)}, `);
}

/**
 * On copies of a keygen'd store: keygen for one new machine (the canonical
 * call), rotate one client, and rekey after its host key changed.
 */
async function rotateAndRekey(shape, keys, store) {
  const client = shape.clients[0];
  const gateway = shape.gateways[1];
  const newcomer = machineName(shape.n);
  const pairs = shape.gateways.length;
  if (!store) {
    for (const [id, label] of [
      ["keygen-one", `keygen --machine ${newcomer}`],
      ["rotate", `rotate --machine ${client}`],
      ["list", "machine list"],
      ["rotate-gateway", `rotate --machine ${gateway}`],
      ["rekey", "rekey (1 host key changed)"],
      ["rotate-all", "rotate --all"],
      ["rekey-all", "rekey (admin added)"],
      ["status", "status --json"],
      ["verify", "verify"],
    ]) {
      record({ id, label, n: shape.n, status: "n/a", note: "no keygen'd store (keygen failed)" });
    }
    return;
  }

  // Each run on a fresh copy of the store: the second would find nothing to make.
  log(`n = ${shape.n}: keygen --machine ${newcomer} (a new client of ${proxyName(0)})`);
  const grown = withNewClient(shape, keys, newcomer);
  let copy;
  record(
    await measureOnStore(
      {
        id: "keygen-one",
        label: `keygen --machine ${newcomer}`,
        n: shape.n,
        files: 2,
        expect: "keypair + 1 PSK",
      },
      (i) => {
        if (copy) discard(copy);
        copy = join(work, `keygen-one-${i}`);
        cpSync(store, copy, { recursive: true });
        writeFileSync(join(copy, "wgqt.toml"), grown);
        return copy;
      },
      ["keygen", "--machine", newcomer, "--yes", "--no-commit"],
    ),
  );
  if (copy) discard(copy);
  const rotateDir = join(work, "rotate");
  const rekeyDir = join(work, "rekey");
  cpSync(store, rotateDir, { recursive: true });
  cpSync(store, rekeyDir, { recursive: true });
  discard(store);

  log(`n = ${shape.n}: rotate --machine ${client}`);
  record(
    await measureOnStore(
      {
        id: "rotate",
        label: `rotate --machine ${client}`,
        n: shape.n,
        files: 1 + pairs,
        expect: `keypair + ${pairs} PSKs`,
      },
      () => rotateDir,
      ["rotate", "--machine", client, "--yes", "--no-commit"],
    ),
  );

  // What rotate costs beyond the fixed part every command on this fleet pays:
  // `machine list` reads wgqt.toml and the .pub files and changes nothing, and
  // a gateway's rotation renews 9 times the client's secrets.
  log(`n = ${shape.n}: machine list; rotate --machine ${gateway}`);
  record(
    await measureOnStore(
      { id: "list", label: "machine list", n: shape.n, files: 0, expect: "reads the fleet" },
      () => rotateDir,
      ["machine", "list"],
    ),
  );
  record(
    await measureOnStore(
      {
        id: "rotate-gateway",
        label: `rotate --machine ${gateway}`,
        n: shape.n,
        files: 1 + shape.clients.length,
        expect: `keypair + ${shape.clients.length} PSKs`,
      },
      () => rotateDir,
      ["rotate", "--machine", gateway, "--yes", "--no-commit"],
    ),
  );

  // Each run gives the client a different host key than the run before
  // (untimed edit of wgqt.toml), so every run has the same work: its private
  // key and its PSKs, re-encrypted; the admin's age identity decrypts them.
  log(`n = ${shape.n}: rekey after ${client}'s host key changed`);
  record(
    await measureOnStore(
      {
        id: "rekey",
        label: "rekey (1 host key changed)",
        n: shape.n,
        files: 1 + pairs,
        expect: `${1 + pairs} files re-encrypted`,
      },
      (i) => {
        const newKey = keys.spare[i % keys.spare.length];
        writeFileSync(
          join(rekeyDir, "wgqt.toml"),
          fleetToml(shape, keys, { overrides: { [client]: newKey } }),
        );
        return rekeyDir;
      },
      ["rekey", "--identity", keys.adminIdentity, "--yes", "--no-commit"],
    ),
  );

  // The whole-fleet operations, each as much work as keygen: every key
  // renewed (rotate --all), and every file re-encrypted for one more admin
  // (a different new admin each run, so every run re-encrypts all of them).
  log(`n = ${shape.n}: rotate --all`);
  record(
    await measureOnStore({
      id: "rotate-all",
      label: "rotate --all",
      n: shape.n,
      files: shape.files,
      expect: `${shape.keypairs} keypairs + ${shape.presharedKeys} PSKs`,
    }, () => {
      keepReplaced(join(rotateDir, "wireguard_keys"));
      return rotateDir;
    }, ["rotate", "--all", "--yes", "--no-commit"]),
  );
  log(`n = ${shape.n}: rekey after an admin was added`);
  const toml = fleetToml(shape, keys);
  const admins = `admins = [${JSON.stringify(keys.admin)}]`;
  if (!toml.includes(admins)) throw new Error(`bench: no ${admins} in the fleet's wgqt.toml`);
  record(
    await measureOnStore(
      {
        id: "rekey-all",
        label: "rekey (admin added)",
        n: shape.n,
        files: shape.files,
        expect: `${shape.files} files re-encrypted`,
      },
      (i) => {
        const identity = join(work, `admin-${i}.key`);
        execFileSync("age-keygen", ["-o", identity], { stdio: "ignore" });
        const added = execFileSync("age-keygen", ["-y", identity], { encoding: "utf8" }).trim();
        const both = `admins = [${JSON.stringify(keys.admin)}, ${JSON.stringify(added)}]`;
        writeFileSync(join(rotateDir, "wgqt.toml"), toml.replace(admins, both));
        keepReplaced(join(rotateDir, "wireguard_keys"));
        return rotateDir;
      },
      ["rekey", "--identity", keys.adminIdentity, "--yes", "--no-commit"],
    ),
  );

  // The commands that read every file of the store (its header, not its
  // secret) and change nothing: the fleet overview and the consistency check.
  log(`n = ${shape.n}: status --json; verify`);
  for (const [id, args] of [
    ["status", ["status", "--json"]],
    ["verify", ["verify"]],
  ]) {
    record(
      await measureOnStore(
        {
          id,
          label: args.join(" "),
          n: shape.n,
          files: shape.files,
          expect: "reads every file's header",
        },
        () => rotateDir,
        args,
      ),
    );
  }
}

/**
 * Measure `wgqt args` on a fleet: `prepare(i)` readies run i's fleet
 * directory (untimed) and returns it. The first run's changes to the store
 * are described in the row's note.
 */
function measureOnStore(row, prepare, args) {
  let dir;
  let before;
  return measureRow(row, {
    runs,
    budgetMs,
    log,
    run: (i) => {
      dir = prepare(i);
      if (i === 0) before = snapshot(join(dir, "wireguard_keys"));
      settle();
      return node(args, dir, STEP_TIMEOUT_MS);
    },
    check: (i) =>
      i === 0
        ? describeChanges(changedFiles(before, snapshot(join(dir, "wireguard_keys"))))
        : undefined,
  });
}

/**
 * plan and render for every host of an n = 1000 fleet in 100 networks. The
 * target's fleet is partitioned: each network a gateway and its nine clients
 * (900 peer pairs). The dense one, measured without a target, puts every
 * client in all 100 networks (90,000 peer pairs, 99 bridges per client): the
 * most a 1000-machine fleet could ask of plan and render. Every machine
 * brings its own `public_key` (valid random X25519 keys), so no keygen is
 * needed: plan and render read public keys and name key files, they never
 * decrypt. The store directory exists and is empty.
 */
async function planAndRender(keys, { partitioned }) {
  const shape = fleetShape(renderN, { partitioned });
  const suffix = partitioned ? "" : "-dense";
  const dir = join(work, `render-${renderN}${suffix}`);
  mkdirSync(join(dir, "wireguard_keys"), { recursive: true });
  writeFileSync(join(dir, "wgqt.toml"), fleetToml(shape, keys, { publicKeys: true }));
  const networks = `${shape.proxies} networks, ${shape.presharedKeys.toLocaleString("en")} peer pairs${partitioned ? "" : ": every client in every network"}`;
  log(`n = ${renderN}: plan, render --format nixos (${networks})`);
  const plan = record(
    await measureRow(
      {
        id: `plan${suffix}`,
        label: `plan${partitioned ? "" : " (dense)"}`,
        n: renderN,
        note: networks,
      },
      { runs, budgetMs, log, run: () => node(["plan"], dir, STEP_TIMEOUT_MS) },
    ),
  );
  const out = join(dir, "out");
  const render = record(
    await measureRow(
      {
        id: `render${suffix}`,
        label: `render --format nixos --out${partitioned ? "" : " (dense)"}`,
        n: renderN,
      },
      {
        runs,
        budgetMs,
        log,
        run: () => {
          discard(out);
          settle();
          return node(["render", "--format", "nixos", "--out", out], dir, STEP_TIMEOUT_MS);
        },
        check: (i) => {
          if (i > 0) return undefined;
          let files = 0;
          let bytes = 0;
          const walk = (path) => {
            for (const entry of readdirSync(path, { withFileTypes: true })) {
              if (entry.isDirectory()) walk(join(path, entry.name));
              else {
                files++;
                bytes += statSync(join(path, entry.name)).size;
              }
            }
          };
          if (existsSync(out)) walk(out);
          return `wrote ${files} files, ${(bytes / 1e6).toFixed(1)} MB`;
        },
      },
    ),
  );
  // The target is for both together: CPU added up, RSS the larger peak.
  if (plan.status === "ok" && render.status === "ok") {
    record({
      id: `plan-render${suffix}`,
      label: `plan + render${partitioned ? "" : " (dense)"}`,
      n: renderN,
      status: "ok",
      computed: true,
      runs: Math.min(plan.runs, render.runs),
      wallMs: {
        median: plan.wallMs.median + render.wallMs.median,
        min: plan.wallMs.min + render.wallMs.min,
        max: plan.wallMs.max + render.wallMs.max,
      },
      cpuMs: plan.cpuMs === null || render.cpuMs === null ? null : plan.cpuMs + render.cpuMs,
      sysMs: plan.sysMs == null || render.sysMs == null ? null : plan.sysMs + render.sysMs,
      peakRssMb: Math.max(plan.peakRssMb ?? 0, render.peakRssMb ?? 0) || null,
      note: `sum of the two medians; peak RSS the larger${
        plan.sysMs == null || render.sysMs == null
          ? ""
          : `; CPU = ${formatMs(plan.cpuMs + render.cpuMs - plan.sysMs - render.sysMs)} user + ${formatMs(plan.sysMs + render.sysMs)} kernel`
      }`,
    });
  } else {
    const why = [plan, render].find((row) => row.status !== "ok");
    record({
      id: `plan-render${suffix}`,
      label: `plan + render${partitioned ? "" : " (dense)"}`,
      n: renderN,
      status: why.status,
      note: why.note,
    });
  }
}

// ---------------------------------------------------------------- the run

function cpuModel() {
  try {
    const match = /^model name\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    return match ? match[1].trim() : "unknown";
  } catch {
    return "unknown";
  }
}

async function main() {
  const started = Date.now();
  const machine = {
    nproc: availableParallelism(),
    cpu: cpuModel(),
    node: process.version,
    kernel: release(),
    memoryGB: Math.round(totalmem() / 2 ** 30),
    tools: Object.fromEntries(
      [
        ["age", ["age", "--version"]],
        ["wg", ["wg", "--version"]],
        ["git", ["git", "--version"]],
      ].map(([name, argv]) => {
        const result = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
        return [name, result.status === 0 ? result.stdout.trim() : "missing"];
      }),
    ),
  };
  log(
    `wgqt bench (${quick ? "quick" : "full"}): ${machine.nproc} × ${machine.cpu}, node ${machine.node}; scratch ${work}`,
  );
  // One host key per machine, and one for the machine `keygen --machine` adds.
  const keys = makeKeys(work, largeN + 1);
  const overheadMs = await wrapperOverhead(work);
  log("X25519 floor and in-process diagnostics");
  const x25519Ms = x25519NodeOp({ iterations: quick ? 1000 : 3000 });
  const diag = await diagnostics(root, keys, work, { quick });
  if (diag.createFileMs > SLOW_CREATE_MS) {
    // ext4 checks each recently freed inode before reusing one: after a large
    // deletion (a test suite, an earlier benchmark's cleanup) creating files
    // is many times slower for minutes, and every command here creates files.
    const warning = `creating a file took ${formatMs(diag.createFileMs)} at the start (usually well under ${formatMs(SLOW_CREATE_MS)}): the file system is probably still busy after a large deletion, so every time that involves writing files is inflated; rerun in a few minutes`;
    log(`bench: warning: ${warning}`);
    notes.push(`warning: ${warning}`);
  }

  await startup();
  let kept;
  let shellPerFileMs;
  for (const n of sizes) {
    const shape = fleetShape(n);
    const toml = fleetToml(shape, keys);
    kept = await keygen(shape, keys, toml, { keepStore: n === largeN });
    const shell = await shellBaseline(shape, keys, shellPerFileMs);
    if (shell.status === "ok") shellPerFileMs = shell.wallMs.median / shape.files;
    floorRow(shape, x25519Ms);
  }
  await rotateAndRekey(fleetShape(largeN), keys, kept);
  await planAndRender(keys, { partitioned: true });
  await planAndRender(keys, { partitioned: false });

  const targets = evaluateTargets(rows, { largeN });
  notes.unshift(
    `method: ${measurementMethod}; /usr/bin/time adds ${formatMs(overheadMs)} per run (measured, not subtracted).`,
    `fleets: n machines, every 10th a gateway whose proxy has all non-gateway machines as clients (n = 400: 40 proxies × 360 clients = 14,400 PSKs); each machine its own ssh-ed25519 host key (made with ssh-keygen) as its recipient, one age X25519 admin.`,
    `X25519 floor: node:crypto diffieHellman ${formatMs(x25519Ms)}/op; ops = keypairs + 2 × stanzas + one tweaked point per host key (bench/floor.mjs); single core.`,
  );
  const diagLines = [
    `@noble/curves x25519: ${formatMs(diag.nobleX25519Ms)}/op (node:crypto ${formatMs(x25519Ms)}/op, ${diag.nobleX25519Ms ? ratioText(diag.nobleX25519Ms / x25519Ms) : "?"} slower)`,
    `wgqt encryptTo, one PSK file (2 ssh-ed25519 + 1 X25519), recipients pre-parsed: ${formatMs(diag.encryptPresharedMs)}`,
    `parseRecipient × 3 (remembered after first use): ${formatMs(diag.parseRecipientsMs)}`,
    `writing a batch of files (temp, rename; one syncfs for the batch) per file: ${formatMs(diag.batchWritePerFileMs)}`,
    `creating one 3.5 KB file (writeFileSync, 1000 in a fresh directory): ${formatMs(diag.createFileMs)}, of which kernel CPU ${formatMs(diag.createFileKernelMs)}`,
  ];
  const keygenLarge = rows.find((row) => row.id === `keygen-nc-${largeN}`);
  if (keygenLarge?.status === "ok" && diag.parseAndEncryptPresharedMs && diag.batchWritePerFileMs) {
    const shape = fleetShape(largeN);
    const crypto = (shape.files * diag.parseAndEncryptPresharedMs) / machine.nproc;
    const io = shape.files * diag.batchWritePerFileMs;
    diagLines.push(
      `keygen n = ${largeN} predicted from those: ${shape.files} files × ${formatMs(diag.parseAndEncryptPresharedMs)} parse+encrypt on ${machine.nproc} cores = ${formatMs(crypto)}, + ${shape.files} × ${formatMs(diag.batchWritePerFileMs)} write = ${formatMs(io)}; measured ${formatMs(keygenLarge.wallMs.median)}`,
    );
  }
  const shellLarge = rows.find((row) => row.id === `shell-${largeN}`);
  const floorLarge = rows.find((row) => row.id === `floor-${largeN}`);
  if (shellLarge?.status === "ok" && floorLarge?.status === "ok") {
    const allCores = floorLarge.wallMs.median / machine.nproc;
    diagLines.push(
      `the X25519 floor on all ${machine.nproc} cores: ${formatMs(allCores)}, so no keygen here can be more than ${ratioText(shellLarge.wallMs.median / allCores)} faster than the shell baseline (30× would need ${formatMs(shellLarge.wallMs.median / 30)})`,
    );
  }
  const [list, rotateClient, rotateGateway] = ["list", "rotate", "rotate-gateway"].map((id) =>
    rows.find((row) => row.id === id && row.status === "ok"),
  );
  if (list && rotateClient && rotateGateway) {
    const perFile =
      (rotateGateway.wallMs.median - rotateClient.wallMs.median) /
      (rotateGateway.files - rotateClient.files);
    const fixed = rotateClient.wallMs.median - perFile * rotateClient.files;
    diagLines.push(
      `rotate at n = ${list.n}: ${formatMs(perFile)} per secret renewed (${rotateClient.files} → ${rotateGateway.files} secrets: ${formatMs(rotateClient.wallMs.median)} → ${formatMs(rotateGateway.wallMs.median)}), on top of ${formatMs(fixed)} that does not depend on the machine; \`machine list\` on the same store takes ${formatMs(list.wallMs.median)} (${keygenLarge?.status === "ok" ? `${((100 * list.wallMs.median) / keygenLarge.wallMs.median).toFixed(1)} %` : "?"} of keygen)`,
    );
  }
  const wholeFleet = ["rotate-all", "rekey-all"]
    .map((id) => rows.find((row) => row.id === id && row.status === "ok"))
    .filter((row) => row !== undefined);
  if (keygenLarge?.status === "ok" && wholeFleet.length) {
    diagLines.push(
      `whole-fleet changes at n = ${largeN}, as many files as keygen: ${wholeFleet
        .map(
          (row) =>
            `${row.label} ${formatMs(row.wallMs.median)} (${ratioText(row.wallMs.median / keygenLarge.wallMs.median)} keygen's time)`,
        )
        .join(", ")}; rekey also decrypts every file first, and writes one stanza more per file`,
    );
  }
  const commitLarge = rows.find((row) => row.id === `keygen-commit-${largeN}`);
  if (keygenLarge?.status === "ok" && commitLarge?.status === "ok") {
    const gitMs = commitLarge.wallMs.median - keygenLarge.wallMs.median;
    diagLines.push(
      `git commit of the n = ${largeN} store: ${formatMs(gitMs)} (keygen with commit − without${gitMs < 0 ? ": within the run-to-run noise" : ""})`,
    );
  }

  const elapsed = (Date.now() - started) / 1000;
  const header = `wgqt bench, ${quick ? "quick (--quick)" : "full"} run, ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC — ${machine.nproc} × ${machine.cpu}, node ${machine.node}, ${elapsed.toFixed(0)} s`;
  const text = [
    header,
    "",
    formatRows(rows),
    "",
    formatTargets(targets),
    "",
    "where the time goes (in process):",
    ...diagLines.map((line) => `  ${line}`),
    "",
    "notes:",
    ...notes.map((line) => `  - ${line}`),
  ].join("\n");
  process.stdout.write(`${text}\n`);

  const result = {
    date: new Date().toISOString(),
    mode: quick ? "quick" : "full",
    elapsedSeconds: elapsed,
    runsWanted: runs,
    budgetSeconds,
    machine,
    method: { measurement: measurementMethod, gnuTime: hasGnuTime, wrapperOverheadMs: overheadMs },
    x25519: { nodeCryptoMs: x25519Ms, ...diag },
    fleets: Object.fromEntries(
      [...sizes, renderN].map((n) => {
        const { gateways, clients, ...shape } = fleetShape(n);
        return [n, { ...shape, floorOps: floorOps(fleetShape(n)) }];
      }),
    ),
    rows,
    targets,
    notes,
    diagnostics: diagLines,
    table: text,
  };
  mkdirSync(dirname(resultsFile), { recursive: true });
  // Microseconds are plenty; and the file is committed, so it is laid out the
  // way the project's formatter (Biome, which checks bench/**) wants it.
  const rounded = (_key, value) =>
    typeof value === "number" && !Number.isInteger(value) ? Math.round(value * 1000) / 1000 : value;
  writeFileSync(`${resultsFile}.tmp`, `${JSON.stringify(result, rounded, 2)}\n`);
  renameSync(`${resultsFile}.tmp`, resultsFile);
  const biome = join(root, "node_modules", ".bin", "biome");
  if (existsSync(biome)) spawnSync(biome, ["format", "--write", resultsFile], { stdio: "ignore" });
  log(`bench: wrote ${relative(root, resultsFile)}`);
}

function ratioText(value) {
  return `${value.toFixed(value < 10 ? 1 : 0)}×`;
}

try {
  await main();
} finally {
  cleanUp();
}
