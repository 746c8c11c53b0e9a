// A full mesh: n machines (200: 19,900 pairs), every one with an endpoint, so
// every pair peers and has a preshared key. plan and render --format nixos with
// brought public keys (no keygen needed), their sum against the 2 s target,
// and keygen with real ssh-ed25519 host keys (n capped by the host keys made),
// whose time per file sits beside the proxies' keygen rows.
// Every measurement takes `bench` first: what run.mjs set up for this run.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostKeyOf, machineName, randomPublicKey } from "./fleet.mjs";
import { formatMs, measureRow } from "./measure.mjs";

export const MESH_N = 200;
const TARGET_MS = 2000;

function meshToml(n, keys, { publicKeys }) {
  const lines = [
    "# Synthetic mesh written by bench/mesh.mjs",
    `admins = [${JSON.stringify(keys.admin)}]`,
    "",
  ];
  const names = Array.from({ length: n }, (_, i) => machineName(i));
  for (const name of names) {
    lines.push(`[machines.${name}]`);
    if (publicKeys) lines.push(`public_key = ${JSON.stringify(randomPublicKey())}`);
    else lines.push(`recipients = [${JSON.stringify(hostKeyOf(keys, name).recipient)}]`);
    lines.push(`endpoint = "${name}.example.org"`, "");
  }
  lines.push(
    "[meshes.mesh]",
    `members = [${names.map((name) => JSON.stringify(name)).join(", ")}]`,
    "",
  );
  return lines.join("\n");
}

export async function meshFleet(bench, keys) {
  const { runs, budgetMs, log, work, node, record, discard, settle, stepTimeoutMs } = bench;
  const n = MESH_N;
  const pairs = (n * (n - 1)) / 2;
  const dir = join(work, `mesh-${n}`);
  mkdirSync(join(dir, "wireguard_keys"), { recursive: true });
  writeFileSync(join(dir, "wgqt.toml"), meshToml(n, keys, { publicKeys: true }));
  log(`mesh n = ${n}: plan, render --format nixos (${pairs.toLocaleString("en")} pairs)`);
  const plan = record(
    await measureRow(
      {
        id: `mesh-plan-${n}`,
        label: "plan (mesh)",
        n,
        note: `${pairs.toLocaleString("en")} pairs`,
      },
      { runs, budgetMs, log, run: () => node(["plan"], dir, stepTimeoutMs) },
    ),
  );
  const out = join(dir, "out");
  const render = record(
    await measureRow(
      { id: `mesh-render-${n}`, label: "render --format nixos --out (mesh)", n },
      {
        runs,
        budgetMs,
        log,
        run: () => {
          discard(out);
          settle();
          return node(["render", "--format", "nixos", "--out", out], dir, stepTimeoutMs);
        },
      },
    ),
  );
  if (plan.status === "ok" && render.status === "ok") {
    const median = plan.wallMs.median + render.wallMs.median;
    record({
      id: `mesh-plan-render-${n}`,
      label: "plan + render (mesh)",
      n,
      status: "ok",
      computed: true,
      runs: Math.min(plan.runs, render.runs),
      wallMs: {
        median,
        min: plan.wallMs.min + render.wallMs.min,
        max: plan.wallMs.max + render.wallMs.max,
      },
      cpuMs: plan.cpuMs === null || render.cpuMs === null ? null : plan.cpuMs + render.cpuMs,
      peakRssMb: Math.max(plan.peakRssMb ?? 0, render.peakRssMb ?? 0) || null,
      note: `sum of the two medians; target < ${formatMs(TARGET_MS)}: ${median < TARGET_MS ? "met" : "MISSED"}`,
    });
  }
  discard(dir);

  // keygen: as many members as there are host keys (run.mjs makes them for its largest fleet).
  const keyed = Math.min(n, keys.host.length);
  const files = keyed + (keyed * (keyed - 1)) / 2;
  const keyDir = join(work, `mesh-keygen-${keyed}`);
  log(`mesh n = ${keyed}: keygen --no-commit (${files.toLocaleString("en")} files)`);
  const keygen = record(
    await measureRow(
      { id: `mesh-keygen-${keyed}`, label: "keygen --no-commit (mesh)", n: keyed, files },
      {
        runs,
        budgetMs,
        log,
        run: () => {
          discard(keyDir);
          mkdirSync(join(keyDir, "wireguard_keys"), { recursive: true });
          writeFileSync(join(keyDir, "wgqt.toml"), meshToml(keyed, keys, { publicKeys: false }));
          settle();
          return node(["keygen", "--no-commit", "--yes"], keyDir);
        },
      },
    ),
  );
  if (keygen.status === "ok") keygen.note = `${formatMs(keygen.wallMs.median / files)} per file`;
  discard(keyDir);
}
