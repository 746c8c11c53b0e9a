// What the bench checks, untimed, after a measured run: which files a command
// changed, and that a store keygen (or the shell baseline) wrote is readable
// by the reference tools.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { hostKeyOf } from "./fleet.mjs";

/** Whether `tool` is on the PATH. */
export const have = (tool) =>
  spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status === 0;

/** Every file relative to `dir`, with a SHA-256 of its bytes. */
export function snapshot(dir) {
  const files = new Map();
  const walk = (path) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) walk(full);
      else
        files.set(
          relative(dir, full),
          createHash("sha256").update(readFileSync(full)).digest("hex"),
        );
    }
  };
  walk(dir);
  return files;
}

export function changedFiles(before, after) {
  const changed = [...after.keys()].filter((path) => before.get(path) !== after.get(path));
  const removed = [...before.keys()].filter((path) => !after.has(path));
  const kind = (path) =>
    path.startsWith("preshared_keys/")
      ? "psk"
      : path.endsWith(".age")
        ? "age"
        : path.endsWith(".pub")
          ? "pub"
          : "other";
  const count = { age: 0, psk: 0, pub: 0, other: 0 };
  for (const path of changed) count[kind(path)]++;
  return { count, removed: removed.length, total: changed.length };
}

export const describeChanges = ({ count, removed, total }) =>
  total === 0 && removed === 0
    ? "changed nothing"
    : `changed ${count.age} key .age + ${count.psk} PSK .age + ${count.pub} .pub + ${count.other} generated` +
      (removed ? `, removed ${removed}` : "");

/**
 * The store keygen (or the baseline) wrote has the right files, and the
 * reference tools read them: the admin's age identity opens a preshared key, a
 * client's ssh host key opens its private key, and `wg pubkey` agrees with its .pub.
 */
export function checkKeyFiles(keysDir, shape, keys, presharedExpected) {
  const problems = [];
  const list = (dir, suffix) =>
    existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith(suffix)) : [];
  const pubs = list(keysDir, ".pub").length;
  const ages = list(keysDir, ".age").length;
  const psks = list(join(keysDir, "preshared_keys"), ".age");
  if (pubs !== shape.n) problems.push(`${pubs} .pub of ${shape.n}`);
  if (ages !== shape.n) problems.push(`${ages} .age of ${shape.n}`);
  if (psks.length !== presharedExpected)
    problems.push(`${psks.length} PSKs of ${presharedExpected}`);
  if (have("age") && psks.length > 0) {
    const psk = spawnSync("age", [
      "-d",
      "-i",
      keys.adminIdentity,
      join(keysDir, "preshared_keys", psks[0]),
    ]);
    if (psk.status !== 0 || !/^[A-Za-z0-9+/]{43}=\n$/.test(psk.stdout.toString())) {
      problems.push(`age -d (admin) fails on ${psks[0]}`);
    }
    const client = shape.clients[0];
    const decrypted = spawnSync("age", [
      "-d",
      "-i",
      hostKeyOf(keys, client).privateFile,
      join(keysDir, `${client}.age`),
    ]);
    const pub = have("wg")
      ? spawnSync("wg", ["pubkey"], { input: decrypted.stdout }).stdout.toString()
      : null;
    if (decrypted.status !== 0) problems.push(`age -d (ssh host key) fails on ${client}.age`);
    else if (pub !== null && pub !== readFileSync(join(keysDir, `${client}.pub`), "utf8")) {
      problems.push(`wg pubkey disagrees with ${client}.pub`);
    }
  }
  return problems.length ? `CHECK FAILED: ${problems.join(", ")}` : undefined;
}
