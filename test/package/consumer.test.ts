/**
 * The library as a consumer gets it: `npm pack`, the tarball installed into a
 * scratch project (dependencies from the npm cache where it has them; npm
 * still asks the registry for their versions, which `npm ci` never cached), every entry point imported by a strict NodeNext TypeScript
 * program that reads a fleet, plans it and renders one host.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const scratch = mkdtempSync(join(tmpdir(), "wgqt-consumer-"));
const npm = (args: string[], cwd: string) =>
  execFileSync("npm", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

const CONFIG = `keys_dir = "wireguard_keys"
ipv4_start = "10.128.0.0"
udp_start = 16842
admins = ["age16k3m939w6nk09ytchwq4gtg2zs3gg3c30gdupsdwq9e2pf6rc5wqccrwvk"]

[machines.tavern]
recipients = ["age16k3m939w6nk09ytchwq4gtg2zs3gg3c30gdupsdwq9e2pf6rc5wqccrwvk"]
endpoint = "tavern.example.org"

[machines.nyaa]
recipients = ["age16k3m939w6nk09ytchwq4gtg2zs3gg3c30gdupsdwq9e2pf6rc5wqccrwvk"]

[proxies.germany]
gateway = "tavern"
clients = ["nyaa"]
`;

const MAIN = `import { readFile } from "node:fs/promises";
import { loadConfig, plan, render, type RenderedFile, WgqtError } from "wgqt";
import { decryptWith, parseRecipient } from "wgqt/age";
import { type Config, parseConfig, peerPairs } from "wgqt/config";
import { generateKeyPair, type KeyPair } from "wgqt/keys";
import { diffPlans, hostView, type Plan, planJson } from "wgqt/net";
import { FORMATS, renderWgQuick } from "wgqt/render";
import { openKeyStore, planKeygen, presharedKeyFile } from "wgqt/store";

const config: Config = await loadConfig(process.cwd());
const store = await openKeyStore(config.keysDir);
const keys: Record<string, KeyPair> = {};
for (const name of Object.keys(config.machines)) keys[name] = generateKeyPair();
const publicKeys = Object.fromEntries(Object.entries(keys).map(([name, pair]) => [name, pair.publicKey]));
const planned: Plan = plan(config, publicKeys);
const files: RenderedFile[] = render(planned, config, { format: "wg-quick", machine: "nyaa" });
const same = renderWgQuick(planned, config, "nyaa");
if (same.map((file) => file.content).join() !== files.map((file) => file.content).join()) throw new Error("renderers disagree");
const keygen = planKeygen(config, store);
const moved = diffPlans(planJson(planned), planJson(planned));
console.log(JSON.stringify({
  path: files[0]?.path,
  head: files[0]?.content.split("\\n").slice(0, 3),
  endpoint: files[0]?.content.match(/^Endpoint = .*$/m)?.[0],
  formats: FORMATS,
  pairs: peerPairs(parseConfig(await readFile(config.path, "utf8"), config.path)),
  interfaces: hostView(planned, config, "nyaa").interfaces.map((entry) => entry.name),
  keypairs: keygen.keypairs,
  psk: presharedKeyFile("tavern", "nyaa"),
  moved: moved.changed.length,
  recipient: parseRecipient(config.admins[0]!).kind,
  decrypt: typeof decryptWith,
  error: new WgqtError("config/invalid", "x") instanceof Error,
}));
`;

beforeAll(() => {
  const tarball = npm(["pack", "--pack-destination", scratch, "--silent"], root).trim();
  const project = join(scratch, "project");
  mkdirSync(project);
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  npm(["install", join(scratch, tarball), "--prefer-offline", "--no-audit", "--no-fund"], project);
  for (const dependency of ["typescript", "@types/node"]) {
    mkdirSync(join(project, "node_modules", "@types"), { recursive: true });
    symlinkSync(join(root, "node_modules", dependency), join(project, "node_modules", dependency));
  }
  writeFileSync(join(project, "wgqt.toml"), CONFIG);
  writeFileSync(join(project, "main.ts"), MAIN);
  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noUncheckedIndexedAccess: true,
        types: ["node"],
        outDir: ".",
      },
      files: ["main.ts"],
    }),
  );
}, 300_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("the packed library", () => {
  const project = () => join(scratch, "project");

  it("ships dist and bin, nothing of test/ or src/", () => {
    const [packed] = JSON.parse(npm(["pack", "--dry-run", "--json", "--silent"], root)) as {
      files: { path: string }[];
    }[];
    const paths = packed!.files.map((file) => file.path);
    for (const area of ["", "keys/", "age/", "config/", "store/", "net/", "render/"]) {
      expect(paths).toContain(`dist/${area}index.js`);
      expect(paths).toContain(`dist/${area}index.d.ts`);
    }
    expect(paths).toContain("bin/wgqt");
    expect(paths).toContain("dist/bundle/main.js");
    expect(paths.filter((path) => /^(test|src|bench|scripts)\//.test(path))).toEqual([]);
  });

  it("type-checks a strict NodeNext program importing every entry point", () => {
    const tsc = join(project(), "node_modules", "typescript", "bin", "tsc");
    execFileSync(process.execPath, [tsc, "-p", "."], { cwd: project(), stdio: "pipe" });
  }, 120_000);

  it("reads a fleet, plans it and renders one host's wg-quick config", () => {
    const out = JSON.parse(
      execFileSync(process.execPath, ["main.js"], { cwd: project(), encoding: "utf8" }),
    );
    expect(out.path).toBe("nyaa/germany.conf");
    expect(out.head[0]).toMatch(/^# /);
    expect(out).toMatchObject({
      endpoint: "Endpoint = tavern.example.org:16842",
      formats: ["nixos", "wg-quick", "networkd", "json"],
      pairs: [["nyaa", "tavern"]],
      interfaces: ["germany"],
      keypairs: ["nyaa", "tavern"],
      psk: "preshared_keys/nyaa+tavern.age",
      moved: 0,
      recipient: "x25519",
      decrypt: "function",
      error: true,
    });
  });
});
