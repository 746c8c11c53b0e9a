// Placeholder until the command lands; replaced by its implementation.
import { WgqtError } from "../../errors.js";

export async function verifyCommand(): Promise<number> {
  throw new WgqtError("verify: not available yet");
}
