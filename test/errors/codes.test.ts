/**
 * Error codes: every code of every union is thrown somewhere in src (a code
 * nobody throws is a promise nobody keeps), each is `area/what`, and the
 * pure layers name request fields, leaving flags to the CLI.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cliMessage } from "../../src/cli/error-wording.js";
import {
  AGE_ERROR_CODES,
  CONFIG_ERROR_CODES,
  ConfigError,
  KEY_ERROR_CODES,
  RENDER_ERROR_CODES,
  STORE_ERROR_CODES,
  USAGE_ERROR_CODES,
  UsageError,
} from "../../src/errors.js";
import { plan } from "../../src/net/plan.js";
import { render } from "../../src/render/index.js";
import { loadConfig } from "../../src/store/config-file.js";
import { planKeygen } from "../../src/store/keygen.js";
import { openKeyStore } from "../../src/store/keystore.js";
import { planRotate } from "../../src/store/rotate.js";
import { ROOT } from "../helpers/run.js";

const SRC = join(import.meta.dirname, "../../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith(".ts")
        ? [join(dir, entry.name)]
        : [],
  );
}

const UNIONS = {
  config: CONFIG_ERROR_CODES,
  key: KEY_ERROR_CODES,
  age: AGE_ERROR_CODES,
  store: STORE_ERROR_CODES,
  usage: USAGE_ERROR_CODES,
  render: RENDER_ERROR_CODES,
};

/** The thrown error of `attempt`, to look at its fields. */
function thrown(attempt: () => unknown): unknown {
  try {
    attempt();
  } catch (error) {
    return error;
  }
  throw new Error("did not throw");
}

/** The bundled example fleet: wgqt.toml and wireguard_keys/ at the root. */
const FLEET = ROOT;

describe("error codes", () => {
  const sources = sourceFiles(SRC)
    .filter((file) => !file.endsWith(`${join("src", "errors.ts")}`))
    .map((file) => readFileSync(file, "utf8"))
    .join("\n");

  it.each(Object.entries(UNIONS))("every %s code is thrown somewhere in src", (_, codes) => {
    for (const code of codes) expect(sources, code).toContain(`"${code}"`);
  });

  it("are area/what, and no two unions share one", () => {
    const all = Object.values(UNIONS).flat();
    for (const code of all) expect(code).toMatch(/^[a-z]+\/[a-z]+(-[a-z]+)*$/);
    expect(new Set(all).size).toBe(all.length);
  });
});

describe("pure layers name fields, not flags", () => {
  it("render names its format field; the CLI says --format", async () => {
    const config = await loadConfig(FLEET);
    const error = thrown(() => render(plan(config), config, { format: "yaml" as never }));
    expect(error).toBeInstanceOf(UsageError);
    expect(error).toMatchObject({
      code: "usage/bad-value",
      field: "format",
      message: 'format: expected one of nixos, wg-quick, networkd, json, got "yaml"',
    });
    expect(cliMessage(error as UsageError)).toBe(
      '--format: expected one of nixos, wg-quick, networkd, json, got "yaml"',
    );
  });

  it("keygen and rotate name their machines and pairs fields; the CLI says --machine and --pair", async () => {
    const config = await loadConfig(FLEET);
    const store = await openKeyStore(config.keysDir);
    for (const attempt of [
      () => planKeygen(config, store, ["ghost"]),
      () => planRotate(config, { machines: ["ghost"] }),
    ]) {
      const error = thrown(attempt) as UsageError;
      expect(error).toMatchObject({ code: "usage/unknown-name", field: "machines" });
      expect(error.message).toMatch(/^machines: unknown machine "ghost"/);
      expect(cliMessage(error)).toMatch(/^--machine: unknown machine "ghost"/);
    }
    const pair = thrown(() => planRotate(config, { pairs: [["ghost", "tavern"]] })) as UsageError;
    expect(pair).toMatchObject({ code: "usage/unknown-name", field: "pairs" });
    expect(cliMessage(pair)).toMatch(/^--pair: unknown machine "ghost"/);
  });

  it("rotate's request checks carry codes the CLI words with its flags", async () => {
    const config = await loadConfig(FLEET);
    const nothing = thrown(() => planRotate(config, {})) as UsageError;
    expect(nothing.code).toBe("rotate/nothing-selected");
    expect(nothing.message).not.toMatch(/--/);
    expect(cliMessage(nothing)).toBe("rotate what? give --machine NAME, --pair A B or --all");
  });

  it("no error of the library layers starts with a flag", () => {
    for (const area of ["config", "net", "render", "keys", "age", "store", "git"]) {
      for (const file of sourceFiles(join(SRC, area))) {
        const text = readFileSync(file, "utf8");
        expect(text, file).not.toMatch(/Error\(\s*("[a-z/-]+",\s*)?[`"]--[a-z]/);
      }
    }
  });

  it("a message without a field is printed as it is", () => {
    const error = new ConfigError("config/invalid", "wgqt.toml: ipv4_start: not an address");
    expect(error.field).toBeUndefined();
    expect(cliMessage(error)).toBe(error.message);
  });
});
