/**
 * `npm run bench` end to end, in its quick form with one run per measurement:
 * every measurement in docs/benchmarks.md's table runs and passes the
 * benchmark's own checks (the reference `age` and `wg` read the stores it times, rotate
 * and rekey change the files they should), the targets are judged, and the
 * results are written where `--out` says. Times are not looked at: they mean
 * nothing on a machine running the rest of the suite at the same time.
 */

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, type TempDir } from "../age/helpers.js";

const script = fileURLToPath(new URL("../../bench/run.mjs", import.meta.url));

interface Row {
  id: string;
  status: string;
  note?: string;
  wallMs?: { median: number };
}
interface Results {
  mode: string;
  rows: Row[];
  targets: { target: string; measured: string; pass: boolean | null }[];
  diagnostics: string[];
}

let dir: TempDir;
let run: ReturnType<typeof spawnSync>;
let results: Results;
let scratchBefore: Set<string>;

const scratch = () =>
  new Set(readdirSync(tmpdir()).filter((name) => name.startsWith("wgqt-bench-")));

beforeAll(async () => {
  dir = await makeTempDir();
  scratchBefore = scratch();
  run = spawnSync(
    process.execPath,
    [script, "--quick", "--runs", "1", "--out", join(dir.path, "quick.json")],
    { encoding: "utf8", timeout: 420_000 },
  );
  if (existsSync(join(dir.path, "quick.json"))) {
    results = JSON.parse(readFileSync(join(dir.path, "quick.json"), "utf8"));
  }
}, 480_000);
afterAll(async () => dir?.remove());

describe("npm run bench --quick", () => {
  it("exits 0, prints the table and the verdicts, and writes the results to --out", () => {
    expect(run.status, String(run.stderr).slice(-2000)).toBe(0);
    expect(run.stdout).toMatch(/^measurement +n +files +runs +median/m);
    expect(run.stdout).toMatch(/^performance target +measured +verdict/m);
    expect(results.mode).toBe("quick");
  });

  it("measures everything, and every measurement passes its checks", () => {
    const ids = results.rows.map((row) => row.id);
    for (const id of [
      "startup-node",
      "startup-help",
      "keygen-nc-25",
      "keygen-commit-25",
      "shell-25",
      "floor-25",
      "keygen-nc-100",
      "keygen-commit-100",
      "shell-100",
      "floor-100",
      "keygen-one",
      "rotate",
      "list",
      "rotate-gateway",
      "rekey",
      "rotate-all",
      "rekey-all",
      "status",
      "verify",
      "plan",
      "render",
      "plan-render",
      "hub-keygen-100",
      "hub-shell-100",
      "hub-plan-100",
      "hub-list-100",
      "hub-status-100",
      "hub-keygen-noop-100",
      // Each command that only reads, beside the node -e 0 runs it alternated with.
      "hub-plan-node-100",
      "hub-list-node-100",
      "hub-status-node-100",
      "hub-keygen-noop-node-100",
      "hub-verify-100",
      "hub-age-d-100",
      "hub-rotate-100",
      "hub-rekey-100",
      "hub-agenix-100",
      "mesh-plan-200",
      "mesh-render-200",
      "mesh-plan-render-200",
      "mesh-keygen-40",
    ]) {
      expect(ids).toContain(id);
    }
    for (const row of results.rows) {
      expect(row.status, `${row.id}: ${row.note}`).toBe("ok");
      expect(row.note ?? "", row.id).not.toMatch(/CHECK FAILED/);
      expect(row.wallMs?.median, row.id).toBeGreaterThan(0);
    }
  });

  it("changes exactly the files each command should", () => {
    const note = (id: string) => results.rows.find((row) => row.id === id)?.note;
    // n = 100: 10 gateways, so a client has 10 preshared keys and a gateway 90.
    expect(note("keygen-one")).toMatch(/^changed 1 key \.age \+ 1 PSK \.age \+ 1 \.pub/);
    expect(note("rotate")).toMatch(/^changed 1 key \.age \+ 10 PSK \.age \+ 1 \.pub/);
    expect(note("rotate-gateway")).toMatch(/^changed 1 key \.age \+ 90 PSK \.age \+ 1 \.pub/);
    expect(note("rekey")).toMatch(/^changed 1 key \.age \+ 10 PSK \.age \+ 0 \.pub/);
    for (const id of ["list", "status", "verify"]) expect(note(id)).toBe("changed nothing");
    // The hub-and-spoke fleet: a client has one preshared key, with its gateway.
    for (const id of ["plan", "list", "status", "keygen-noop", "verify"])
      expect(note(`hub-${id}-100`)).toBe("changed nothing");
    expect(note("hub-rotate-100")).toMatch(/^changed 1 key \.age \+ 1 PSK \.age \+ 1 \.pub/);
    expect(note("hub-rekey-100")).toMatch(/^changed 100 key \.age \+ 90 PSK \.age \+ 0 \.pub/);
    // The whole fleet: 100 keypairs and 10 × 90 PSKs.
    expect(note("rotate-all")).toMatch(/^changed 100 key \.age \+ 900 PSK \.age \+ 100 \.pub/);
    expect(note("rekey-all")).toMatch(/^changed 100 key \.age \+ 900 PSK \.age \+ 0 \.pub/);
  });

  it("judges all seventeen targets and explains rotate's cost", () => {
    // Six on the hub-and-spoke fleet, nine on the dense ones, two on the mesh.
    expect(results.targets).toHaveLength(17);
    for (const target of results.targets) {
      expect(target.measured, target.target).not.toMatch(/^n\/a/);
      expect(typeof target.pass, target.target).toBe("boolean");
    }
    expect(results.diagnostics.join("\n")).toMatch(/per secret renewed/);
    expect(results.diagnostics.join("\n")).toMatch(/whole-fleet changes at n = 100/);
    expect(results.diagnostics.join("\n")).toMatch(/^hub n = 100: keygen faster than/m);
  });

  it("leaves no scratch directory behind", () => {
    const left = [...scratch()].filter((name) => !scratchBefore.has(name));
    expect(left).toEqual([]);
  });
});
