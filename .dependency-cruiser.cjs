/**
 * The layers of wgqt, enforced by `npm run lint` (dependency-cruiser).
 *
 *   pure   src/keys, src/age, src/config, src/net, src/render — values in, values out:
 *          no file system, no processes, no workers, and nothing from the layers above.
 *   I/O    src/store, src/git — files, git, locks, workers; may use the pure layers.
 *   top    src/cli — argv, prompts, printing, exit codes; may use everything below.
 *
 * src/errors.ts is shared by every layer; src/index.ts (the library surface) may
 * import anything but nothing imports it. An area's entry point (src/config/index.ts
 * for `wgqt/config`, …) may re-export from the layers above: `wgqt/config`
 * offers loadConfig, which lives in src/store. Reading wgqt.toml from disk lives in
 * src/store/config-file.ts; src/config only parses and validates text.
 * src/store/layout.ts is the one pure module of the store: the names of the
 * store's files, which the renderers print into host configs. The pure layers
 * may use it, so it may use nothing but them.
 * Imports only point down, and never in a circle.
 */
const pure = "^src/(keys|age|config|net|render)/";
const inputOutput = "^src/(store|git)/";
const layout = "^src/store/layout\\.ts$";
const systemModules = "^(node:)?(fs|fs/promises|child_process|worker_threads)$";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "A cycle means two modules are one concern, or a shared part belongs lower down.",
      from: {},
      to: { circular: true },
    },
    {
      name: "pure-no-system-io",
      severity: "error",
      comment: "The pure layers do no I/O: file, process and worker access belongs in src/store or src/git.",
      from: { path: pure },
      to: { path: systemModules },
    },
    {
      name: "pure-points-down",
      severity: "error",
      comment: "The pure layers never reach up into the I/O layers or the CLI.",
      from: { path: pure, pathNot: "^src/[^/]+/index\\.ts$" },
      to: { path: "^src/(store|git|cli)/", pathNot: layout },
    },
    {
      name: "store-layout-is-pure",
      severity: "error",
      comment: "The store's file names are used by the pure layers, so they are pure too.",
      from: { path: layout },
      to: { path: [systemModules, "^src/(store|git|cli)/"] },
    },
    {
      name: "io-below-cli",
      severity: "error",
      comment: "src/store and src/git are a library: they never import the CLI.",
      from: { path: inputOutput },
      to: { path: "^src/cli/" },
    },
    {
      name: "only-cli-imports-cli",
      severity: "error",
      comment: "The CLI is the top layer: only src/cli itself imports it.",
      from: { pathNot: "^src/cli/" },
      to: { path: "^src/cli/" },
    },
    {
      name: "nothing-imports-the-surface",
      severity: "error",
      comment: "src/index.ts is the library's public surface, not a module to build on.",
      from: { pathNot: "^src/index\\.ts$" },
      to: { path: "^src/index\\.ts$" },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment: "An import that does not resolve is a typo or a missing dependency.",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: `${__dirname}/tsconfig.json` },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".json"],
    },
  },
};
