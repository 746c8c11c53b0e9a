// Where a command's fixed cost goes, counted in instructions rather than
// seconds: callgrind (valgrind) counts the instructions a process runs, the
// same count run after run whatever else the machine is doing, so the split
// holds on a busy machine where wall times do not. Each step adds one part:
//
//   node -e 0                      Node's own start-up
//   wgqt --version                 + loading wgqt's command line (commander, main)
//   wgqt plan, no fleet here       + loading the command's code (config, planner, store)
//   wgqt plan on the fleet         + the work: reading the fleet and planning it
//
// and the same for machine list, status and a one-client rotate (each on its
// own copy of the store). Skipped, with a note, when valgrind is missing.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";

/** Instructions one run of `node args` in `cwd` executes (callgrind's "I refs"), or null. */
function instructions(args, cwd, env) {
  const result = spawnSync(
    "valgrind",
    ["--tool=callgrind", "--callgrind-out-file=/dev/null", process.execPath, ...args],
    { cwd, env, encoding: "utf8", stdio: ["ignore", "ignore", "pipe"], timeout: 300_000 },
  );
  const match = /I\s+refs:\s+([\d,]+)/.exec(result.stderr ?? "");
  return match ? Number(match[1].replaceAll(",", "")) : null;
}

const haveValgrind = () => spawnSync("valgrind", ["--version"], { stdio: "ignore" }).status === 0;

/**
 * The instruction split on the hub-and-spoke store `store` (left as it was).
 *
 * @returns `{ parts, lines }`: the counts by id, and the report's lines; or
 *   `{ missing: "valgrind" }`.
 */
export function instructionSplit(bench, store, n) {
  if (!haveValgrind()) return { missing: "valgrind" };
  const { wgqt, work, env, log } = bench;
  log(`hub n = ${n}: instruction counts (callgrind), 7 runs of about 15 s`);
  const empty = join(work, "no-fleet");
  mkdirSync(empty, { recursive: true });
  const copy = join(work, `hub-${n}-instructions`);
  cpSync(store, copy, { recursive: true });
  const parts = {
    node: instructions(["-e", "0"], empty, env),
    version: instructions([wgqt, "--version"], empty, env),
    // "no wgqt.toml": the plan command's code is loaded, then it stops.
    planNoFleet: instructions([wgqt, "plan"], empty, env),
    plan: instructions([wgqt, "plan"], copy, env),
    list: instructions([wgqt, "machine", "list"], copy, env),
    status: instructions([wgqt, "status"], copy, env),
    rotate: instructions([wgqt, "rotate", "--machine", "m0001", "--yes", "--no-commit"], copy, env),
  };
  rmSync(copy, { recursive: true, force: true });
  if (Object.values(parts).some((count) => count === null)) return { missing: "callgrind output" };
  const m = (count) => `${(count / 1e6).toFixed(0)}M`;
  const over = (count) => `+${m(count - parts.node)} (${(count / parts.node).toFixed(2)}×)`;
  const lines = [
    `hub n = ${n}, instructions (callgrind): node -e 0 ${m(parts.node)}; wgqt --version ${over(parts.version)}; plan with no fleet (its code loaded) ${over(parts.planNoFleet)}; plan ${over(parts.plan)}, machine list ${over(parts.list)}, status ${over(parts.status)}, rotate one client ${over(parts.rotate)}`,
    `  of plan's ${m(parts.plan - parts.node)} beyond node -e 0: ${m(parts.version - parts.node)} the command line, ${m(parts.planNoFleet - parts.version)} loading the command's code, ${m(parts.plan - parts.planNoFleet)} reading and planning the fleet`,
  ];
  return { parts, lines };
}
