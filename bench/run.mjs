#!/usr/bin/env node
// `npm run bench`: wgqt's keygen (whole fleet and one new machine), rotate, rekey, plan, render and
// start-up, measured as a user runs them (bin/wgqt in a child process), side by
// side with the shell baseline (bench/baseline.sh) and the X25519 floor
// (bench/floor.mjs), all in one run so the ratios mean something.
//
//   node bench/run.mjs [--quick] [--hub-only] [--runs N] [--budget SECONDS] [--keep] [--out FILE]
//
// --quick        n = 25 and 100 only (rotate, rekey, plan and render on n = 100; the
//                hub-and-spoke fleet at n = 100 only), 3 runs
// --hub-only     only start-up and the hub-and-spoke fleets (bench/hub.mjs), not the
//                dense ones nor the mesh: a few minutes, 1 minute with --quick
// --runs N       runs per measurement (default 5, 3 with --quick; start-up: at least 10)
// --budget S     stop adding runs to a measurement once its runs would pass S seconds
//                (default: no limit, every measurement runs N times; a sampled shell
//                baseline counts the time its runs really took). A measurement always
//                runs at least once; the table's "runs" column says how many ran.
// --timeout S    kill a rotate, rekey, plan or render run after S seconds (default 120);
//                its row then shows "> S" (keygen and the baseline: 15 minutes)
// --shell-limit S  measure the shell baseline on a sample when a full run is estimated
//                to take longer than S seconds (default 180)
// --instructions count the instructions of start-up, plan, machine list, status and
//                rotate on the hub n = 100 fleet with valgrind (bench/instructions.mjs):
//                on by default in a full run, off with --quick (about 2 minutes)
// --keep         keep the scratch directory (fleets, stores, rendered files)
// --out FILE     write the results there instead of bench/results/
//
// Prints the table to stdout (progress to stderr) and writes bench/results/latest.json
// (bench/results/quick.json with --quick).
// How each number is measured: bench/measure.mjs (wall, CPU, RSS), bench/floor.mjs
// (the floor), bench/fleet.mjs (the fleets), bench/baseline.sh (the shell baseline).// The measurements themselves: bench/keygen.mjs, bench/store-commands.mjs,
// bench/render.mjs; their checks: bench/checks.mjs; the table: bench/report.mjs.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, constants as osConstants, release, totalmem } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { have } from "./checks.mjs";
import { fleetShape, fleetToml, makeKeys } from "./fleet.mjs";
import { diagnostics, floorOps, x25519NodeOp } from "./floor.mjs";
import { hubFleet } from "./hub.mjs";
import { floorRow, keygen, LONG_TIMEOUT_MS, shellBaseline, startup } from "./keygen.mjs";
import {
  activeChildren,
  formatMs,
  hasGnuTime,
  measurementMethod,
  runOnce,
  wrapperOverhead,
} from "./measure.mjs";
import { meshFleet } from "./mesh.mjs";
import { planAndRender } from "./render.mjs";
import {
  evaluateHubTargets,
  evaluateMeshTargets,
  evaluateTargets,
  explainRows,
  formatRows,
  formatTargets,
  hubRatios,
} from "./report.mjs";
import { createScratch, settle } from "./scratch.mjs";
import { rotateAndRekey } from "./store-commands.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const wgqt = join(root, "bin", "wgqt");
const baselineScript = join(root, "bench", "baseline.sh");
// --quick writes its own file, so a quick check never replaces the full run's results.
const resultsName = (quick, hubOnly) =>
  `${quick ? "quick" : "latest"}${hubOnly ? "-hub" : ""}.json`;

const { values: options } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    "hub-only": { type: "boolean", default: false },
    instructions: { type: "boolean" },
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
  : join(root, "bench", "results", resultsName(quick, options["hub-only"]));
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
const hubOnly = options["hub-only"];
const sizes = hubOnly ? [] : quick ? [25, 100] : [25, 100, 400];
/** The hub-and-spoke fleets (bench/hub.mjs): every 10th machine a gateway with 9 clients. */
const hubSizes = quick ? [100] : [100, 1000];
const largeN = sizes[sizes.length - 1] ?? 0;
const renderN = quick ? 100 : 1000;
/** The full mesh (bench/mesh.mjs): plan and render at n = 200, keygen at 200 (40 with --quick). */
const meshN = 200;
const meshKeygenN = quick ? 40 : 200;
/** A full shell baseline longer than this is measured on a sample and extrapolated. */
const SHELL_FULL_LIMIT_MS = Number(options["shell-limit"]) * 1000;
/** rotate, rekey, plan, render: killed after this; the row then says "> …". */
const STEP_TIMEOUT_MS = Number(options.timeout) * 1000;

const log = (line) => process.stderr.write(`${line}\n`);
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

const { work, env, discard, keepReplaced } = createScratch();

function cleanUp() {
  if (options.keep) log(`bench: scratch directory kept: ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
// Interrupted or killed (SIGTERM, a closed terminal): stop the running
// command and remove the scratch directory, which can hold hundreds of
// thousands of files.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    for (const pid of activeChildren) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {}
    }
    cleanUp();
    process.exit(128 + osConstants.signals[signal]);
  });
}

const statFile = join(work, "run.time");
const node = (args, cwd, timeoutMs = LONG_TIMEOUT_MS, runEnv = env) =>
  runOnce(process.execPath, [wgqt, ...args], { cwd, env: runEnv, statFile, timeoutMs });
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

/** What every measurement is given: this run's settings, its scratch directory and runner. */
const bench = {
  wgqt,
  baselineScript,
  runs,
  budgetMs,
  log,
  work,
  env,
  statFile,
  node,
  git,
  record,
  notes,
  discard,
  settle,
  keepReplaced,
  gitMissing,
  shellTools,
  stepTimeoutMs: STEP_TIMEOUT_MS,
  shellFullLimitMs: SHELL_FULL_LIMIT_MS,
  renderN,
  /** Whether to count instructions (bench/instructions.mjs), and its lines for "where the time goes". */
  countInstructions: options.instructions ?? !options.quick,
  instructionLines: [],
};

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
    `wgqt bench (${quick ? "quick" : "full"}${hubOnly ? ", hub only" : ""}): ${machine.nproc} × ${machine.cpu}, node ${machine.node}; scratch ${work}`,
  );
  // One host key per machine, and one for the machine `keygen --machine` adds.
  const keys = makeKeys(work, Math.max(largeN, ...hubSizes) + 1);
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

  await startup(bench);
  for (const n of hubSizes) await hubFleet(bench, n, keys);
  let kept;
  let shellPerFileMs;
  for (const n of sizes) {
    const shape = fleetShape(n);
    const toml = fleetToml(shape, keys);
    kept = await keygen(bench, shape, keys, toml, { keepStore: n === largeN });
    const shell = await shellBaseline(bench, shape, keys, shellPerFileMs);
    if (shell.status === "ok") shellPerFileMs = shell.wallMs.median / shape.files;
    floorRow(bench, shape, x25519Ms);
  }
  if (!hubOnly) {
    await rotateAndRekey(bench, fleetShape(largeN), keys, kept);
    await planAndRender(bench, keys, { partitioned: true });
    await planAndRender(bench, keys, { partitioned: false });
    await meshFleet(bench, keys, { n: meshN, keygenN: meshKeygenN });
  }

  const targets = [
    ...evaluateHubTargets(rows, { n: hubSizes[0] }),
    ...(hubOnly ? [] : evaluateTargets(rows, { largeN })),
    ...(hubOnly
      ? []
      : evaluateMeshTargets(rows, { n: meshN, keygenN: meshKeygenN, denseN: largeN })),
  ];
  notes.unshift(
    `method: ${measurementMethod}; /usr/bin/time adds ${formatMs(overheadMs)} per run (measured, not subtracted).`,
    `hub-and-spoke fleets (hub): n machines, every 10th a gateway whose proxy has the nine machines after it as clients (n = 100: 100 keypairs + 90 PSKs = 190 files); contenders: bench/baseline.sh for keygen, \`age -d\` of every file for verify, the per-file \`age -d | age -R\` loop of \`agenix -r\` for rekey (bench/store-baseline.sh), \`node -e 0\` for the commands that only read the fleet.`,
    `mesh (bench/mesh.mjs): n machines in one [meshes] network, each with an endpoint; keygen makes n keypairs + n(n − 1)/2 PSKs (n = 200: 20,100 files), compared per file with the dense fleet's keygen; plan and render with every machine's public_key.`,
    `dense fleets: n machines, every 10th a gateway whose proxy has all non-gateway machines as clients (n = 400: 40 proxies × 360 clients = 14,400 PSKs); each machine its own ssh-ed25519 host key (made with ssh-keygen) as its recipient, one age X25519 admin.`,
    `X25519 floor: node:crypto diffieHellman ${formatMs(x25519Ms)}/op; ops = keypairs + 2 × stanzas + one tweaked point per host key (bench/floor.mjs); single core.`,
  );
  const diagLines = [
    ...hubRatios(rows, hubSizes),
    ...bench.instructionLines,
    ...explainRows(rows, { diag, x25519Ms, largeN, nproc: machine.nproc }),
  ];

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
    mode: `${quick ? "quick" : "full"}${hubOnly ? "-hub" : ""}`,
    elapsedSeconds: elapsed,
    runsWanted: runs,
    budgetSeconds,
    machine,
    method: { measurement: measurementMethod, gnuTime: hasGnuTime, wrapperOverheadMs: overheadMs },
    x25519: { nodeCryptoMs: x25519Ms, ...diag },
    fleets: Object.fromEntries(
      [...sizes, ...(hubOnly ? [] : [renderN])].map((n) => {
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

try {
  await main();
} finally {
  cleanUp();
}
