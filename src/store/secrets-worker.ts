/**
 * A worker thread of secrets.ts: makes and encrypts the secrets of each batch
 * it is sent and answers with ciphertext and public keys only. Recipients are
 * parsed once per worker (parseRecipient remembers them), as in the main
 * thread.
 */

import { parentPort } from "node:worker_threads";
import { makeSecret, type WorkerRequest, type WorkerResponse } from "./secrets.js";

const port = parentPort;
if (port === null) throw new Error("secrets-worker.js runs as a worker thread");

port.on("message", ({ id, jobs }: WorkerRequest) => {
  let response: WorkerResponse;
  try {
    response = { id, results: jobs.map((job) => makeSecret(job)) };
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    response = {
      id,
      error: { name: error instanceof Error ? error.constructor.name : name, message },
    };
  }
  port.postMessage(response);
});
