/** What `status` and `verify` both start from: the fleet and a full inspection of its store. */
import { type Inspection, inspectStore } from "../store/inspect/read.js";
import { type Context, openContext } from "./context.js";
import type { CliIO } from "./io.js";
import type { GlobalOptions } from "./options.js";
import { startProgress } from "./progress.js";

/** Open the fleet and read every file of its store, with a progress bar for a large one. */
export async function openInspection(
  io: CliIO,
  global: GlobalOptions,
): Promise<Context & { inspection: Inspection }> {
  const context = await openContext(io, global);
  const { config, store } = context;
  const progress = await startProgress(io, "reading", store.encryptedFiles.size);
  const inspection = await inspectStore(config, store, (done) => progress.advance(done)).finally(
    () => progress.stop(),
  );
  return { ...context, inspection };
}
