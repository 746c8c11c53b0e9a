/**
 * `render(plan, config, { machine?, format, … })`: one host, or every host in
 * some network when no machine is given. Files come back sorted by path with
 * paths relative to the output directory; writing them is the caller's job
 * (the CLI's `--out`). Pure.
 */
import type { Config } from "../config/types.js";
import { quote, UsageError } from "../errors.js";
import { plannedHosts } from "../net/host.js";
import type { Plan } from "../net/plan.js";
import { byteOrder } from "../order.js";
import type { RenderedFile } from "./common.js";
import { type JsonOptions, renderJson } from "./json.js";
import { type NetworkdOptions, renderNetworkd } from "./networkd.js";
import { type NixosOptions, renderNixos, renderNixosEntry } from "./nixos.js";
import { renderWgQuick, type WgQuickOptions } from "./wgquick.js";

/** The output formats `render` knows. */
export const FORMATS = ["nixos", "wg-quick", "networkd", "json"] as const;
/** One of {@link FORMATS}. */
export type Format = (typeof FORMATS)[number];

/** What to render: the format, one machine or all, and the options of every renderer. */
export type RenderOptions = NixosOptions &
  WgQuickOptions &
  NetworkdOptions &
  JsonOptions & {
    format: Format;
    /** One machine; all machines that are in some network when absent. */
    machine?: string;
  };

type Renderer = (
  plan: Plan,
  config: Config,
  host: string,
  options: RenderOptions,
) => RenderedFile[];

const RENDERERS: Record<Format, Renderer> = {
  nixos: renderNixos,
  "wg-quick": renderWgQuick,
  networkd: renderNetworkd,
  json: renderJson,
};

/**
 * Render one host, or every host in some network when `options.machine` is absent. Pure.
 *
 * @returns The files, sorted by path, paths relative to the output directory.
 * @throws {UsageError} for an unknown format or machine.
 * @throws {WgqtError} when a host cannot be rendered (see {@link hostView}) or an option is invalid.
 */
export function render(plan: Plan, config: Config, options: RenderOptions): RenderedFile[] {
  const renderer = RENDERERS[options.format];
  if (renderer === undefined) {
    throw new UsageError(
      "usage/bad-value",
      `expected one of ${FORMATS.join(", ")}, got ${quote(options.format)}`,
      { field: "format" },
    );
  }
  const hosts = options.machine === undefined ? plannedHosts(plan) : [options.machine];
  const files = new Map<string, RenderedFile>();
  const add = (file: RenderedFile) => {
    const existing = files.get(file.path);
    if (existing !== undefined && existing.content !== file.content) {
      throw new Error(`render: two different files for ${file.path}`);
    }
    files.set(file.path, file);
  };
  for (const host of hosts) renderer(plan, config, host, options).forEach(add);
  if (options.format === "nixos" && options.machine === undefined) add(renderNixosEntry(plan));
  return [...files.values()].sort((a, b) => byteOrder(a.path, b.path));
}
