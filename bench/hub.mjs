// The realistic fleet: hub and spoke, every 10th machine a gateway with the
// nine machines after it as its clients (n = 100: 100 keypairs + 90 preshared
// keys = 190 files), one ssh-ed25519 host key per machine, one age admin. Each
// wgqt command is measured beside what a user would run instead, in the same
// run: the shell pipeline for keygen (bench/baseline.sh), `age -d` of every
// file for verify and the per-file `age -d | age -R` loop of `agenix -r` for a
// rekey (bench/store-baseline.sh), and `node -e 0` for the commands that only
// read the fleet (measured by keygen.mjs's start-up rows).
// Every measurement takes `bench` first: what run.mjs set up for this run.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkKeyFiles } from "./checks.mjs";
import { baselineJobs, fleetShape, fleetToml } from "./fleet.mjs";
import { instructionSplit } from "./instructions.mjs";
import { shellBaseline } from "./keygen.mjs";
import { measureRow, runOnce, summarize } from "./measure.mjs";
import { measureOnStore } from "./store-commands.mjs";

/**
 * The commands that read the fleet and change nothing, measured against
 * `node -e 0`; `plan` also without wgqt's code cache, as the first run of a
 * new build of wgqt runs it.
 */
export const HUB_READERS = [
  ["plan", ["plan"]],
  ["plan-uncached", ["plan"], { WGQT_NO_CODE_CACHE: "1" }, "plan, no code cache"],
  ["list", ["machine", "list"]],
  ["status", ["status"]],
  ["keygen-noop", ["keygen", "--no-commit", "--yes"]],
];

export async function hubFleet(bench, n, keys) {
  const { runs, budgetMs, log, work, env, statFile, node, record, discard, settle, shellTools } =
    bench;
  const shape = fleetShape(n, { partitioned: true });
  const toml = fleetToml(shape, keys);
  const id = (name) => `hub-${name}-${n}`;
  const label = (text) => `${text} (hub)`;

  log(`hub n = ${n}: keygen --no-commit`);
  let store;
  const keygen = record(
    await measureRow(
      { id: id("keygen"), label: label("keygen --no-commit"), n, files: shape.files },
      {
        runs,
        budgetMs,
        log,
        run: (i) => {
          const dir = join(work, `hub-${n}-${i}`);
          mkdirSync(join(dir, "wireguard_keys"), { recursive: true });
          writeFileSync(join(dir, "wgqt.toml"), toml);
          if (store) discard(store);
          store = dir;
          settle();
          return node(["keygen", "--no-commit", "--yes"], dir);
        },
        check: (i) =>
          i === 0
            ? checkKeyFiles(join(store, "wireguard_keys"), shape, keys, shape.presharedKeys)
            : undefined,
      },
    ),
  );
  await shellBaseline(bench, shape, keys, undefined, {
    id: id("shell"),
    label: label("shell baseline (wg + age)"),
  });
  if (keygen.status !== "ok") return;

  // The commands that read the fleet and change nothing, on the store just made,
  // each run just after a run of `node -e 0`: the machine's speed drifts by a
  // quarter over minutes here, and a ratio of two commands means something
  // only when both saw the same machine.
  for (const [name, args, extraEnv = {}, text = args.join(" ")] of HUB_READERS) {
    log(`hub n = ${n}: ${text}, each run after one of node -e 0`);
    const baseline = [];
    const row = await measureOnStore(
      // As many runs as the start-up rows (bench/keygen.mjs): a run is short.
      {
        ...bench,
        runs: Math.max(runs, 10),
        node: (args, cwd, timeoutMs) => node(args, cwd, timeoutMs, { ...env, ...extraEnv }),
      },
      { id: id(name), label: label(text), n, files: 0, expect: "changes nothing" },
      () => store,
      args,
      {
        beforeEach: async (dir) => {
          settle();
          baseline.push(await runOnce(process.execPath, ["-e", "0"], { cwd: dir, env, statFile }));
        },
      },
    );
    if (row.status !== "ok") {
      record(row);
      continue;
    }
    const beside = {
      id: id(`${name}-node`),
      label: label(`node -e 0 beside ${text}`),
      n,
    };
    // The command's row names the row of its node -e 0 runs (bench/report.mjs, startupRatio).
    record({ ...row, baseline: beside.id });
    record(summarize(beside, baseline));
  }
  if (n === 100 && bench.countInstructions) {
    const split = instructionSplit(bench, store, n);
    if (split.missing)
      bench.notes.push(`instruction counts (bench/instructions.mjs) skipped: no ${split.missing}`);
    else bench.instructionLines.push(...split.lines);
  }
  log(`hub n = ${n}: verify; age -d of every file`);
  record(
    await measureOnStore(
      bench,
      { id: id("verify"), label: label("verify"), n, files: shape.files },
      () => store,
      ["verify"],
    ),
  );
  const jobs = baselineJobs(shape, keys);
  const jobFile = join(work, `hub-${n}.jobs`);
  writeFileSync(jobFile, `${[...jobs.keypairs, ...jobs.preshared].join("\n")}\n`);
  const script = join(bench.baselineScript, "..", "store-baseline.sh");
  const shell = (args) =>
    runOnce("bash", [script, ...args], { cwd: work, env, statFile, timeoutMs: 15 * 60_000 });
  const keysDir = (dir) => join(dir, "wireguard_keys");
  const missing = shellTools.filter((tool) => tool !== "wg");
  const na = (row) => record({ ...row, status: "n/a", note: `not installed: ${missing}` });
  const decryptRow = {
    id: id("age-d"),
    label: label("age -d of every file"),
    n,
    files: shape.files,
  };
  if (missing.length) na(decryptRow);
  else
    record(
      await measureRow(decryptRow, {
        runs,
        budgetMs,
        log,
        run: () => {
          settle();
          return shell(["decrypt", jobFile, keysDir(store), keys.adminIdentity]);
        },
      }),
    );

  log(`hub n = ${n}: rotate --machine m0001`);
  record(
    await measureOnStore(
      bench,
      {
        id: id("rotate"),
        label: label("rotate --machine m0001"),
        n,
        files: 2,
        expect: "keypair + 1 PSK",
      },
      () => store,
      ["rotate", "--machine", "m0001", "--yes", "--no-commit"],
    ),
  );

  // Rekey after an admin was added: a new admin each run, so every run
  // re-encrypts every file; wgqt and the agenix loop each on their own copy.
  log(`hub n = ${n}: rekey (admin added); the age -d | age -R loop`);
  const admins = `admins = [${JSON.stringify(keys.admin)}]`;
  const newAdmin = (i) => {
    const identity = join(work, `hub-admin-${n}-${i}.key`);
    execFileSync("age-keygen", ["-o", identity], { stdio: "ignore" });
    const recipient = execFileSync("age-keygen", ["-y", identity], { encoding: "utf8" }).trim();
    writeFileSync(`${identity}.txt`, `${recipient}\n`);
    return { recipient, file: `${identity}.txt` };
  };
  const rekeyStore = join(work, `hub-${n}-rekey`);
  cpSync(store, rekeyStore, { recursive: true });
  record(
    await measureOnStore(
      bench,
      {
        id: id("rekey"),
        label: label("rekey (admin added)"),
        n,
        files: shape.files,
        expect: `${shape.files} files re-encrypted`,
      },
      (i) => {
        const both = `admins = [${JSON.stringify(keys.admin)}, ${JSON.stringify(newAdmin(i).recipient)}]`;
        writeFileSync(join(rekeyStore, "wgqt.toml"), toml.replace(admins, both));
        return rekeyStore;
      },
      ["rekey", "--identity", keys.adminIdentity, "--yes", "--no-commit"],
    ),
  );
  const agenixRow = {
    id: id("agenix"),
    label: label("age -d | age -R, every file"),
    n,
    files: shape.files,
  };
  if (missing.length) na(agenixRow);
  else {
    const loopStore = join(work, `hub-${n}-agenix`);
    cpSync(store, loopStore, { recursive: true });
    record(
      await measureRow(agenixRow, {
        runs,
        budgetMs,
        log,
        run: (i) => {
          const added = newAdmin(`loop-${i}`);
          settle();
          return shell(["rekey", jobFile, keysDir(loopStore), keys.adminIdentity, added.file]);
        },
      }),
    );
    discard(loopStore);
  }
  discard(rekeyStore);
  discard(store);
}
