// The X25519 floor of keygen, and in-process diagnostics that say where wgqt's
// time goes. Both run inside the bench process, in the same run as the CLI
// measurements, so the ratios compare like with like.
//
// The X25519 operations keygen cannot avoid:
// - a keypair: 1, the public key (X25519(private, 9)). A preshared key: 0 (random bytes).
// - each stanza of each encrypted file (age-encryption.org/v1):
//   - X25519 recipient (the admin): 2, the ephemeral share X25519(e, 9) and the
//     shared secret X25519(e, recipient).
//   - ssh-ed25519 recipient (agessh): written as 3, the share X25519(e, 9), the
//     shared secret s = X25519(e, P) and the tweak X25519(t, s), t = HKDF of
//     the SSH key. X25519 multiplies the point by the clamped scalar, and scalar
//     multiplications commute, so X25519(t, X25519(e, P)) = X25519(e, X25519(t, P)):
//     with Q = X25519(t, P) computed once per host key, each stanza needs 2
//     (share, X25519(e, Q)) and the bytes are identical to agessh's.
// So floor = keypairs + 2 × stanzas + one Q per host key (n: in a real fleet
// every host has its own key), times one X25519 operation in node:crypto
// (OpenSSL), measured as crypto.diffieHellman() on ready KeyObjects, on one
// core. Key object creation, RNG, HKDF, ChaCha20-Poly1305, HMAC, base64 and
// file writes are not in it: it is what the arithmetic alone costs. The
// agessh-as-written count (3 per ssh-ed25519 stanza) is reported as well.
import { diffieHellman, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { median } from "./measure.mjs";

export function floorOps(shape) {
  const stanzas = shape.sshStanzas + shape.x25519Stanzas;
  return {
    minimal: shape.keypairs + 2 * stanzas + shape.n,
    agessh: shape.keypairs + 3 * shape.sshStanzas + 2 * shape.x25519Stanzas,
  };
}

/** Median time per call of `fn` over `batches` batches of `iterations` calls, in ms. */
function perCall(fn, iterations, batches) {
  for (let i = 0; i < Math.min(iterations, 200); i++) fn(); // warm up (JIT, OpenSSL tables)
  const times = [];
  for (let b = 0; b < batches; b++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6 / iterations);
  }
  return median(times);
}

async function perCallAsync(fn, iterations, batches) {
  for (let i = 0; i < Math.min(iterations, 20); i++) await fn();
  const times = [];
  for (let b = 0; b < batches; b++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6 / iterations);
  }
  return median(times);
}

/** One X25519 operation with node:crypto, in ms. */
export function x25519NodeOp({ iterations = 2000, batches = 7 } = {}) {
  const ours = generateKeyPairSync("x25519");
  const theirs = generateKeyPairSync("x25519");
  const options = { privateKey: ours.privateKey, publicKey: theirs.publicKey };
  return perCall(() => diffieHellman(options), iterations, batches);
}

/**
 * Where wgqt's keygen time goes, measured in process against wgqt's own
 * modules in dist/ (internal paths: a missing one makes that line "n/a").
 * `keys` are the bench's host keys and admin; files are written under `workDir`.
 */
export async function diagnostics(root, keys, workDir, { quick = false } = {}) {
  const out = {};
  const scale = quick ? 0.3 : 1;
  const iterations = (n) => Math.max(5, Math.round(n * scale));
  try {
    const { x25519 } = await import("@noble/curves/ed25519.js");
    const a = x25519.utils.randomSecretKey();
    const b = x25519.getPublicKey(x25519.utils.randomSecretKey());
    out.nobleX25519Ms = perCall(() => x25519.getSharedSecret(a, b), iterations(300), 5);
  } catch (error) {
    out.nobleX25519Ms = null;
    out.nobleError = String(error);
  }
  const dist = (path) => import(new URL(`../dist/${path}`, `file://${root}/`).href);
  const recipients = [keys.host[0].recipient, keys.host[1].recipient, keys.admin];
  const plaintext = new TextEncoder().encode(`${"A".repeat(43)}=\n`);
  try {
    const { parseRecipient } = await dist("age/recipients.js");
    const { encryptTo } = await dist("age/crypt.js");
    out.parseRecipientsMs = perCall(() => recipients.map(parseRecipient), iterations(200), 5);
    const parsed = recipients.map(parseRecipient);
    out.encryptPresharedMs = await perCallAsync(
      () => encryptTo(plaintext, parsed),
      iterations(100),
      5,
    );
    // What writeSecret does per preshared key file: parse the recipients, encrypt.
    out.parseAndEncryptPresharedMs = await perCallAsync(
      () => encryptTo(plaintext, recipients.map(parseRecipient)),
      iterations(100),
      5,
    );
  } catch (error) {
    out.encryptError = String(error);
  }
  try {
    // How the transaction writes a keygen's files: all at once, then one flush.
    const { makeDurable, replaceFiles } = await dist("store/files.js");
    const count = Math.round(2000 * scale);
    const times = [];
    for (let run = 0; run < 3; run++) {
      const dir = mkdtempSync(join(workDir, "batch-"));
      const files = Array.from({ length: count }, (_, i) => ({
        path: join(dir, `f${i}.age`),
        data: new Uint8Array(300),
        mode: 0o644,
      }));
      const start = process.hrtime.bigint();
      replaceFiles(files);
      await makeDurable(files.map(({ path }) => path));
      times.push(Number(process.hrtime.bigint() - start) / 1e6 / count);
      // Left for the scratch directory's clean-up: deleting files now would
      // make the file system slower at creating the next ones (run.mjs, discard).
    }
    out.batchWritePerFileMs = median(times);
  } catch (error) {
    out.writeError = String(error);
  }
  try {
    // What this machine's file system charges for creating a file: render
    // --out creates one per host, keygen one per key.
    const dir = mkdtempSync(join(workDir, "create-"));
    const content = "x".repeat(3500);
    const count = 1000;
    const before = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let i = 0; i < count; i++) writeFileSync(join(dir, `f${i}.nix`), content);
    out.createFileMs = Number(process.hrtime.bigint() - start) / 1e6 / count;
    out.createFileKernelMs = process.cpuUsage(before).system / 1000 / count;
  } catch (error) {
    out.createError = String(error);
  }
  return out;
}
