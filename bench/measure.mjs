// Timing child processes for `npm run bench`.
//
// How a run is measured:
// - wall time: process.hrtime.bigint() just before spawn() and at the child's
//   'close' event (it has exited and its stdout/stderr are drained). stdin is
//   /dev/null, so wgqt sees no terminal and never prompts; stdout is read and
//   discarded (only its size is kept).
// - CPU time and peak RSS: the command runs under GNU time
//   (`/usr/bin/time -f "%M %U %S" -o FILE -- command…`), which reports the
//   child's getrusage(): ru_maxrss (the peak resident set of the largest process
//   in the tree: for node, node itself; for the shell baseline, its biggest
//   single `age`/`wg`/bash process, not the sum) and user + system CPU time
//   (10 ms resolution) including waited-for descendants. The wrapper adds about
//   a millisecond of wall time to every run, measured once per bench run
//   (`wrapperOverhead`) and reported; ratios are between runs that all carry it.
// - Without GNU time: the child is spawned directly and /proc/<pid>/status
//   VmHWM (peak RSS) and /proc/<pid>/stat utime+stime are polled every 10 ms;
//   the last sample before exit is kept (CPU slightly under-counted, RSS of the
//   direct child only).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

const GNU_TIME = "/usr/bin/time";

/** Whether /usr/bin/time is GNU time (understands -f and -o). */
export const hasGnuTime =
  existsSync(GNU_TIME) &&
  spawnSync(GNU_TIME, ["-f", "%M", "true"], { stdio: ["ignore", "ignore", "pipe"] }).status === 0;

export const measurementMethod = hasGnuTime
  ? "wall: hrtime around spawn → close; CPU (user+sys) and peak RSS (ru_maxrss): /usr/bin/time -f '%M %U %S'"
  : "wall: hrtime around spawn → close; peak RSS: /proc/<pid>/status VmHWM polled every 10 ms; CPU: /proc/<pid>/stat utime+stime polled";

const CLOCK_TICKS = 100; // USER_HZ on Linux, for /proc/<pid>/stat

/** How long a run's output may stay open after the command exited. */
const CLOSE_GRACE_MS = 10_000;

/** Process group ids of the children running now (run.mjs stops them on Ctrl-C). */
export const activeChildren = new Set();

/**
 * Run one command once. Resolves (never rejects) with
 * { wallMs, cpuMs, rssMb, code, signal, stdoutBytes, stderr, timedOut }.
 * A run still going after `timeoutMs` is killed (its process group, by id);
 * one whose output stays open `closeGraceMs` after it exited is done.
 */
export function runOnce(
  command,
  args,
  { cwd, env, timeoutMs = 30 * 60_000, statFile, closeGraceMs = CLOSE_GRACE_MS } = {},
) {
  return new Promise((resolve) => {
    const wrapped = hasGnuTime && statFile !== undefined;
    const [file, argv] = wrapped
      ? [GNU_TIME, ["-f", "%M %U %S", "-o", statFile, "--", command, ...args]]
      : [command, args];
    let stdoutBytes = 0;
    const stderrChunks = [];
    let polled = { rssKb: null, cpuTicks: null };
    const start = process.hrtime.bigint();
    // Its own process group, so a timeout can stop the whole tree by its id.
    const child = spawn(file, argv, {
      cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    if (child.pid !== undefined) activeChildren.add(child.pid);
    child.stdout.on("data", (chunk) => {
      stdoutBytes += chunk.length;
    });
    child.stderr.on("data", (chunk) => {
      stderrChunks.push(chunk);
    });
    const poller = wrapped
      ? undefined
      : setInterval(() => (polled = pollProc(child.pid, polled)), 10);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }, timeoutMs);
    child.on("error", (error) => {
      stderrChunks.push(Buffer.from(String(error)));
    });
    // 'close' waits for stdout and stderr to end as well, so a process left
    // behind with them open (git may leave a detached `gc --auto`) would keep
    // the run, and the benchmark, waiting. After a grace period the pipes are
    // dropped and the run's wall time is taken at the exit.
    let grace;
    let exitedAt;
    child.on("exit", () => {
      exitedAt = process.hrtime.bigint();
      grace = setTimeout(() => {
        stderrChunks.push(Buffer.from("\n(output still open after the command exited)\n"));
        child.stdout.destroy();
        child.stderr.destroy();
        finish(child.exitCode, child.signalCode, exitedAt);
      }, closeGraceMs);
    });
    let finished = false;
    child.on("close", (code, signal) => finish(code, signal, process.hrtime.bigint()));
    function finish(code, signal, end) {
      if (finished) return;
      finished = true;
      const wallMs = Number(end - start) / 1e6;
      clearTimeout(grace);
      clearTimeout(timer);
      activeChildren.delete(child.pid);
      if (poller) clearInterval(poller);
      let cpuMs = null;
      let sysMs = null;
      let rssMb = null;
      if (wrapped) {
        const stats = readStatFile(statFile);
        cpuMs = stats.cpuMs;
        sysMs = stats.sysMs;
        rssMb = stats.rssMb;
        rmSync(statFile, { force: true });
      } else {
        cpuMs = polled.cpuTicks === null ? null : (polled.cpuTicks * 1000) / CLOCK_TICKS;
        rssMb = polled.rssKb === null ? null : polled.rssKb / 1024;
      }
      resolve({
        wallMs,
        cpuMs,
        sysMs,
        rssMb,
        code,
        signal,
        stdoutBytes,
        stderr: Buffer.concat(stderrChunks).toString("utf8"),
        timedOut,
        timeoutMs,
      });
    }
  });
}

/** GNU time's -o file: maybe "Command exited with non-zero status N", then "%M %U %S". */
function readStatFile(path) {
  try {
    const lines = readFileSync(path, "utf8").trim().split("\n");
    const [rssKb, user, system] = lines[lines.length - 1].trim().split(/\s+/).map(Number);
    if (![rssKb, user, system].every(Number.isFinite))
      return { cpuMs: null, sysMs: null, rssMb: null };
    return { cpuMs: (user + system) * 1000, sysMs: system * 1000, rssMb: rssKb / 1024 };
  } catch {
    return { cpuMs: null, sysMs: null, rssMb: null };
  }
}

function pollProc(pid, previous) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the ")" that ends the command name: utime is the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return {
      rssKb: hwm ? Math.max(Number(hwm[1]), previous.rssKb ?? 0) : previous.rssKb,
      cpuTicks: Number(fields[11]) + Number(fields[12]),
    };
  } catch {
    return previous;
  }
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The first line of a failed run's stderr that says what went wrong. */
function failureLine(stderr) {
  const lines = stderr.split("\n").filter((line) => line.trim() !== "");
  return lines.find((line) => line.startsWith("wgqt:")) ?? lines[lines.length - 1] ?? "no output";
}

/**
 * Measure one row: up to `runs` runs, fewer when the runs so far used up
 * `budgetMs` (at least one run always happens; the row says how many ran).
 *
 * `run(i)` performs run i (setup it does before `runOnce` is not timed) and
 * resolves with a runOnce() result, or with { skip: "reason" }; a result may
 * carry `spentMs`, the time it really took when its wallMs is extrapolated.
 * `check(i, result)` (optional, untimed) may return a note, e.g. a validation.
 */
export async function measureRow(row, { runs, budgetMs, run, check, log = () => {} }) {
  const results = [];
  const notes = [];
  let spent = 0;
  for (let i = 0; i < runs; i++) {
    if (i > 0 && spent + spent / i > budgetMs) break;
    const result = await run(i);
    if (result.skip) return { ...row, status: "n/a", note: result.skip, runs: 0 };
    if (result.timedOut) {
      // A lower bound is still a measurement: the run took longer than this.
      log(`  ${row.label}: killed after ${formatMs(result.timeoutMs)}`);
      return {
        ...row,
        status: "timeout",
        timeoutMs: result.timeoutMs,
        note: [row.note, `killed after ${formatMs(result.timeoutMs)} (run ${i + 1})`]
          .filter(Boolean)
          .join("; "),
        runs: results.length,
      };
    }
    if (result.code !== 0) {
      const line = failureLine(result.stderr);
      const unavailable = /not available yet/.test(result.stderr);
      log(`  ${row.label}: exit ${result.code ?? result.signal}: ${line}`);
      return {
        ...row,
        status: unavailable ? "n/a" : "error",
        note: unavailable
          ? "n/a (command not available)"
          : `exit ${result.code ?? result.signal}: ${line}`,
        runs: results.length,
      };
    }
    spent += result.spentMs ?? result.wallMs;
    results.push(result);
    const note = check ? await check(i, result) : undefined;
    if (note) notes.push(note);
    log(
      `  ${row.label}: run ${i + 1}: ${formatMs(result.wallMs)}` +
        (result.cpuMs === null ? "" : `, CPU ${formatMs(result.cpuMs)}`) +
        (result.rssMb === null ? "" : `, ${result.rssMb.toFixed(0)} MB`),
    );
  }
  return summarize(row, results, notes, runs);
}

export function summarize(row, results, notes = [], wanted = results.length) {
  const walls = results.map((r) => r.wallMs);
  const cpus = results.map((r) => r.cpuMs).filter((v) => v !== null);
  const sys = results.map((r) => r.sysMs).filter((v) => v !== null && v !== undefined);
  const rss = results.map((r) => r.rssMb).filter((v) => v !== null);
  const out = {
    ...row,
    status: "ok",
    runs: results.length,
    wallMs: { median: median(walls), min: Math.min(...walls), max: Math.max(...walls), all: walls },
    cpuMs: cpus.length ? median(cpus) : null,
    /** Of the CPU time, what the kernel spent (system calls: file creation, fsync). */
    sysMs: sys.length ? median(sys) : null,
    peakRssMb: rss.length ? Math.max(...rss) : null,
    /**
     * Every run's peak RSS: a large render's varies by a fifth from run to run
     * with when V8 collects, so one row's maximum alone cannot tell a
     * regression from that spread.
     */
    rssMb: rss.length ? { median: median(rss), min: Math.min(...rss), all: rss } : null,
    stdoutBytes: results[0]?.stdoutBytes ?? 0,
  };
  if (results.length < wanted) notes.push(`${results.length} of ${wanted} runs (time budget)`);
  if (notes.length) out.note = [row.note, ...notes].filter(Boolean).join("; ");
  return out;
}

export function formatMs(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 0) return `−${formatMs(-ms)}`;
  if (ms < 1) return `${(ms * 1000).toFixed(1)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : ms < 100 ? 1 : 0)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** Median wall time of `command` under the wrapper minus without it. */
export async function wrapperOverhead(dir) {
  if (!hasGnuTime) return 0;
  const plain = [];
  const wrapped = [];
  for (let i = 0; i < 15; i++) {
    plain.push((await runOnce("true", [])).wallMs);
    wrapped.push((await runOnce("true", [], { statFile: join(dir, "overhead.time") })).wallMs);
  }
  return median(wrapped) - median(plain);
}
