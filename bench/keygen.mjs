// The fleet-wide key generation measurements: start-up, wgqt keygen on each
// fleet size, the shell baseline doing the same job, and the X25519 floor.
// Every measurement takes `bench` first: what run.mjs set up for this run
// (options, the scratch directory, the runner, where rows are recorded).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkKeyFiles } from "./checks.mjs";
import { baselineJobs } from "./fleet.mjs";
import { floorOps } from "./floor.mjs";
import { formatMs, measureRow, runOnce } from "./measure.mjs";

/** keygen and the shell baseline: a run is killed after this. */
export const LONG_TIMEOUT_MS = 15 * 60_000;
const SHELL_SAMPLE_EVERY = 10;

export async function startup(bench) {
  const { wgqt, runs, budgetMs, log, work, env, statFile, node, record } = bench;
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
export async function keygen(bench, shape, keys, toml, { keepStore }) {
  const { runs, budgetMs, log, work, node, git, record, discard, settle, gitMissing } = bench;
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
 * shellFullLimitMs (estimated from the previous fleet's per-file time),
 * each run does all keypairs and every SHELL_SAMPLE_EVERY-th preshared key, and
 * the preshared part is scaled up linearly by the number of files. `names`
 * ({ id, label }) names the row for a fleet other than the dense one.
 */
export async function shellBaseline(bench, shape, keys, perFileMs, names = {}) {
  const {
    baselineScript,
    runs,
    budgetMs,
    log,
    work,
    env,
    statFile,
    record,
    notes,
    discard,
    settle,
    shellTools,
    shellFullLimitMs,
  } = bench;
  const id = names.id ?? `shell-${shape.n}`;
  const label = names.label ?? "shell baseline (wg + age)";
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
  const sample = estimate !== undefined && estimate > shellFullLimitMs ? SHELL_SAMPLE_EVERY : 1;
  const jobs = baselineJobs(shape, keys, sample);
  const dir = join(work, id);
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

export function floorRow(bench, shape, x25519Ms) {
  const { record } = bench;
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
