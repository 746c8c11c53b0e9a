/**
 * The benchmark's start-up ratios (bench/report.mjs): a command that only
 * reads the fleet is held against the `node -e 0` run just before each of its
 * runs, so a machine that slows down between the two does not move the ratio.
 */

import { describe, expect, it } from "vitest";

interface Row {
  id: string;
  status: string;
  wallMs?: { median: number; all: number[] };
  /** The row of the node -e 0 runs that alternated with this one's. */
  baseline?: string;
}
interface Ratio {
  value: number;
  command: number;
  node: number;
  paired: boolean;
}
interface Report {
  startupRatio(byId: Map<string, Row>, id: string): Ratio | null;
  evaluateHubTargets(
    rows: Row[],
    options: { n: number },
  ): { target: string; measured: string; pass: boolean | null }[];
}

const reportUrl = new URL("../../bench/report.mjs", import.meta.url).href;
const load = async () => (await import(reportUrl)) as Report;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const row = (id: string, all: number[], baseline?: string): Row => ({
  id,
  status: "ok",
  wallMs: { median: median(all), all },
  ...(baseline === undefined ? {} : { baseline }),
});
const byId = (rows: Row[]) => new Map(rows.map((r) => [r.id, r]));

describe("startupRatio", () => {
  it("takes the median of run-by-run ratios, so both sides of each saw the same machine", async () => {
    const { startupRatio } = await load();
    // The machine slows down halfway: each plan run is 1.4× the node -e 0 just before it.
    const node = [100, 100, 100, 150, 150, 150];
    const plan = node.map((ms) => ms * 1.4);
    const rows = [
      row("startup-node", [100, 100, 100]),
      row("hub-plan-100", plan, "hub-plan-node-100"),
      row("hub-plan-node-100", node),
    ];
    const ratio = startupRatio(byId(rows), "hub-plan-100");
    expect(ratio?.paired).toBe(true);
    expect(ratio?.value).toBeCloseTo(1.4, 10);
    // Against the start-up row measured while the machine was fast, it would be 1.75×.
    expect(startupRatio(byId(rows.slice(0, 2)), "hub-plan-100")).toMatchObject({
      paired: false,
      value: 1.75,
    });
  });

  it("is null when the command or every baseline is missing", async () => {
    const { startupRatio } = await load();
    expect(startupRatio(byId([row("startup-node", [100])]), "hub-plan-100")).toBeNull();
    expect(startupRatio(byId([row("hub-plan-100", [150])]), "hub-plan-100")).toBeNull();
  });

  it("decides the hub targets for plan, machine list and status", async () => {
    const { evaluateHubTargets } = await load();
    const node = [100, 120, 140];
    const rows = [
      row("hub-plan-100", [140, 168, 196], "hub-plan-node-100"),
      row("hub-plan-node-100", node),
      row("hub-list-100", [160, 192, 224], "hub-list-node-100"),
      row("hub-list-node-100", node),
      row("startup-node", [100]),
    ];
    const targets = evaluateHubTargets(rows, { n: 100 });
    const of = (name: string) => targets.find((t) => t.target.startsWith(`${name} ≤ 1.5×`));
    expect(of("plan")).toMatchObject({
      pass: true,
      measured: "1.40× (168 ms / 120 ms, run by run)",
    });
    expect(of("machine list")).toMatchObject({ pass: false });
    expect(of("status")?.pass).toBeNull();
  });
});
