/**
 * The host's view as JSON (`<host>.json`): interfaces, peers, store-relative
 * key files and routing, for other tools to consume. The shape is
 * net/host.ts's HostView, but for `names`: one list of `{ name, address,
 * address6? }`, network by network (byte order of the network's name), each
 * network's in byte order of the name. Keys print in a fixed order, so runs
 * are byte-identical. Key files are store-relative names, never contents.
 */
import { hostView } from "../net/host.js";
import type { HostRenderer } from "./common.js";

/** Options of the JSON renderer: none yet. */
// biome-ignore lint/complexity/noBannedTypes: no options yet; kept for the uniform renderer signature.
export type JsonOptions = {};

/**
 * Render `host` as `<host>.json`: its `HostView` (see `wgqt/net`).
 *
 * @throws {UsageError} when `host` is not a machine of `config`.
 * @throws {WgqtError} when the host cannot be rendered (see {@link hostView}).
 */
export const renderJson: HostRenderer<JsonOptions> = (plan, config, host) => {
  const view = hostView(plan, config, host);
  // Replacing `names` in place keeps its key where HostView has it.
  const printed =
    view.names === undefined
      ? view
      : { ...view, names: view.names.flatMap((network) => network.names) };
  return [{ path: `${host}.json`, content: `${JSON.stringify(printed, null, 2)}\n` }];
};
