// plan and render on a large fleet, each alone and added up.
// Every measurement takes `bench` first: what run.mjs set up for this run
// (options, the scratch directory, the runner, where rows are recorded).
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fleetShape, fleetToml } from "./fleet.mjs";
import { formatMs, measureRow } from "./measure.mjs";

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
export async function planAndRender(bench, keys, { partitioned }) {
  const { runs, budgetMs, log, work, node, record, discard, settle, stepTimeoutMs, renderN } =
    bench;
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
      { runs, budgetMs, log, run: () => node(["plan"], dir, stepTimeoutMs) },
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
          return node(["render", "--format", "nixos", "--out", out], dir, stepTimeoutMs);
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
  record(
    sumRow(plan, render, {
      id: `plan-render${suffix}`,
      label: `plan + render${partitioned ? "" : " (dense)"}`,
      n: renderN,
    }),
  );
}

/**
 * The row of plan and render together: their medians added up, CPU added up,
 * peak RSS the larger; or the status of the one that did not run.
 */
export function sumRow(plan, render, { id, label, n }) {
  if (plan.status !== "ok" || render.status !== "ok") {
    const why = [plan, render].find((row) => row.status !== "ok");
    return { id, label, n, status: why.status, note: why.note };
  }
  const split = plan.sysMs == null || render.sysMs == null;
  return {
    id,
    label,
    n,
    status: "ok",
    computed: true,
    runs: Math.min(plan.runs, render.runs),
    wallMs: {
      median: plan.wallMs.median + render.wallMs.median,
      min: plan.wallMs.min + render.wallMs.min,
      max: plan.wallMs.max + render.wallMs.max,
    },
    cpuMs: plan.cpuMs === null || render.cpuMs === null ? null : plan.cpuMs + render.cpuMs,
    sysMs: split ? null : plan.sysMs + render.sysMs,
    peakRssMb: Math.max(plan.peakRssMb ?? 0, render.peakRssMb ?? 0) || null,
    note: `sum of the two medians; peak RSS the larger${
      split
        ? ""
        : `; CPU = ${formatMs(plan.cpuMs + render.cpuMs - plan.sysMs - render.sysMs)} user + ${formatMs(plan.sysMs + render.sysMs)} kernel`
    }`,
  };
}
