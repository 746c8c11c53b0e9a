/**
 * Renderers: a `Plan` and the `Config` it came from, turned into
 * the files one host needs, as NixOS modules, wg-quick configs, systemd-networkd
 * units or JSON. Files come back as text with paths relative to the output
 * directory; writing them is the caller's job. Pure.
 *
 * @packageDocumentation
 */
export { DEFAULT_SECRETS_DIR, onHostKeyPath, type RenderedFile } from "./common.js";
export { type JsonOptions, renderJson } from "./json.js";
export { type NetworkdOptions, renderNetworkd } from "./networkd.js";
export { type NixosOptions, renderNixos, renderNixosEntry } from "./nixos.js";
export { FORMATS, type Format, type RenderOptions, render } from "./render.js";
export { renderWgQuick, type WgQuickOptions } from "./wgquick.js";
