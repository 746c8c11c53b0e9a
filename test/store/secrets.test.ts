/**
 * makeSecrets on worker threads, as the built CLI runs it (dist/, which the
 * test setup compiles; from TypeScript sources there is no worker script and
 * everything stays in one thread): every file opens with the intended
 * identities through the reference `age` CLI and age-encryption, private keys
 * match their public keys as `wg pubkey` computes them, and no key repeats.
 */

import { Decrypter } from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseIdentities } from "../../src/age/identity.js";
import { parseKeyFileContent } from "../../src/keys/wireguard.js";
import * as source from "../../src/store/secrets.js";
import {
  type AgeKeyFile,
  ageDecrypt,
  ageKeygen,
  makeTempDir,
  runOk,
  type SshKeyFiles,
  sshKeygen,
  type TempDir,
} from "../age/helpers.js";

type SecretsModule = typeof source;
let built: SecretsModule;
let dir: TempDir;
let host: SshKeyFiles;
let admin: AgeKeyFile;

beforeAll(async () => {
  // Loaded by URL, so the type check does not need dist/ to exist.
  built = await import(new URL("../../dist/store/secrets.js", import.meta.url).href);
  dir = await makeTempDir();
  [host, admin] = await Promise.all([
    sshKeygen(dir.path, "host", ["-t", "ed25519"]),
    ageKeygen(dir.path, "admin"),
  ]);
});
afterAll(async () => dir?.remove());

describe("makeSecrets", () => {
  it("uses worker threads for a large batch only when built, and never with a test random source", () => {
    expect(built.workerThreads(600, { threads: 2 })).toBe(2);
    expect(built.workerThreads(100, { threads: 2 })).toBe(0);
    expect(built.workerThreads(600, { threads: 1 })).toBe(0);
    expect(built.workerThreads(600, { threads: 2, random: () => new Uint8Array(0) })).toBe(0);
    expect(source.workerThreads(600, { threads: 2 })).toBe(0);
  });

  it("makes keypairs and preshared keys in workers that age and wg read", async () => {
    const recipients = [host.publicText.trim(), admin.recipient];
    const jobs = Array.from({ length: 600 }, (_, i) => ({
      kind: i % 3 === 0 ? ("keypair" as const) : ("preshared-key" as const),
      recipients,
    }));
    const made = await built.makeSecrets(jobs, { threads: 2 });
    expect(made).toHaveLength(jobs.length);

    const decrypter = new Decrypter();
    for (const identity of parseIdentities(host.privateText, host.privatePath))
      decrypter.addIdentity(identity);
    const keys = new Set<string>();
    for (const [index, secret] of made.entries()) {
      const key = parseKeyFileContent(
        await decrypter.decrypt(secret.ciphertext),
        `secret ${index}`,
      );
      keys.add(key);
      if (jobs[index]!.kind === "keypair") {
        expect(runOk("wg", ["pubkey"], `${key}\n`).toString().trim(), `secret ${index}`).toBe(
          secret.publicKey,
        );
      } else {
        expect(secret.publicKey).toBeUndefined();
      }
    }
    expect(keys.size).toBe(jobs.length);
    // The reference CLI, with each identity, on a sample from both workers' batches.
    for (const index of [0, 1, 130, 299, 400, 599]) {
      for (const identity of [host.privatePath, admin.path]) {
        const result = ageDecrypt(identity, made[index]!.ciphertext);
        expect(result.stderr, `secret ${index}`).toBe("");
      }
    }
  });

  it("hands every host key to the workers parsed, and each file opens with its own hosts' keys", async () => {
    const hosts = await Promise.all(
      ["a", "b", "c", "d"].map((name) => sshKeygen(dir.path, `host-${name}`, ["-t", "ed25519"])),
    );
    const pairs = hosts.flatMap((first, i) => hosts.slice(i + 1).map((second) => [first, second]));
    const jobs = Array.from({ length: 300 }, (_, i) => {
      const members = i % 2 === 0 ? [hosts[i % hosts.length]!] : pairs[i % pairs.length]!;
      return {
        kind: i % 2 === 0 ? ("keypair" as const) : ("preshared-key" as const),
        // The recipient texts as wgqt.toml holds them, comments included.
        recipients: [...members.map((member) => member.publicText.trim()), admin.recipient],
        members,
      };
    });
    const made = await built.makeSecrets(
      jobs.map(({ kind, recipients }) => ({ kind, recipients })),
      { threads: 2 },
    );
    for (const [index, job] of jobs.entries()) {
      for (const member of job.members) {
        const decrypter = new Decrypter();
        for (const identity of parseIdentities(member.privateText, member.privatePath))
          decrypter.addIdentity(identity);
        const key = parseKeyFileContent(
          await decrypter.decrypt(made[index]!.ciphertext),
          `secret ${index}`,
        );
        if (job.kind === "keypair") {
          expect(runOk("wg", ["pubkey"], `${key}\n`).toString().trim()).toBe(
            made[index]!.publicKey,
          );
        }
      }
    }
    // The reference CLI on files from both workers, with each of their hosts' keys.
    for (const index of [1, 2, 131, 298, 299]) {
      for (const member of jobs[index]!.members) {
        expect(ageDecrypt(member.privatePath, made[index]!.ciphertext).stderr).toBe("");
      }
    }
  });

  it("reports a bad recipient from a worker as a one-line KeyError", async () => {
    const jobs = Array.from({ length: 300 }, () => ({
      kind: "preshared-key" as const,
      recipients: ["age1notarecipient"],
    }));
    await expect(built.makeSecrets(jobs, { threads: 2 })).rejects.toThrow(/invalid age recipient/);
  });
});
