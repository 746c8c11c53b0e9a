/**
 * Every Nix keyword is a legal machine, proxy and VPN name; the Nix files
 * wgqt writes for such a fleet (each host's NixOS module, options.nix,
 * default.nix, and the store's secrets.nix and machines.nix) must still be
 * Nix. `nix-instantiate --parse` judges each file; the store's two files,
 * plain attribute sets, are also evaluated to check the names survive as
 * attribute names. The NixOS module system judges the modules in
 * nixos.test.ts.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { interfaceNameProblem, machineNameProblem } from "../../src/config/names.js";
import { plannedHosts } from "../../src/net/host.js";
import { plan } from "../../src/net/plan.js";
import { render } from "../../src/render/index.js";
import { expectedSecrets } from "../../src/store/expected.js";
import { machineEntries, renderMachinesNix, renderSecretsNix } from "../../src/store/nix.js";
import { keywordConfig, keywordPublicKeys, NIX_KEYWORDS, vpnSecrets } from "../net/fleet.js";

const root = mkdtempSync(join(tmpdir(), "wgqt-nix-keywords-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function write(dir: string, path: string, content: string): string {
  const file = join(dir, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  return file;
}

const nix = (args: string[]) =>
  execFileSync("nix-instantiate", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

/** The parse error, or undefined when the file parses. */
function parseProblem(file: string): string | undefined {
  try {
    nix(["--parse", file]);
    return undefined;
  } catch (error) {
    return String((error as { stderr?: unknown }).stderr ?? error);
  }
}

it("every Nix keyword is a legal machine name and a legal interface name", () => {
  for (const name of NIX_KEYWORDS) {
    expect({ name, problem: machineNameProblem(name) }).toEqual({ name, problem: undefined });
    expect({ name, problem: interfaceNameProblem(name) }).toEqual({ name, problem: undefined });
  }
});

describe.each([
  ["proxies named by the first five keywords, VPNs by the rest", false],
  ["VPNs named by the first five keywords, proxies by the rest", true],
])("a fleet named by Nix keywords: %s", (_label, swap) => {
  const config = keywordConfig(swap);
  const publicKeys = keywordPublicKeys();
  const planned = plan(config, publicKeys);
  const dir = join(root, swap ? "swapped" : "straight");

  it("names every machine, proxy and VPN after a keyword", () => {
    expect(Object.keys(config.machines).sort()).toEqual([...NIX_KEYWORDS]);
    expect([...Object.keys(config.proxies), ...Object.keys(config.vpns ?? {})].sort()).toEqual([
      ...NIX_KEYWORDS,
    ]);
    expect(plannedHosts(planned).sort()).toEqual([...NIX_KEYWORDS]);
  });

  it("renders NixOS files that nix-instantiate parses", () => {
    const files = render(planned, config, { format: "nixos" });
    expect(files.map((file) => file.path)).toEqual(
      expect.arrayContaining(NIX_KEYWORDS.map((host) => `hosts/${host}.nix`)),
    );
    for (const file of files) {
      const written = write(join(dir, "nixos"), file.path, file.content);
      expect({ file: file.path, problem: parseProblem(written) }).toEqual({
        file: file.path,
        problem: undefined,
      });
    }
  });

  it("writes a secrets.nix and machines.nix that parse and keep every name", () => {
    const secrets = expectedSecrets(config);
    const storeFiles = new Set(Object.keys(vpnSecrets(config)));
    const secretsNix = write(dir, "secrets.nix", renderSecretsNix(secrets.values()));
    const machinesNix = write(
      dir,
      "machines.nix",
      renderMachinesNix(machineEntries(config, publicKeys, storeFiles)),
    );
    for (const file of [secretsNix, machinesNix]) {
      expect({ file, problem: parseProblem(file) }).toEqual({ file, problem: undefined });
    }
    const evaluate = (expression: string, file: string) =>
      JSON.parse(nix(["--eval", "--strict", "--json", "--expr", `${expression} (import ${file})`]));
    expect(evaluate("builtins.attrNames", secretsNix)).toEqual([...secrets.keys()].sort());
    const machines = evaluate(
      "(m: builtins.mapAttrs (name: v: builtins.attrNames v.presharedKeyFiles) m)",
      machinesNix,
    );
    expect(Object.keys(machines).sort()).toEqual([...NIX_KEYWORDS]);
    // Each proxy pairs a gateway with one client: each is the other's only PSK peer.
    for (const proxy of Object.values(config.proxies)) {
      expect(machines[proxy.gateway]).toEqual(proxy.clients);
      expect(machines[proxy.clients[0]!]).toEqual([proxy.gateway]);
    }
  });
});
