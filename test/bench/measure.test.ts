/**
 * The benchmark's timing of one command (bench/measure.mjs): a run ends when
 * the command exits even if something it left behind holds its output open,
 * and the time budget counts what a run really took.
 */

import { describe, expect, it } from "vitest";

interface RunResult {
  wallMs: number;
  code: number | null;
  stderr: string;
  stdoutBytes: number;
}
interface Measure {
  runOnce(
    command: string,
    args: string[],
    options?: { closeGraceMs?: number; timeoutMs?: number },
  ): Promise<RunResult>;
  summarize(
    row: { id: string; label: string },
    results: { wallMs: number; cpuMs: number | null; rssMb: number | null }[],
  ): {
    peakRssMb: number | null;
    rssMb: { median: number; min: number; all: number[] } | null;
  } & Record<string, unknown>;
  measureRow(
    row: { id: string; label: string },
    options: { runs: number; budgetMs: number; run: (i: number) => Promise<unknown> },
  ): Promise<{ runs: number; status: string; note?: string }>;
}

const measureUrl = new URL("../../bench/measure.mjs", import.meta.url).href;
const load = async () => (await import(measureUrl)) as Measure;
const reportUrl = new URL("../../bench/report.mjs", import.meta.url).href;
const loadReport = async () =>
  (await import(reportUrl)) as { formatRows(rows: Record<string, unknown>[]): string };

describe("runOnce", () => {
  it("returns after the grace period when a process left behind keeps stdout open, timed to the exit", async () => {
    const { runOnce } = await load();
    const started = Date.now();
    // The subshell's sleep inherits stdout and outlives sh by 3 s.
    const result = await runOnce("sh", ["-c", "(sleep 3 &); echo hi"], { closeGraceMs: 500 });
    const waited = Date.now() - started;
    expect(result.code).toBe(0);
    expect(result.stdoutBytes).toBe(3);
    expect(result.stderr).toContain("output still open after the command exited");
    expect(waited).toBeGreaterThanOrEqual(500);
    expect(waited).toBeLessThan(2500);
    // The wall time is the command's, up to its exit, not the grace period.
    expect(result.wallMs).toBeLessThan(waited - 400);
  });

  it("waits for the output of a command that closes it by exiting", async () => {
    const { runOnce } = await load();
    const result = await runOnce("sh", ["-c", "echo hi; echo err >&2"], { closeGraceMs: 500 });
    expect(result.code).toBe(0);
    expect(result.stdoutBytes).toBe(3);
    expect(result.stderr).toBe("err\n");
  });
});

describe("measureRow's time budget", () => {
  const row = { id: "r", label: "r" };
  const ran = (wallMs: number, spentMs?: number) => async () => ({
    wallMs,
    spentMs,
    cpuMs: null,
    sysMs: null,
    rssMb: null,
    code: 0,
    stderr: "",
    stdoutBytes: 0,
  });

  it("stops adding runs once they would pass the budget", async () => {
    const { measureRow } = await load();
    const result = await measureRow(row, { runs: 5, budgetMs: 2500, run: ran(1000) });
    expect(result.runs).toBe(2);
    expect(result.note).toBe("2 of 5 runs (time budget)");
  });

  it("counts what an extrapolated run really took, not its scaled-up time", async () => {
    const { measureRow } = await load();
    const result = await measureRow(row, { runs: 5, budgetMs: 2500, run: ran(1000, 100) });
    expect(result.runs).toBe(5);
    expect(result.note).toBeUndefined();
  });
});

describe("a row's peak RSS", () => {
  const row = { id: "render", label: "render" };
  const runs = (rss: (number | null)[]) =>
    rss.map((rssMb) => ({ wallMs: 1000, cpuMs: 900, rssMb }));

  it("keeps every run's, so a table can tell the spread from a regression", async () => {
    const { summarize } = await load();
    const { formatRows } = await loadReport();
    const spread = summarize(row, runs([272, 334, 301]));
    expect(spread.peakRssMb).toBe(334);
    expect(spread.rssMb).toEqual({ median: 301, min: 272, all: [272, 334, 301] });
    expect(formatRows([spread])).toContain("334 MB (from 272)");
    // Runs within 5 % of each other show the peak alone.
    const steady = summarize(row, runs([100, 103]));
    expect(formatRows([steady])).toMatch(/103 MB(?! \(from)/);
  });

  it("is absent when no run measured it", async () => {
    const { summarize } = await load();
    const none = summarize(row, runs([null, null]));
    expect(none.peakRssMb).toBeNull();
    expect(none.rssMb).toBeNull();
  });
});
