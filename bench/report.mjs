// The bench's table and its verdict on the performance targets (ratios from the same run).
import { fleetShape } from "./fleet.mjs";
import { formatMs, median } from "./measure.mjs";

const ratio = (value) =>
  value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
const percent = (value) => `${(value * 100).toFixed(value < 0.1 ? 2 : 1)} %`;

/**
 * The performance targets, judged on the rows of this run. `largeN` is the biggest
 * fleet measured (400; 100 with --quick, which the verdict then says).
 */
export function evaluateTargets(rows, { largeN, targetN = 400 }) {
  const byId = new Map(rows.map((row) => [row.id, row]));
  const wall = (id) => {
    const row = byId.get(id);
    return row?.status === "ok" ? row.wallMs.median : null;
  };
  const why = (id) => {
    const row = byId.get(id);
    if (row === undefined) return "not measured";
    return row.status === "ok" ? null : (row.note ?? row.status);
  };
  const at = largeN === targetN ? "" : ` (at n = ${largeN}; the target is for n = ${targetN})`;
  const targets = [];
  const add = (target, ids, compute) => {
    const missing = ids.map(why).find((reason) => reason !== null);
    if (missing !== undefined) {
      targets.push({ target, measured: `n/a: ${missing}`, pass: null });
      return;
    }
    targets.push({ target, ...compute(...ids.map(wall)) });
  };

  for (const [variant, label] of [
    ["nc", "--no-commit"],
    ["commit", "with commit"],
  ]) {
    add(
      `keygen ${label} ≥ 30× faster than the shell baseline${at}`,
      [`keygen-${variant}-${largeN}`, `shell-${largeN}`],
      (keygen, shell) => ({
        measured: `${ratio(shell / keygen)}× (${formatMs(shell)} / ${formatMs(keygen)})`,
        value: shell / keygen,
        pass: shell / keygen >= 30,
      }),
    );
    add(
      `keygen ${label} ≤ 3× the X25519 floor${at}`,
      [`keygen-${variant}-${largeN}`, `floor-${largeN}`],
      (keygen, floor) => ({
        measured: `${ratio(keygen / floor)}× (${formatMs(keygen)} / ${formatMs(floor)})`,
        value: keygen / floor,
        pass: keygen / floor <= 3,
      }),
    );
  }
  for (const [id, label] of [
    ["rotate", "rotate one client"],
    ["rekey", "rekey after one host key change"],
  ]) {
    const row = byId.get(id);
    const keygen = wall(`keygen-nc-${largeN}`);
    if (row?.status === "timeout" && keygen !== null) {
      // Killed: its time is only known to exceed the timeout, which may already decide.
      const bound = row.timeoutMs / keygen;
      targets.push({
        target: `${label} ≤ 5 % of keygen --no-commit${at}`,
        measured: `> ${percent(bound)} (killed after ${formatMs(row.timeoutMs)}; keygen ${formatMs(keygen)})`,
        value: bound,
        lowerBound: true,
        pass: bound > 0.05 ? false : null,
      });
      continue;
    }
    add(
      `${label} ≤ 5 % of keygen --no-commit${at}`,
      [id, `keygen-nc-${largeN}`],
      (value, keygen) => ({
        measured: `${percent(value / keygen)} (${formatMs(value)} / ${formatMs(keygen)})`,
        value: value / keygen,
        pass: value / keygen <= 0.05,
      }),
    );
  }
  const planRender = byId.get("plan-render");
  const renderAt =
    planRender && planRender.n !== 1000
      ? ` (at n = ${planRender.n}; the target is for n = 1000)`
      : " (n = 1000, 100 networks)";
  add(`plan + render: under 1 s of CPU${renderAt}`, ["plan-render"], () => ({
    measured:
      planRender.cpuMs === null ? "CPU time not measured" : `${formatMs(planRender.cpuMs)} CPU`,
    value: planRender.cpuMs,
    pass: planRender.cpuMs === null ? null : planRender.cpuMs < 1000,
  }));
  add(`plan + render: peak RSS under 200 MB${renderAt}`, ["plan-render"], () => ({
    measured:
      planRender.peakRssMb === null ? "RSS not measured" : `${planRender.peakRssMb.toFixed(0)} MB`,
    value: planRender.peakRssMb,
    pass: planRender.peakRssMb === null ? null : planRender.peakRssMb < 200,
  }));
  add("wgqt --help ≤ 2.5× node -e 0", ["startup-help", "startup-node"], (help, node) => ({
    measured: `${ratio(help / node)}× (${formatMs(help)} / ${formatMs(node)})`,
    value: help / node,
    pass: help / node <= 2.5,
  }));
  return targets;
}

function table(header, body) {
  const widths = header.map((_, c) =>
    Math.max(...[header, ...body].map((row) => String(row[c]).length)),
  );
  const line = (row) =>
    row
      .map((cell, c) => (c === row.length - 1 ? String(cell) : String(cell).padEnd(widths[c])))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/** The measurements as a text table (also what docs/benchmarks.md shows). */
export function formatRows(rows) {
  const body = rows.map((row) => {
    const ok = row.status === "ok";
    return [
      row.label,
      row.n ?? "",
      row.files ?? "",
      row.computed ? "calc" : ok ? row.runs : "",
      ok
        ? formatMs(row.wallMs.median)
        : row.status === "timeout"
          ? `> ${formatMs(row.timeoutMs)}`
          : row.status === "n/a"
            ? "n/a"
            : "error",
      ok && row.runs > 1 ? `${formatMs(row.wallMs.min)} – ${formatMs(row.wallMs.max)}` : "",
      ok && row.cpuMs !== null && row.cpuMs !== undefined ? formatMs(row.cpuMs) : "",
      ok && row.peakRssMb !== null && row.peakRssMb !== undefined ? formatRss(row) : "",
      row.note ?? "",
    ];
  });
  return table(
    ["measurement", "n", "files", "runs", "median", "min – max", "CPU", "peak RSS", "notes"],
    body,
  );
}

/** The highest peak RSS of a row's runs, and the lowest when the runs differ by 5 % or more. */
function formatRss(row) {
  const max = row.peakRssMb;
  const min = row.rssMb?.min;
  return min !== undefined && max - min >= 0.05 * max
    ? `${max.toFixed(0)} MB (from ${min.toFixed(0)})`
    : `${max.toFixed(0)} MB`;
}

export function formatTargets(targets) {
  const verdict = (pass) => (pass === true ? "met" : pass === false ? "MISSED" : "n/a");
  return table(
    ["performance target", "measured", "verdict"],
    targets.map((t) => [t.target, t.measured, verdict(t.pass)]),
  );
}

/**
 * "Where the time goes": the in-process diagnostics (bench/floor.mjs) set
 * against the rows measured, as lines of text.
 */
export function explainRows(rows, { diag, x25519Ms, largeN, nproc }) {
  const lines = [
    `@noble/curves x25519: ${formatMs(diag.nobleX25519Ms)}/op (node:crypto ${formatMs(x25519Ms)}/op, ${diag.nobleX25519Ms ? ratioText(diag.nobleX25519Ms / x25519Ms) : "?"} slower)`,
    `wgqt encryptTo, one PSK file (2 ssh-ed25519 + 1 X25519), recipients pre-parsed: ${formatMs(diag.encryptPresharedMs)}`,
    `parseRecipient × 3 (remembered after first use): ${formatMs(diag.parseRecipientsMs)}`,
    `writing a batch of files (temp, rename; one syncfs for the batch) per file: ${formatMs(diag.batchWritePerFileMs)}`,
    `creating one 3.5 KB file (writeFileSync, 1000 in a fresh directory): ${formatMs(diag.createFileMs)}, of which kernel CPU ${formatMs(diag.createFileKernelMs)}`,
  ];
  const keygenLarge = rows.find((row) => row.id === `keygen-nc-${largeN}`);
  if (keygenLarge?.status === "ok" && diag.parseAndEncryptPresharedMs && diag.batchWritePerFileMs) {
    const shape = fleetShape(largeN);
    const crypto = (shape.files * diag.parseAndEncryptPresharedMs) / nproc;
    const io = shape.files * diag.batchWritePerFileMs;
    lines.push(
      `keygen n = ${largeN} predicted from those: ${shape.files} files × ${formatMs(diag.parseAndEncryptPresharedMs)} parse+encrypt on ${nproc} cores = ${formatMs(crypto)}, + ${shape.files} × ${formatMs(diag.batchWritePerFileMs)} write = ${formatMs(io)}; measured ${formatMs(keygenLarge.wallMs.median)}`,
    );
  }
  const shellLarge = rows.find((row) => row.id === `shell-${largeN}`);
  const floorLarge = rows.find((row) => row.id === `floor-${largeN}`);
  if (shellLarge?.status === "ok" && floorLarge?.status === "ok") {
    const allCores = floorLarge.wallMs.median / nproc;
    lines.push(
      `the X25519 floor on all ${nproc} cores: ${formatMs(allCores)}, so no keygen here can be more than ${ratioText(shellLarge.wallMs.median / allCores)} faster than the shell baseline (30× would need ${formatMs(shellLarge.wallMs.median / 30)})`,
    );
  }
  const [list, rotateClient, rotateGateway] = ["list", "rotate", "rotate-gateway"].map((id) =>
    rows.find((row) => row.id === id && row.status === "ok"),
  );
  if (list && rotateClient && rotateGateway) {
    const perFile =
      (rotateGateway.wallMs.median - rotateClient.wallMs.median) /
      (rotateGateway.files - rotateClient.files);
    const fixed = rotateClient.wallMs.median - perFile * rotateClient.files;
    lines.push(
      `rotate at n = ${list.n}: ${formatMs(perFile)} per secret renewed (${rotateClient.files} → ${rotateGateway.files} secrets: ${formatMs(rotateClient.wallMs.median)} → ${formatMs(rotateGateway.wallMs.median)}), on top of ${formatMs(fixed)} that does not depend on the machine; \`machine list\` on the same store takes ${formatMs(list.wallMs.median)} (${keygenLarge?.status === "ok" ? `${((100 * list.wallMs.median) / keygenLarge.wallMs.median).toFixed(1)} %` : "?"} of keygen)`,
    );
  }
  const wholeFleet = ["rotate-all", "rekey-all"]
    .map((id) => rows.find((row) => row.id === id && row.status === "ok"))
    .filter((row) => row !== undefined);
  if (keygenLarge?.status === "ok" && wholeFleet.length) {
    lines.push(
      `whole-fleet changes at n = ${largeN}, as many files as keygen: ${wholeFleet
        .map(
          (row) =>
            `${row.label} ${formatMs(row.wallMs.median)} (${ratioText(row.wallMs.median / keygenLarge.wallMs.median)} keygen's time)`,
        )
        .join(", ")}; rekey also decrypts every file first, and writes one stanza more per file`,
    );
  }
  const commitLarge = rows.find((row) => row.id === `keygen-commit-${largeN}`);
  if (keygenLarge?.status === "ok" && commitLarge?.status === "ok") {
    const gitMs = commitLarge.wallMs.median - keygenLarge.wallMs.median;
    lines.push(
      `git commit of the n = ${largeN} store: ${formatMs(gitMs)} (keygen with commit − without${gitMs < 0 ? ": within the run-to-run noise" : ""})`,
    );
  }
  return lines;
}

function ratioText(value) {
  return `${value.toFixed(value < 10 ? 1 : 0)}×`;
}

/**
 * The targets on the hub-and-spoke fleet of `n` machines (bench/hub.mjs): each a
 * ratio to what a user would run instead, measured in the same run.
 */
export function evaluateHubTargets(rows, { n }) {
  const byId = new Map(rows.map((row) => [row.id, row]));
  const wall = (id) => {
    const row = byId.get(id);
    return row?.status === "ok" ? row.wallMs.median : null;
  };
  const targets = [];
  const add = (target, [a, b], compute) => {
    const [x, y] = [wall(a), wall(b)];
    if (x === null || y === null) {
      const row = byId.get(x === null ? a : b);
      targets.push({
        target,
        measured: `n/a: ${row?.note ?? row?.status ?? "not measured"}`,
        pass: null,
      });
      return;
    }
    targets.push({ target, ...compute(x, y) });
  };
  const at = ` (hub, n = ${n})`;
  const faster = (times) => (command, other) => ({
    measured: `${ratio(other / command)}× (${formatMs(other)} / ${formatMs(command)})`,
    value: other / command,
    pass: other / command >= times,
  });
  add(
    `keygen ≥ 8× faster than the shell pipeline${at}`,
    [`hub-keygen-${n}`, `hub-shell-${n}`],
    faster(8),
  );
  add(
    `rotate one client ≤ 15 % of a whole-fleet keygen${at}`,
    [`hub-rotate-${n}`, `hub-keygen-${n}`],
    (rotate, keygen) => ({
      measured: `${percent(rotate / keygen)} (${formatMs(rotate)} / ${formatMs(keygen)})`,
      value: rotate / keygen,
      pass: rotate / keygen <= 0.15,
    }),
  );
  add(
    `verify ≥ 5× faster than age -d of every file${at}`,
    [`hub-verify-${n}`, `hub-age-d-${n}`],
    faster(5),
  );
  for (const [id, label] of [
    ["plan", "plan"],
    ["list", "machine list"],
    ["status", "status"],
  ]) {
    const target = `${label} ≤ 1.5× node -e 0${at}`;
    const measured = startupRatio(byId, `hub-${id}-${n}`);
    if (measured === null) {
      targets.push({ target, measured: "n/a: not measured", pass: null });
      continue;
    }
    const { value, command, node, paired } = measured;
    targets.push({
      target,
      measured: `${ratio(value)}× (${formatMs(command)} / ${formatMs(node)}${paired ? ", run by run" : ""})`,
      value,
      pass: value <= 1.5,
    });
  }
  return targets;
}

/**
 * Row `id` (a command that only reads the fleet) against `node -e 0`: the
 * median of the ratios of its runs to the `node -e 0` run just before each
 * (the row named by its `baseline`, bench/hub.mjs), so that both sides of
 * each ratio saw the same machine. A
 * row without such runs is held against the start-up row measured at the
 * beginning of the run. Null when either was not measured.
 */
export function startupRatio(byId, id) {
  const row = byId.get(id);
  if (row?.status !== "ok") return null;
  const paired = row.baseline === undefined ? undefined : byId.get(row.baseline);
  if (paired?.status === "ok" && paired.wallMs.all.length === row.wallMs.all.length) {
    const ratios = row.wallMs.all.map((wall, i) => wall / paired.wallMs.all[i]);
    return {
      value: median(ratios),
      command: row.wallMs.median,
      node: paired.wallMs.median,
      paired: true,
    };
  }
  const node = byId.get("startup-node");
  if (node?.status !== "ok") return null;
  const value = row.wallMs.median / node.wallMs.median;
  return { value, command: row.wallMs.median, node: node.wallMs.median, paired: false };
}

/** Every ratio on the hub-and-spoke fleets, those without a target too, as lines of text. */
export function hubRatios(rows, sizes) {
  const byId = new Map(rows.map((row) => [row.id, row]));
  const wall = (id) => {
    const row = byId.get(id);
    return row?.status === "ok" ? row.wallMs.median : null;
  };
  const lines = [];
  const node = wall("startup-node");
  for (const n of sizes) {
    const w = (name) => wall(`hub-${name}-${n}`);
    const parts = [];
    const vs = (a, b, text) => {
      if (a !== null && b !== null)
        parts.push(`${text} ${ratio(b / a)}× (${formatMs(a)} vs ${formatMs(b)})`);
    };
    vs(w("keygen"), w("shell"), "keygen faster than the shell pipeline:");
    vs(w("verify"), w("age-d"), "verify faster than age -d of every file:");
    vs(w("rekey"), w("agenix"), "rekey (admin added) faster than the age -d | age -R loop:");
    if (w("rotate") !== null && w("keygen") !== null)
      parts.push(`rotate one client ${percent(w("rotate") / w("keygen"))} of keygen`);
    const reads = [
      ["plan", "plan"],
      ["list", "machine list"],
      ["status", "status"],
      ["keygen-noop", "keygen with nothing to do"],
    ]
      .map(([id, text]) => [startupRatio(byId, `hub-${id}-${n}`), text])
      .filter(([measured]) => measured !== null)
      .map(
        ([{ value, node: baseline, paired }, text]) =>
          `${text} ${ratio(value)}× (node -e 0 ${formatMs(baseline)}${paired ? ", run by run" : ""})`,
      );
    const help = wall("startup-help");
    if (help !== null && node !== null)
      reads.push(`--help ${ratio(help / node)}× (node -e 0 ${formatMs(node)})`);
    if (reads.length) parts.push(`against node -e 0: ${reads.join(", ")}`);
    if (parts.length) lines.push(`hub n = ${n}: ${parts.join("; ")}`);
  }
  return lines;
}

/**
 * The targets on the mesh of `n` machines (bench/mesh.mjs): plan + render
 * under 2 s, and keygen (of a `keygenN`-member mesh) at no more per file than
 * the dense proxy fleet of `denseN` machines in the same run (within 10 %).
 */
export function evaluateMeshTargets(rows, { n, keygenN, denseN }) {
  const byId = new Map(rows.map((row) => [row.id, row]));
  const ok = (id) => (byId.get(id)?.status === "ok" ? byId.get(id) : null);
  const missing = (id) => `n/a: ${byId.get(id)?.note ?? byId.get(id)?.status ?? "not measured"}`;
  const targets = [];
  const both = ok(`mesh-plan-render-${n}`);
  targets.push({
    target: `plan + render < 2 s (mesh, n = ${n})`,
    ...(both
      ? {
          measured: formatMs(both.wallMs.median),
          value: both.wallMs.median,
          pass: both.wallMs.median < 2000,
        }
      : { measured: missing(`mesh-render-${n}`), pass: null }),
  });
  const mesh = ok(`mesh-keygen-${keygenN}`);
  const dense = ok(`keygen-nc-${denseN}`);
  if (mesh && dense) {
    const perFile = (row) => row.wallMs.median / row.files;
    const value = perFile(mesh) / perFile(dense);
    targets.push({
      target: `keygen per file ≤ 1.1× the dense proxies' (mesh, n = ${keygenN}; dense n = ${denseN})`,
      measured: `${ratio(value)}× (${formatMs(perFile(mesh))} / ${formatMs(perFile(dense))} per file)`,
      value,
      pass: value <= 1.1,
    });
  } else
    targets.push({
      target: `keygen per file ≤ 1.1× the dense proxies' (mesh, n = ${keygenN})`,
      measured: missing(mesh ? `keygen-nc-${denseN}` : `mesh-keygen-${keygenN}`),
      pass: null,
    });
  return targets;
}
