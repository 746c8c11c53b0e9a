// Placeholder until the command lands; replaced by its implementation.
import { WgqtError } from "../../errors.js";

export async function rotateCommand(): Promise<number> {
  throw new WgqtError("rotate: not available yet");
}
