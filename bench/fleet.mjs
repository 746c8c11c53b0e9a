// Synthetic fleets for `npm run bench`: n machines m0000…, every
// 10th one (m0000, m0010, …) a gateway with an endpoint and a proxy
// p000, p001, … whose clients are all the non-gateway machines; one admin.
// A partitioned fleet (`fleetShape(n, { partitioned: true })`) has the same
// machines in n/10 separate networks instead: each gateway's proxy has the
// nine machines after it (m0001…m0009 behind m0000, and so on).
//
// Keys: one real ssh-ed25519 host key per machine, made with ssh-keygen, as in
// a real fleet: every recipient is decoded and converted once, and every
// preshared key file has three stanzas (two hosts + the admin).

import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Host keys used only as the "new" key of the machine whose key changes (rekey). */
export const SPARE_KEYS = 2;

export const machineName = (i) => `m${String(i).padStart(4, "0")}`;
/** Interface names: at most 15 characters. */
export const proxyName = (j) => `p${String(j).padStart(3, "0")}`;

/** Who is what, and how much work keygen has, for n machines. */
export function fleetShape(n, { partitioned = false } = {}) {
  const gateways = [];
  const clients = [];
  for (let i = 0; i < n; i++) (i % 10 === 0 ? gateways : clients).push(machineName(i));
  // One per gateway–client pair.
  const presharedKeys = partitioned ? clients.length : gateways.length * clients.length;
  return {
    n,
    partitioned,
    gateways,
    clients,
    proxies: gateways.length,
    keypairs: n,
    presharedKeys,
    files: n + presharedKeys,
    // Stanzas: a private key file is for its host + the admin; a PSK file for
    // both hosts + the admin. All host stanzas are ssh-ed25519, the admin X25519.
    sshStanzas: n + 2 * presharedKeys,
    x25519Stanzas: n + presharedKeys,
  };
}

/**
 * ssh-ed25519 host keys for machines m0000…m(hosts − 1), spare ones, and an age
 * admin identity, under `dir/keys`.
 */
export function makeKeys(dir, hosts) {
  const keys = join(dir, "keys");
  mkdirSync(keys, { recursive: true });
  const make = (name) => {
    const path = join(keys, name);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path]);
    const line = readFileSync(`${path}.pub`, "utf8").trim();
    return { name, file: `${path}.pub`, privateFile: path, recipient: line };
  };
  const host = Array.from({ length: hosts }, (_, i) => make(machineName(i)));
  const spare = Array.from({ length: SPARE_KEYS }, (_, i) => make(`spare-${i}`));
  const adminIdentity = join(keys, "admin.key");
  execFileSync("age-keygen", ["-o", adminIdentity], { stdio: "ignore" });
  const admin = execFileSync("age-keygen", ["-y", adminIdentity], { encoding: "utf8" }).trim();
  const adminFile = join(keys, "admin.txt");
  writeFileSync(adminFile, `${admin}\n`);
  return { host, spare, admin, adminFile, adminIdentity };
}

/** The host key machine `name` (m0000, m0001, …) gets (`overrides[name]` replaces it). */
export function hostKeyOf(keys, name, overrides = {}) {
  if (overrides[name]) return overrides[name];
  const key = keys.host[Number(name.slice(1))];
  if (!key) throw new Error(`bench: no host key made for ${name}`);
  return key;
}

/** A random, valid WireGuard (X25519) public key, base64. */
export function randomPublicKey() {
  const { publicKey } = generateKeyPairSync("x25519");
  // The last 32 bytes of the DER SubjectPublicKeyInfo. Not a JWK export: in
  // Node 20, exporting an X25519 key as JWK can deadlock when the string it
  // makes starts a garbage collection that frees an earlier key's job (both
  // take one lock), which stopped full runs after the mesh keygen.
  return publicKey.export({ format: "der", type: "spki" }).subarray(-32).toString("base64");
}

/**
 * wgqt.toml for the fleet. With `publicKeys`, every machine brings its own
 * `public_key` (and has no recipients): what plan and render need, without a
 * keygen (see run.mjs).
 */
export function fleetToml(shape, keys, { overrides = {}, publicKeys = false } = {}) {
  const lines = [
    "# Synthetic fleet written by bench/fleet.mjs",
    `admins = [${JSON.stringify(keys.admin)}]`,
    "",
  ];
  for (let i = 0; i < shape.n; i++) {
    const name = machineName(i);
    lines.push(`[machines.${name}]`);
    if (publicKeys) lines.push(`public_key = ${JSON.stringify(randomPublicKey())}`);
    else lines.push(`recipients = [${JSON.stringify(hostKeyOf(keys, name, overrides).recipient)}]`);
    if (i % 10 === 0) lines.push(`endpoint = "${name}.example.org"`);
    lines.push("");
  }
  const everyClient = shape.clients.map((name) => JSON.stringify(name)).join(", ");
  shape.gateways.forEach((gateway, j) => {
    const clients = shape.partitioned
      ? Array.from({ length: 9 }, (_, k) => j * 10 + 1 + k)
          .filter((i) => i < shape.n)
          .map((i) => JSON.stringify(machineName(i)))
          .join(", ")
      : everyClient;
    lines.push(`[proxies.${proxyName(j)}]`, `gateway = "${gateway}"`, `clients = [${clients}]`, "");
  });
  return lines.join("\n");
}

/**
 * The gateway–client pairs that get a preshared key, gateway first: every
 * gateway with every client (dense), or with the nine after it (partitioned).
 */
export function presharedPairs(shape) {
  const pairs = [];
  shape.gateways.forEach((gateway, j) => {
    const clients = shape.partitioned
      ? shape.clients.filter((name) => Math.floor(Number(name.slice(1)) / 10) === j)
      : shape.clients;
    for (const client of clients) pairs.push([gateway, client]);
  });
  return pairs;
}

/**
 * The shell baseline's job lists (bench/baseline.sh): one line per file, with
 * the `age -R` recipient files. `presharedEvery` > 1 keeps every k-th pair only
 * (a deterministic sample: pairs in a fixed order, indices 0, k, 2k, …).
 */
export function baselineJobs(shape, keys, presharedEvery = 1) {
  const keypairs = shape.gateways
    .concat(shape.clients)
    .sort()
    .map((name) => `K ${name} ${hostKeyOf(keys, name).file} ${keys.adminFile}`);
  const preshared = [];
  presharedPairs(shape).forEach(([gateway, client], index) => {
    if (index % presharedEvery !== 0) return;
    const [a, b] = [gateway, client].sort();
    preshared.push(
      `P ${a} ${b} ${hostKeyOf(keys, a).file} ${hostKeyOf(keys, b).file} ${keys.adminFile}`,
    );
  });
  return { keypairs, preshared };
}
