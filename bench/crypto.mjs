#!/usr/bin/env node
// In-process micro-benchmark of wgqt's crypto path: what one
// encrypted key file, one keypair and one decryption cost, without the CLI,
// git or the disk. It uses only dist/index.js's public surface, so the same
// script measures any build.
//
//   npm run build && node bench/crypto.mjs [--files N] [--runs R]
//
// --files N   files per batch (default 1000)
// --runs R    batches per measurement; the median is reported (default 5)
//
// The recipients are a keygen preshared-key file's: two ssh-ed25519 host keys
// and one age1 admin, made with ssh-keygen and age-keygen. "parse + encrypt"
// is what the store's writeSecret does per file (parseRecipient on each
// recipient string, then encryptTo).
import { execFileSync } from "node:child_process";
import { diffieHellman, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({
  options: {
    files: { type: "string", default: "1000" },
    runs: { type: "string", default: "5" },
  },
});
const files = Number(values.files);
const runs = Number(values.runs);

const wgqt = await import(new URL("dist/index.js", `file://${root}`).href);
const { decryptWith, encryptTo, generateKeyPair, parseIdentities, parseRecipient } = wgqt;

const dir = mkdtempSync(join(tmpdir(), "wgqt-crypto-bench-"));
const sshKey = (name) => {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, name)]);
  return {
    identity: readFileSync(join(dir, name), "utf8"),
    recipient: readFileSync(join(dir, `${name}.pub`), "utf8").trim(),
  };
};
const hostA = sshKey("a");
const hostB = sshKey("b");
execFileSync("age-keygen", ["-o", join(dir, "admin")], { stdio: "ignore" });
const adminIdentity = readFileSync(join(dir, "admin"), "utf8");
const admin = execFileSync("age-keygen", ["-y", join(dir, "admin")])
  .toString()
  .trim();
rmSync(dir, { recursive: true, force: true });

const recipients = [hostA.recipient, hostB.recipient, admin];
const plaintext = new TextEncoder().encode(`${"A".repeat(43)}=\n`);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** Median over `runs` batches of `count` calls of `fn`, as ms per batch and µs per call. */
async function measure(label, count, fn) {
  for (let i = 0; i < Math.min(count, 50); i++) await fn(i); // warm up
  const times = [];
  for (let r = 0; r < runs; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < count; i++) await fn(i);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const ms = median(times);
  const row = { label, count, batchMs: round(ms), perCallUs: round((ms * 1000) / count) };
  rows.push(row);
  process.stderr.write(
    `${label.padEnd(44)} ${fmt(ms).padStart(10)} / ${count}  ${fmt((ms * 1000) / count)} µs each\n`,
  );
}
const round = (x) => Math.round(x * 1000) / 1000;
const fmt = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(2));
const rows = [];

const ours = generateKeyPairSync("x25519");
const theirs = generateKeyPairSync("x25519");
const dh = { privateKey: ours.privateKey, publicKey: theirs.publicKey };
await measure("node:crypto X25519 (floor op)", files, () => diffieHellman(dh));

const parsed = recipients.map((r) => parseRecipient(r));
await measure("parseRecipient × 3", files, () => recipients.map((r) => parseRecipient(r)));
// Texts never seen before (a fresh comment, fresh leading space): what a cache miss costs.
let fresh = 0;
await measure("parseRecipient × 3, each text new", Math.min(files, 300), () => {
  fresh++;
  return [
    `${hostA.recipient} c${fresh}`,
    `${hostB.recipient} c${fresh}`,
    `${" ".repeat(fresh)}${admin}`,
  ].map((r) => parseRecipient(r));
});
await measure("encryptTo (parsed once)", files, () => encryptTo(plaintext, parsed));
await measure("parse + encrypt (writeSecret)", files, () =>
  encryptTo(
    plaintext,
    recipients.map((r) => parseRecipient(r)),
  ),
);
for (const [name, recipient] of [
  ["ssh-ed25519", hostA.recipient],
  ["age1", admin],
]) {
  const one = [parseRecipient(recipient)];
  await measure(`encryptTo 1 ${name} recipient`, files, () => encryptTo(plaintext, one));
}
await measure("generateKeyPair", files, () => generateKeyPair());

const ciphertexts = [];
for (let i = 0; i < Math.min(files, 200); i++) ciphertexts.push(await encryptTo(plaintext, parsed));
const decryptCount = ciphertexts.length;
for (const [name, text] of [
  ["ssh-ed25519", hostB.identity],
  ["age1 (X25519)", adminIdentity],
]) {
  const identities = parseIdentities(text, name);
  await measure(`decryptWith ${name} identity`, decryptCount, (i) =>
    decryptWith(ciphertexts[i % decryptCount], identities, "bench"),
  );
}
process.stdout.write(`${JSON.stringify({ node: process.version, files, runs, rows }, null, 1)}\n`);
