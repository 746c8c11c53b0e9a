// Placeholder until the command lands; replaced by its implementation.
import { WgqtError } from "../../errors.js";

export async function planCommand(): Promise<number> {
  throw new WgqtError("plan: not available yet");
}
