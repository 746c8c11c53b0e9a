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
import type { Worker } from "node:worker_threads";
import { encryptToSync } from "../age/crypt.js";
import { handOffRecipients, parseRecipient, type RecipientHandoff } from "../age/recipients.js";
import { type ErrorCode, KeyError, StoreError } from "../errors.js";
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
export const BATCH_SIZE = 128;

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
  | { id: number; error: { name: string; message: string; code?: ErrorCode } };

/**
 * Make every job's secret, in order. `random` (tests) forces this thread, so
 * the keys are reproducible; otherwise batches large enough go to workers.
 */
export async function makeSecrets(
  jobs: readonly SecretJob[],
  options: SecretOptions = {},
): Promise<MadeSecret[]> {
  const pool = secretPool(jobs, options);
  try {
    return await pool.make(jobs);
  } finally {
    await pool.close();
  }
}

/**
 * Where secrets are made: this thread, or worker threads that take batches as
 * they come, so a caller can hand over some jobs while it prepares the next
 * (a rekey decrypts a batch while the workers re-encrypt the one before).
 */
export interface SecretPool {
  /** Make these jobs' secrets, in order. */
  make(jobs: readonly SecretJob[]): Promise<MadeSecret[]>;
  /** Stop the workers; call once every `make` has settled. */
  close(): Promise<void>;
}

/**
 * A pool for `planned`: the jobs it will be given, or as many with the same
 * recipients (their count decides whether workers are worth starting, and the
 * workers are handed their recipients).
 */
export function secretPool(
  planned: readonly { readonly recipients: readonly string[] }[],
  options: SecretOptions = {},
): SecretPool {
  const threads = workerThreads(planned.length, options);
  if (threads === 0) {
    return {
      make: async (jobs) => jobs.map((job) => makeSecret(job, options.random)),
      close: async () => {},
    };
  }
  return new WorkerPool(threads, planned, options.onProgress);
}

export interface SecretOptions {
  /** Reproducible keys (tests): everything in this thread. */
  random?: RandomSource;
  /** Called as workers finish batches, with how many secrets each held (a progress bar). */
  onProgress?: (done: number) => void;
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

/** Batches each worker holds at once: one to work on, one waiting, so it never idles on us. */
const IN_FLIGHT = 2;

interface Batch {
  jobs: SecretJob[];
  resolve(results: MadeSecret[]): void;
  reject(error: Error): void;
}

/** Worker threads fed from one queue of batches, each worker holding up to IN_FLIGHT. */
class WorkerPool implements SecretPool {
  readonly #workers: { worker: Worker; pending: Map<number, Batch>; started: boolean }[];
  readonly #queue: Batch[] = [];
  #planned: readonly { readonly recipients: readonly string[] }[] | undefined;
  #recipients: RecipientHandoff[] | undefined;
  #nextId = 0;
  #failed: Error | undefined;

  constructor(
    threads: number,
    planned: readonly { readonly recipients: readonly string[] }[],
    onProgress?: (done: number) => void,
  ) {
    this.#planned = planned;
    // Taken here: commands that make no keys never load worker_threads.
    const { Worker: WorkerThread } = process.getBuiltinModule("node:worker_threads");
    this.#workers = Array.from({ length: threads }, () => {
      const entry = {
        worker: new WorkerThread(workerScript),
        pending: new Map<number, Batch>(),
        started: false,
      };
      entry.worker.on("message", (response: WorkerResponse) => {
        const batch = entry.pending.get(response.id);
        if (batch === undefined) return;
        entry.pending.delete(response.id);
        if ("error" in response) {
          const { name, message, code } = response.error;
          this.#fail(
            name === "KeyError"
              ? new KeyError((code as KeyError["code"] | undefined) ?? "key/invalid", message)
              : new StoreError("store/io", `making keys: ${message}`),
          );
          batch.reject(this.#failed!);
        } else {
          batch.resolve(response.results);
          onProgress?.(response.results.length);
          this.#dispatch();
        }
      });
      entry.worker.on("error", (error: Error) =>
        this.#fail(new StoreError("store/io", `making keys: ${error.message}`)),
      );
      entry.worker.on("exit", (code: number) =>
        this.#fail(new StoreError("store/io", `making keys: worker stopped (exit code ${code})`)),
      );
      return entry;
    });
  }

  make(jobs: readonly SecretJob[]): Promise<MadeSecret[]> {
    const parts: Promise<MadeSecret[]>[] = [];
    for (let start = 0; start < jobs.length; start += BATCH_SIZE) {
      parts.push(
        new Promise((resolve, reject) => {
          if (this.#failed) reject(this.#failed);
          else this.#queue.push({ jobs: jobs.slice(start, start + BATCH_SIZE), resolve, reject });
        }),
      );
    }
    const made = Promise.all(parts).then((results) => results.flat());
    try {
      this.#dispatch();
    } catch (error) {
      // Preparing the recipients failed (a bad one): every batch fails with it.
      this.#fail(error instanceof Error ? error : new StoreError("store/io", String(error)));
    }
    return made;
  }

  async close(): Promise<void> {
    this.#fail(new StoreError("store/io", "making keys: stopped"));
    await Promise.all(this.#workers.map(({ worker }) => worker.terminate()));
  }

  /** Give each worker batches until it holds IN_FLIGHT of them. */
  #dispatch(): void {
    for (const entry of this.#workers) {
      while (entry.pending.size < IN_FLIGHT && this.#queue.length > 0 && !this.#failed) {
        const batch = this.#queue.shift()!;
        const id = this.#nextId++;
        const message: WorkerRequest = { id, jobs: batch.jobs };
        if (!entry.started) {
          // The workers started while this thread went on; the recipients are
          // parsed and converted here once, for all of them, on first use.
          this.#recipients ??= handOffRecipients(this.#planned!.flatMap((job) => job.recipients));
          this.#planned = undefined;
          message.recipients = this.#recipients;
          entry.started = true;
        }
        entry.pending.set(id, batch);
        entry.worker.postMessage(message);
      }
    }
  }

  /** The first failure ends the pool: every batch waiting or in a worker is refused with it. */
  #fail(error: Error): void {
    if (this.#failed) return;
    this.#failed = error;
    for (const batch of this.#queue.splice(0)) batch.reject(error);
    for (const { pending } of this.#workers) {
      for (const batch of pending.values()) batch.reject(error);
      pending.clear();
    }
  }
}
