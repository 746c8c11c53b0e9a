/** The bundled example fleet (wgqt.toml, wireguard_keys/, examples/identities/) is a real, valid store. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/store/config-file.js";
import { expectedSecrets } from "../../src/store/expected.js";
import { ageDecrypt, ok, ROOT } from "../helpers/run.js";

const keys = join(ROOT, "wireguard_keys");
const identity = (name: string) => join(ROOT, "examples", "identities", `${name}.key`);

describe("the example fleet", () => {
  it("holds exactly the files wgqt.toml asks for, each readable by exactly its machines and the admin", async () => {
    const config = await loadConfig(ROOT);
    const expected = expectedSecrets(config);
    const present = [
      ...readdirSync(keys).filter((f) => f.endsWith(".age")),
      ...readdirSync(join(keys, "preshared_keys")).map((f) => `preshared_keys/${f}`),
    ].sort();
    expect(present).toEqual([...expected.keys()]);
    const everyone = [...Object.keys(config.machines), "admin"];
    for (const [file, secret] of expected) {
      for (const who of everyone) {
        const readable = ageDecrypt(identity(who), join(keys, file)) !== undefined;
        expect(readable, `${file} × ${who}`).toBe(who === "admin" || secret.machines.includes(who));
      }
    }
  });

  it("has a .pub matching every private key (wg pubkey)", () => {
    for (const machine of ["lighthouse", "tavern", "nyaa", "spark", "archive"]) {
      const privateKey = ageDecrypt(identity(machine), join(keys, `${machine}.age`))!;
      expect(ok("wg", ["pubkey"], { input: privateKey })).toBe(
        readFileSync(join(keys, `${machine}.pub`), "utf8"),
      );
    }
  });
});
