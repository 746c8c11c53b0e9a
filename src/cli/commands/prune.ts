// Placeholder until the command lands; replaced by its implementation.
import { WgqtError } from "../../errors.js";

export async function pruneCommand(): Promise<number> {
  throw new WgqtError("prune: not available yet");
}
