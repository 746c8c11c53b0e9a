/**
 * The API reference: typedoc reads every entry point with warnings as errors
 * and `notDocumented` validation (typedoc.json), so an export without a doc
 * comment, or a link that does not resolve, fails here.
 */
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");

it("documents every export of every entry point", () => {
  const typedoc = resolve(root, "node_modules", "typedoc", "bin", "typedoc");
  const run = () =>
    execFileSync(process.execPath, [typedoc, "--emit", "none"], {
      cwd: root,
      encoding: "utf8",
      stdio: "pipe",
    });
  expect(run).not.toThrow();
}, 180_000);
