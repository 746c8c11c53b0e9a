// Placeholder until the command lands; replaced by its implementation.
import { WgqtError } from "../../errors.js";

export async function rekeyCommand(): Promise<number> {
  throw new WgqtError("rekey: not available yet");
}
