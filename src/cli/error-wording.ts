/**
 * The library's errors in the CLI's words. The library names the request
 * field an error is about (`machines`, `format`); a user typed a flag, so the
 * CLI says `--machine: …`. A few request checks are only about which flags
 * go together: the CLI words those itself, by code.
 */

import type { ErrorCode, WgqtError } from "../errors.js";

/** The flag that fills each request field the library names in its errors. */
const FLAG_OF_FIELD: Readonly<Record<string, string>> = {
  accept: "--accept",
  format: "--format",
  id: "--id",
  identity: "--identity",
  machine: "--machine",
  machines: "--machine",
  pairs: "--pair",
  vpns: "--vpn",
};

const WORDING: Partial<Record<ErrorCode, string>> = {
  "rotate/nothing-selected": "rotate what? give --machine NAME, --pair A B or --all",
  "rotate/all-with-selection": "--all renews everything: give it without --machine or --pair",
  "rotate/keep-psks-alone": "--keep-psks goes with --machine or --all",
};

/** The one line the CLI prints for `error` (after `wgqt: `). */
export function cliMessage(error: WgqtError): string {
  const wording = WORDING[error.code];
  if (wording !== undefined) return wording;
  const flag = error.field === undefined ? undefined : FLAG_OF_FIELD[error.field];
  return flag === undefined ? error.message : `${flag}: ${error.detail}`;
}
