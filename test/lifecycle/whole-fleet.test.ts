/**
 * The changes that touch every file of a fleet, at a size where the built CLI
 * spreads the encryption over worker threads (314 secrets; so these run
 * bin/wgqt, whose bundle holds the worker): `rotate --all`
 * renews every key, and `rekey` after an admin is added re-encrypts every
 * file without changing the secret inside. Proven with the reference `age`
 * and `wg` tools, file by file.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ageEncrypt } from "../age/helpers.js";
import type { IdentityKind } from "../helpers/fleet.js";
import { gitLog } from "../helpers/fleet.js";
import { changedFiles, Fleet, type Proxy as ProxySpec, snapshot } from "../helpers/lifecycle.js";
import { ok } from "../helpers/run.js";

const GATEWAYS = Array.from({ length: 6 }, (_, i) => `gw${i}`);
const CLIENTS = Array.from({ length: 44 }, (_, i) => `host${String(i).padStart(2, "0")}`);

/** Six gateways each carrying all 44 clients: 50 keypairs + 264 PSKs. */
const BIG_FLEET = {
  machines: Object.fromEntries([
    ...GATEWAYS.map((name) => [name, "ssh-ed25519" as IdentityKind]),
    ...CLIENTS.map((name, i) => [name, (i % 2 ? "ssh-ed25519" : "x25519") as IdentityKind]),
  ]),
  admins: { admin: "x25519" as IdentityKind },
  proxies: Object.fromEntries(
    GATEWAYS.map((gateway, i) => [`exit${i}`, { gateway, clients: [...CLIENTS] } as ProxySpec]),
  ),
};
const SECRETS = GATEWAYS.length + CLIENTS.length + GATEWAYS.length * CLIENTS.length;

let fleet: Fleet;

beforeAll(async () => {
  fleet = await Fleet.create(BIG_FLEET);
}, 120_000);
afterAll(() => fleet.cleanup());

const wgPubkey = (privateKey: Buffer) => ok("wg", ["pubkey"], { input: privateKey });

/** Every secret, as the admin's identity decrypts it with `age -d`. */
function plaintexts(identity: string): Record<string, string> {
  const files = fleet.encryptedFiles();
  expect(files).toHaveLength(SECRETS);
  return Object.fromEntries(
    files.map((file) => [file, fleet.decrypt(identity, file)?.toString("utf8") ?? "unreadable"]),
  );
}

describe("a whole fleet, 314 secrets", () => {
  let keysBefore: Record<string, string>;

  it("rotate --all: every key new and readable by its machines, each private key matching its .pub", async () => {
    const before = snapshot(fleet.keys);
    keysBefore = plaintexts("admin");
    const result = fleet.spawnWgqt("rotate", "--all", "--yes");
    expect(result.status, result.stderr).toBe(0);

    const after = snapshot(fleet.keys);
    const keyFiles = Object.keys(before).filter((file) => /\.(age|pub)$/.test(file));
    expect(keyFiles).toHaveLength(SECRETS + GATEWAYS.length + CLIENTS.length);
    const changed = changedFiles(before, after);
    for (const file of keyFiles) expect(changed, file).toContain(file);

    const keys = plaintexts("admin");
    const values = Object.values(keys);
    expect(values).not.toContain("unreadable");
    // 314 new keys: none repeated, none kept.
    expect(new Set(values).size).toBe(SECRETS);
    for (const [file, key] of Object.entries(keys)) expect(key, file).not.toBe(keysBefore[file]);
    for (const machine of [...GATEWAYS, ...CLIENTS]) {
      expect(wgPubkey(Buffer.from(keys[`${machine}.age`]!)), machine).toBe(
        after[`${machine}.pub`]!.toString("utf8"),
      );
    }
    // Both ends of a sample of pairs read their PSK with their own host identity.
    for (const [index, client] of CLIENTS.entries()) {
      const gateway = GATEWAYS[index % GATEWAYS.length]!;
      const file = `preshared_keys/${gateway}+${client}.age`;
      for (const machine of [gateway, client])
        expect(fleet.decrypt(machine, file)?.toString("utf8"), `${machine}: ${file}`).toBe(
          keys[file],
        );
    }
    expect(gitLog(fleet.repo)[0]).toMatch(/^wgqt: rotate all /);
    keysBefore = keys;
  });

  it("rekey stops at a file late in the run that no identity opens, and writes nothing", async () => {
    fleet.identity("second", "x25519");
    fleet.admins = ["admin", "second"];
    fleet.writeConfig("add an admin");
    // The last PSK, replaced by one only its gateway can read: the batches
    // before it are with the workers when this thread reaches it.
    const last = `preshared_keys/${GATEWAYS.at(-1)}+${CLIENTS.at(-1)}.age`;
    const original = readFileSync(join(fleet.keys, last));
    const gateway = fleet.ids[GATEWAYS.at(-1)!]!;
    writeFileSync(
      join(fleet.keys, last),
      ageEncrypt(["-r", gateway.recipient.split(" ").slice(0, 2).join(" ")], Buffer.from("x")),
    );
    const before = snapshot(fleet.keys);
    const result = fleet.spawnWgqt("rekey", "--identity", fleet.ids.admin!.identityFile, "--yes");
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(new RegExp(`${last.replace(/[+.]/g, "\\$&")}: `));
    expect(result.stderr).not.toMatch(/Unhandled|at .*\.js:\d+/);
    expect(changedFiles(before, snapshot(fleet.keys))).toEqual([]);
    writeFileSync(join(fleet.keys, last), original);
  });

  it("rekey after an admin is added: every file re-encrypted for the new admin, no key changed", async () => {
    const before = snapshot(fleet.keys);
    const result = fleet.spawnWgqt("rekey", "--identity", fleet.ids.admin!.identityFile, "--yes");
    expect(result.status, result.stderr).toBe(0);

    const after = snapshot(fleet.keys);
    const changed = changedFiles(before, after);
    for (const file of fleet.encryptedFiles()) expect(changed, file).toContain(file);
    expect(changed.filter((file) => file.endsWith(".pub"))).toEqual([]);
    // The new admin reads every file, and finds the keys that were there.
    expect(plaintexts("second")).toEqual(keysBefore);
    for (const machine of [GATEWAYS[0]!, CLIENTS[0]!, CLIENTS[1]!]) {
      expect(fleet.decrypt(machine, `${machine}.age`)?.toString("utf8"), machine).toBe(
        keysBefore[`${machine}.age`],
      );
    }
    const verify = await fleet.wgqt("verify");
    expect(verify.status, verify.stderr).toBe(0);
  });
});
