// Placeholder until the command lands; replaced by its implementation.
import { WgqtError } from "../../errors.js";

export async function renderCommand(): Promise<number> {
  throw new WgqtError("render: not available yet");
}
