/**
 * Making secrets: a WireGuard keypair or preshared key, encrypted to its
 * recipients at once, so the plaintext key exists only inside `makeSecret`;
 * and re-encrypting a key a rekey decrypted.
 *
 * Keygen for a fleet makes thousands of them, and each costs a few hundred
 * microseconds of X25519 and ChaCha20 work, so `makeSecrets` spreads large
 * batches over worker threads (one per CPU; see secrets-worker.ts). A worker
 * makes new keys itself and returns only ciphertext and public keys: new
 * secrets never cross threads. A rekey's keys were decrypted in this thread
 * and are sent, in memory, to the worker that re-encrypts them. Small batches
 * (a rotation of one machine, a test) stay in this thread, where starting
 * workers would cost more than it saves.
 */

import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { encryptToSync } from "../age/crypt.js";
import { handOffRecipients, parseRecipient, type RecipientHandoff } from "../age/recipients.js";
import { KeyError, StoreError } from "../errors.js";
import {
  generateKeyPair,
  generatePresharedKey,
  keyFileContent,
  type RandomSource,
  secureRandom,
} from "../keys/wireguard.js";

export type SecretJob =
  | {
      /** A new keypair (the private half is encrypted) or preshared key. */
      kind: "keypair" | "preshared-key";
      /** Recipient strings as wgqt.toml holds them (already validated). */
      recipients: readonly string[];
    }
  | {
      /** An existing key (base64), encrypted again (rekey). */
      kind: "re-encrypt";
      key: string;
      recipients: readonly string[];
    };

export interface MadeSecret {
  ciphertext: Uint8Array;
  /** For a keypair: its public key, base64. */
  publicKey?: string;
}

/** Make (or take) one secret and encrypt it; the plaintext goes out of scope here. */
export function makeSecret(job: SecretJob, random: RandomSource = secureRandom): MadeSecret {
  const recipients = job.recipients.map((recipient) => parseRecipient(recipient));
  if (job.kind === "keypair") {
    const keys = generateKeyPair(random);
    return {
      ciphertext: encryptToSync(keyFileContent(keys.privateKey), recipients),
      publicKey: keys.publicKey,
    };
  }
  const key = job.kind === "re-encrypt" ? job.key : generatePresharedKey(random);
  return { ciphertext: encryptToSync(keyFileContent(key), recipients) };
}

/** Below this many secrets, workers cost more to start than they save. */
const WORKER_THRESHOLD = 256;
/** Secrets per message to a worker: big enough to amortize messaging, small enough to balance. */
const BATCH_SIZE = 128;

/** The compiled worker script; absent when running from TypeScript sources (tests). */
const workerScript = fileURLToPath(new URL("./secrets-worker.js", import.meta.url));

/** What a worker is sent, and what it answers. */
export interface WorkerRequest {
  id: number;
  jobs: SecretJob[];
  /** With a worker's first batch: the jobs' recipients, parsed and converted in this thread. */
  recipients?: RecipientHandoff[];
}
export type WorkerResponse =
  | { id: number; results: MadeSecret[] }
  | { id: number; error: { name: string; message: string } };

/**
 * Make every job's secret, in order. `random` (tests) forces this thread, so
 * the keys are reproducible; otherwise batches large enough go to workers.
 */
export async function makeSecrets(
  jobs: readonly SecretJob[],
  options: SecretOptions = {},
): Promise<MadeSecret[]> {
  const threads = workerThreads(jobs.length, options);
  if (threads === 0) return jobs.map((job) => makeSecret(job, options.random));
  return inWorkers(jobs, threads);
}

export interface SecretOptions {
  /** Reproducible keys (tests): everything in this thread. */
  random?: RandomSource;
  /** At most this many workers (default: one per CPU). */
  threads?: number;
}

/** How many workers `makeSecrets` starts for `count` secrets; 0: none, this thread does it. */
export function workerThreads(count: number, options: SecretOptions = {}): number {
  const threads = Math.min(
    options.threads ?? availableParallelism(),
    Math.ceil(count / BATCH_SIZE),
  );
  const useful = options.random === undefined && count >= WORKER_THRESHOLD && threads >= 2;
  return useful && existsSync(workerScript) ? threads : 0;
}

async function inWorkers(jobs: readonly SecretJob[], threads: number): Promise<MadeSecret[]> {
  const results = new Array<MadeSecret>(jobs.length);
  const batches: number[] = [];
  for (let start = 0; start < jobs.length; start += BATCH_SIZE) batches.push(start);
  let next = 0;
  // The workers start up while this thread prepares the recipients for them,
  // once, instead of each worker decoding and converting every host key.
  const workers = Array.from({ length: threads }, () => new Worker(workerScript));
  try {
    const recipients = handOffRecipients(jobs.flatMap((job) => job.recipients));
    await Promise.all(
      workers.map(async (worker) => {
        let first = true;
        while (next < batches.length) {
          const start = batches[next++]!;
          const batch = jobs.slice(start, start + BATCH_SIZE);
          const message: WorkerRequest = { id: start, jobs: batch };
          if (first) message.recipients = recipients;
          first = false;
          const made = await request(worker, message);
          for (const [offset, secret] of made.entries()) results[start + offset] = secret;
        }
      }),
    );
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
  return results;
}

function request(worker: Worker, message: WorkerRequest): Promise<MadeSecret[]> {
  return new Promise((resolve, reject) => {
    const cleanUp = () => {
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
    };
    const onMessage = (response: WorkerResponse) => {
      if (response.id !== message.id) return;
      cleanUp();
      if ("error" in response) {
        const { name, message: text } = response.error;
        reject(name === "KeyError" ? new KeyError(text) : new StoreError(`making keys: ${text}`));
      } else resolve(response.results);
    };
    const onError = (error: Error) => {
      cleanUp();
      reject(new StoreError(`making keys: ${error.message}`));
    };
    const onExit = (code: number) => {
      cleanUp();
      reject(new StoreError(`making keys: worker stopped (exit code ${code})`));
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
    worker.postMessage(message);
  });
}
