// A full mesh: n machines (n = 200: 19,900 pairs), every one with an endpoint,
// so every pair peers. plan and render run on it with every machine bringing
// its own public_key, as render.mjs does. keygen (with real ssh-ed25519 host
// keys; 200 members, 40 with --quick) makes one keypair per machine and one
// preshared key per pair (n = 200: 200 + 19,900 = 20,100 files); its cost
// per file is set beside the dense proxy fleet's keygen of the same run.
// Every measurement takes `bench` first: what run.mjs set up for this run.
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkKeyFiles } from "./checks.mjs";
import { hostKeyOf, machineName, randomPublicKey } from "./fleet.mjs";
import { measureRow } from "./measure.mjs";
import { sumRow } from "./render.mjs";

/** The mesh's size and work: n members, a preshared key per pair. */
export function meshShape(n) {
  const machines = Array.from({ length: n }, (_, i) => machineName(i));
  const pairs = (n * (n - 1)) / 2;
  return { n, machines, pairs, files: n + pairs, clients: [machineName(1)] };
}

function meshToml(shape, keys, { publicKeys }) {
  const lines = [
    "# Synthetic mesh written by bench/mesh.mjs",
    `admins = [${JSON.stringify(keys.admin)}]`,
    "",
  ];
  shape.machines.forEach((name) => {
    lines.push(`[machines.${name}]`);
    if (publicKeys) lines.push(`public_key = ${JSON.stringify(randomPublicKey())}`);
    else lines.push(`recipients = [${JSON.stringify(hostKeyOf(keys, name).recipient)}]`);
    lines.push(`endpoint = "${name}.example.org"`);
    lines.push("");
  });
  lines.push(
    "[meshes.mesh]",
    `members = [${shape.machines.map((name) => JSON.stringify(name)).join(", ")}]`,
    "",
  );
  return lines.join("\n");
}

/** plan and render of an n-member mesh; keygen of a `keygenN`-member one. */
export async function meshFleet(bench, keys, { n, keygenN }) {
  await meshKeygen(bench, keys, keygenN);
  await meshPlanRender(bench, keys, n);
}

async function meshKeygen(bench, keys, n) {
  const { runs, budgetMs, log, work, node, record, discard, settle } = bench;
  const shape = meshShape(n);
  const what = `${n} members, ${shape.pairs.toLocaleString("en")} pairs`;
  log(`mesh n = ${n}: keygen --no-commit (${what})`);
  const toml = meshToml(shape, keys, { publicKeys: false });
  let store;
  record(
    await measureRow(
      {
        id: `mesh-keygen-${n}`,
        label: "keygen --no-commit (mesh)",
        n,
        files: shape.files,
        note: what,
      },
      {
        runs,
        budgetMs,
        log,
        run: (i) => {
          const dir = join(work, `mesh-${n}-${i}`);
          mkdirSync(join(dir, "wireguard_keys"), { recursive: true });
          writeFileSync(join(dir, "wgqt.toml"), toml);
          if (store) discard(store);
          store = dir;
          settle();
          return node(["keygen", "--no-commit", "--yes"], dir);
        },
        check: (i) =>
          i === 0
            ? checkKeyFiles(join(store, "wireguard_keys"), shape, keys, shape.pairs)
            : undefined,
      },
    ),
  );
  if (store) discard(store);
}

async function meshPlanRender(bench, keys, n) {
  const { runs, budgetMs, log, work, node, record, stepTimeoutMs, discard, settle } = bench;
  const shape = meshShape(n);
  const what = `${n} members, ${shape.pairs.toLocaleString("en")} pairs`;
  const dir = join(work, `mesh-render-${n}`);
  mkdirSync(join(dir, "wireguard_keys"), { recursive: true });
  writeFileSync(join(dir, "wgqt.toml"), meshToml(shape, keys, { publicKeys: true }));
  log(`mesh n = ${n}: plan, render --format nixos`);
  const plan = record(
    await measureRow(
      { id: `mesh-plan-${n}`, label: "plan (mesh)", n, note: what },
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
        check: (i) => {
          if (i > 0) return undefined;
          const hosts = readdirSync(join(out, "hosts")).length;
          return hosts === n ? undefined : `CHECK FAILED: ${hosts} hosts rendered of ${n}`;
        },
      },
    ),
  );
  record(sumRow(plan, render, { id: `mesh-plan-render-${n}`, label: "plan + render (mesh)", n }));
}
