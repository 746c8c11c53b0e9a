// Placeholder until the command lands; replaced by its implementation.
import { WgqtError } from "../../errors.js";

export async function statusCommand(): Promise<number> {
  throw new WgqtError("status: not available yet");
}
