/**
 * The host's view as JSON (`<host>.json`): interfaces, peers, store-relative
 * key files and routing, for other tools to consume. The shape is
 * net/host.ts's HostView; keys print in a fixed order, so runs are
 * byte-identical. Key files are store-relative names, never contents.
 */
import type { Config } from "../config/types.js";
import { hostView } from "../net/host.js";
import type { Plan } from "../net/plan.js";
import type { RenderedFile } from "./common.js";

/** Options of the JSON renderer: none yet. */
// biome-ignore lint/complexity/noBannedTypes: no options yet; kept for the uniform renderer signature.
export type JsonOptions = {};

/**
 * Render `host` as `<host>.json`: its `HostView` (see `wgqt/net`).
 *
 * @throws {UsageError} when `host` is not a machine of `config`.
 * @throws {WgqtError} when the host cannot be rendered (see {@link hostView}).
 */
export function renderJson(
  plan: Plan,
  config: Config,
  host: string,
  _options: JsonOptions = {},
): RenderedFile[] {
  const view = hostView(plan, config, host);
  return [{ path: `${host}.json`, content: `${JSON.stringify(view, null, 2)}\n` }];
}
