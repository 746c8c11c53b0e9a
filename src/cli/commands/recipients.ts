/** Reading recipients given on the command line or in files. */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { UsageError } from "../../errors.js";

/**
 * Recipients from files like `age -R` reads them: one per line, `#` comments
 * and blank lines ignored (an SSH `.pub` file is one such line).
 */
export async function readRecipientFiles(
  files: string[],
  cwd: string,
  flag: string,
): Promise<string[]> {
  const recipients: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(resolve(cwd, file), "utf8");
    } catch (error) {
      throw new UsageError(
        `${flag}: cannot read ${JSON.stringify(file)} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      );
    }
    const lines = text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith("#"));
    if (lines.length === 0)
      throw new UsageError(`${flag}: ${JSON.stringify(file)} holds no recipient`);
    recipients.push(...lines);
  }
  return recipients;
}
