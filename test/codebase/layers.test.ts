/**
 * The layering `npm run lint` enforces (.dependency-cruiser.cjs): a fixture
 * tree that breaks every rule once is refused rule by rule, and src/ passes.
 */
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const config = join(root, ".dependency-cruiser.cjs");

function cruise(cwd: string): { status: number | null; output: string } {
  const result = spawnSync(join(root, "node_modules/.bin/depcruise"), ["src", "--config", config], {
    cwd,
    encoding: "utf8",
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe("layers", () => {
  it("refuses a cycle, I/O in a pure layer, and imports that point up", () => {
    const { status, output } = cruise(join(root, "test/fixtures/layers"));
    expect(status).not.toBe(0);
    const violations = output
      .split("\n")
      .filter((line) => line.trim().startsWith("error "))
      .map((line) => line.trim())
      .sort();
    expect(violations).toEqual([
      "error io-below-cli: src/store/keys.ts → src/cli/prompt.ts",
      "error no-circular: src/net/first.ts →",
      "error only-cli-imports-cli: src/store/keys.ts → src/cli/prompt.ts",
      "error pure-no-system-io: src/config/read.ts → fs",
      "error pure-points-down: src/config/read.ts → src/store/keys.ts",
      "error pure-points-down: src/net/first.ts → src/store/keys.ts",
      "error store-layout-is-pure: src/store/layout.ts → src/store/keys.ts",
    ]);
  });

  it("finds nothing to refuse in src/", () => {
    const { status, output } = cruise(root);
    expect(output).toContain("no dependency violations found");
    expect(status).toBe(0);
  });
});
