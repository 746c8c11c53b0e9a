/**
 * The key store, proven by the reference tools: `age` decrypts every file with
 * exactly the intended identities, `wg pubkey` agrees with every `.pub`, and
 * `nix-instantiate` reads `secrets.nix` and `machines.nix` as expected.
 */
import { appendFileSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeIdentity, makeRepo, removeDir, type TestIdentity } from "../helpers/fleet.js";
import { ageDecrypt, cli, ok } from "../helpers/run.js";

let repo: string;
let keys: string;
const ids: Record<string, TestIdentity> = {};

/** Who must be able to read each file: the machines in it and the admin. */
const intended: Record<string, string[]> = {
  "alpha.age": ["alpha", "admin"],
  "bravo.age": ["bravo", "admin"],
  "charlie.age": ["charlie", "admin"],
  "preshared_keys/alpha+bravo.age": ["alpha", "bravo", "admin"],
  "preshared_keys/alpha+charlie.age": ["alpha", "charlie", "admin"],
  "preshared_keys/bravo+charlie.age": ["bravo", "charlie", "admin"],
};

beforeAll(async () => {
  repo = makeRepo();
  const idDir = join(repo, "..", `${repo.split("/").pop()}-ids`);
  ok("mkdir", ["-p", idDir]);
  ids.alpha = makeIdentity(idDir, "alpha", "x25519");
  ids.bravo = makeIdentity(idDir, "bravo", "ssh-ed25519");
  ids.charlie = makeIdentity(idDir, "charlie", "ssh-rsa");
  ids.admin = makeIdentity(idDir, "admin", "x25519");
  ids.stranger = makeIdentity(idDir, "stranger", "ssh-ed25519");

  const init = await cli(repo, "init", "--admin-file", ids.admin!.recipientFile);
  expect(init.status, init.stderr).toBe(0);
  for (const name of ["alpha", "bravo", "charlie"]) {
    const added = await cli(
      repo,
      "machine",
      "add",
      name,
      "--recipient-file",
      ids[name]!.recipientFile,
      "--endpoint",
      `${name}.example.org`,
    );
    expect(added.stderr).toContain(`added machine ${name}`);
  }
  appendFileSync(
    join(repo, "wgqt.toml"),
    '\n[proxies.hub]\ngateway = "alpha"\nclients = ["charlie", "bravo"]\n\n[proxies.side]\ngateway = "bravo"\nclients = ["charlie"]\n',
  );
  const result = await cli(repo, "keygen", "--no-commit");
  expect(result.status, result.stderr).toBe(0);
  keys = join(repo, "wireguard_keys");
});

afterAll(() => {
  removeDir(repo);
  removeDir(`${repo}-ids`);
});

describe("wgqt keygen on a mixed fleet", () => {
  it("writes exactly the store docs/store.md lays out", () => {
    const top = readdirSync(keys).sort();
    expect(top).toEqual([
      "alpha.age",
      "alpha.pub",
      "bravo.age",
      "bravo.pub",
      "charlie.age",
      "charlie.pub",
      "machines.nix",
      "manifest.json",
      "plan.json",
      "preshared_keys",
      "secrets.nix",
    ]);
    expect(readdirSync(join(keys, "preshared_keys")).sort()).toEqual([
      "alpha+bravo.age",
      "alpha+charlie.age",
      "bravo+charlie.age",
    ]);
  });

  it("age decrypts every file with each intended identity and with no other (the whole matrix)", () => {
    const identities = ["alpha", "bravo", "charlie", "admin", "stranger"];
    const violations: string[] = [];
    let cells = 0;
    for (const [file, readers] of Object.entries(intended)) {
      for (const identity of identities) {
        cells++;
        const plaintext = ageDecrypt(ids[identity]!.identityFile, join(keys, file));
        const should = readers.includes(identity);
        if (should !== (plaintext !== undefined))
          violations.push(`${file} × ${identity}: ${should ? "cannot" : "can"} decrypt`);
      }
    }
    expect(cells).toBe(30);
    expect(violations).toEqual([]);
  });

  it("wg pubkey of every decrypted private key equals its .pub; PSKs are 32 bytes", () => {
    for (const machine of ["alpha", "bravo", "charlie"]) {
      const privateKey = ageDecrypt(ids[machine]!.identityFile, join(keys, `${machine}.age`))!;
      expect(privateKey.toString()).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
      const publicKey = ok("wg", ["pubkey"], { input: privateKey });
      expect(publicKey).toBe(readFileSync(join(keys, `${machine}.pub`), "utf8"));
    }
    for (const file of Object.keys(intended).filter((f) => f.startsWith("preshared_keys/"))) {
      const psk = ageDecrypt(ids.admin!.identityFile, join(keys, file))!.toString().trim();
      expect(Buffer.from(psk, "base64")).toHaveLength(32);
    }
  });

  it("every key is different", () => {
    const secrets = Object.keys(intended).map((file) =>
      ageDecrypt(ids.admin!.identityFile, join(keys, file))!.toString(),
    );
    expect(new Set(secrets).size).toBe(secrets.length);
  });

  it("nix-instantiate evaluates secrets.nix to exactly the recipients expected", () => {
    const json = JSON.parse(
      ok("nix-instantiate", ["--eval", "--strict", "--json", join(keys, "secrets.nix")]),
    );
    const recipient = (name: string) => ids[name]!.recipient.split(" ").slice(0, 2).join(" ");
    const expected = Object.fromEntries(
      Object.entries(intended).map(([file, readers]) => [
        file,
        { publicKeys: readers.map(recipient) },
      ]),
    );
    expect(json).toEqual(expected);
  });

  it("nix-instantiate evaluates machines.nix to the public keys and key files", () => {
    // Paths are store paths once evaluated; compare their file names.
    const expr = `builtins.mapAttrs (n: m: m // { privateKeyFile = baseNameOf m.privateKeyFile; presharedKeyFiles = builtins.mapAttrs (p: f: baseNameOf f) m.presharedKeyFiles; }) (import ${join(keys, "machines.nix")})`;
    const json = JSON.parse(ok("nix-instantiate", ["--eval", "--strict", "--json", "-E", expr]));
    const pub = (name: string) => readFileSync(join(keys, `${name}.pub`), "utf8").trim();
    expect(json).toEqual({
      alpha: {
        publicKey: pub("alpha"),
        privateKeyFile: "alpha.age",
        endpoint: "alpha.example.org",
        presharedKeyFiles: { bravo: "alpha+bravo.age", charlie: "alpha+charlie.age" },
      },
      bravo: {
        publicKey: pub("bravo"),
        privateKeyFile: "bravo.age",
        endpoint: "bravo.example.org",
        presharedKeyFiles: { alpha: "alpha+bravo.age", charlie: "bravo+charlie.age" },
      },
      charlie: {
        publicKey: pub("charlie"),
        privateKeyFile: "charlie.age",
        endpoint: "charlie.example.org",
        presharedKeyFiles: { alpha: "alpha+charlie.age", bravo: "bravo+charlie.age" },
      },
    });
  });

  it("the manifest records who each file is encrypted to", () => {
    const manifest = JSON.parse(readFileSync(join(keys, "manifest.json"), "utf8"));
    expect(Object.keys(manifest.files).sort()).toEqual(Object.keys(intended).sort());
    expect(manifest.files["preshared_keys/alpha+charlie.age"].recipients).toEqual([
      ids.alpha!.recipient,
      ids.charlie!.recipient.split(" ").slice(0, 2).join(" "),
      ids.admin!.recipient,
    ]);
  });

  it("a second keygen keeps every key and changes no byte", async () => {
    const before = snapshot(keys);
    const again = await cli(repo, "keygen", "--no-commit");
    expect(again.status).toBe(0);
    expect(again.stderr).toContain("nothing to do");
    expect(snapshot(keys)).toEqual(before);
  });
});

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile())
      out[join(entry.parentPath, entry.name)] = readFileSync(
        join(entry.parentPath, entry.name),
        "base64",
      );
  }
  return out;
}
