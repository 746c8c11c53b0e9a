/**
 * wgqt as a library: read a fleet's `wgqt.toml`, plan its networks, render a
 * host's configs and manage the key store, without a terminal. This entry
 * re-exports every area's entry point and the error classes; each area can
 * also be imported on its own: `wgqt/config`, `wgqt/keys`, `wgqt/age`,
 * `wgqt/store`, `wgqt/net`, `wgqt/render`.
 *
 * ```ts
 * import { applyKeygen, loadConfig, openKeyStore, plan, planKeygen, render } from "wgqt";
 * const config = await loadConfig(process.cwd());
 * const store = await openKeyStore(config.keysDir);
 * await applyKeygen(config, store, planKeygen(config, store), { now: () => new Date() });
 * const fleet = plan(config, (await openKeyStore(config.keysDir)).publicKeys());
 * const files = render(fleet, config, { format: "wg-quick", machine: "tavern" });
 * ```
 *
 * Errors are {@link WgqtError}s: {@link ConfigError} for `wgqt.toml`,
 * {@link StoreError} for the key store, {@link KeyError} for a key,
 * {@link UsageError} for a bad argument. Their messages never hold a secret.
 *
 * @packageDocumentation
 */

export * from "./age/index.js";
export * from "./config/index.js";
export {
  AGE_ERROR_CODES,
  type AgeErrorCode,
  CONFIG_ERROR_CODES,
  ConfigError,
  type ConfigErrorCode,
  type ErrorCode,
  KEY_ERROR_CODES,
  KeyError,
  type KeyErrorCode,
  RENDER_ERROR_CODES,
  type RenderErrorCode,
  STORE_ERROR_CODES,
  StoreError,
  type StoreErrorCode,
  USAGE_ERROR_CODES,
  UsageError,
  type UsageErrorCode,
  WgqtError,
  type WgqtErrorOptions,
} from "./errors.js";
export * from "./keys/index.js";
export * from "./net/index.js";
export * from "./render/index.js";
export * from "./store/index.js";
