/**
 * A worker thread of secrets.ts: makes and encrypts the secrets of each batch
 * it is sent and answers with ciphertext and public keys only. Its first batch
 * brings the ssh-ed25519 recipients already parsed and converted by the main
 * thread (takeOverRecipients); any other recipient is parsed here, once
 * (parseRecipient remembers them).
 */

import { parentPort } from "node:worker_threads";
import { takeOverRecipients } from "../age/recipients.js";
import { WgqtError } from "../errors.js";
import { makeSecret, type WorkerRequest, type WorkerResponse } from "./secrets.js";

const port = parentPort;
if (port === null) throw new Error("secrets-worker.js runs as a worker thread");

port.on("message", ({ id, jobs, recipients }: WorkerRequest) => {
  let response: WorkerResponse;
  try {
    if (recipients !== undefined) takeOverRecipients(recipients);
    response = { id, results: jobs.map((job) => makeSecret(job)) };
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    response = {
      id,
      error: {
        name: error instanceof Error ? error.constructor.name : name,
        message,
        ...(error instanceof WgqtError ? { code: error.code } : {}),
      },
    };
  }
  port.postMessage(response);
});
