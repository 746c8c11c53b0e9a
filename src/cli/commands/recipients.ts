/**
 * Reading recipients given on the command line or in files. Each is checked
 * here, so a bad one is blamed on the flag or the file line it came from,
 * not on the wgqt.toml it would have been written into.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseRecipient } from "../../age/recipients.js";
import { KeyError, UsageError, WgqtError } from "../../errors.js";

/** Check one recipient; a bad one fails with `where` (`--recipient`, `--recipient-file "x.pub": line 2`) in front. */
function checked(recipient: string, where: string): string {
  try {
    parseRecipient(recipient);
  } catch (error) {
    if (error instanceof WgqtError)
      throw new KeyError(
        error instanceof KeyError ? error.code : "key/invalid",
        `${where}: ${error.message}`,
      );
    throw error;
  }
  return recipient;
}

/** Recipients given as arguments (`--recipient`, `--admin`), each checked. */
export function checkRecipientArguments(recipients: string[], flag: string): string[] {
  return recipients.map((recipient) => checked(recipient, flag));
}

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
        "usage/unreadable",
        `${flag}: cannot read ${JSON.stringify(file)} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      );
    }
    const lines = text
      .split(/\r?\n/)
      .map((line, index) => ({ line: line.trim(), number: index + 1 }))
      .filter(({ line }) => line && !line.startsWith("#"));
    if (lines.length === 0)
      throw new UsageError(
        "usage/unreadable",
        `${flag}: ${JSON.stringify(file)} holds no recipient`,
      );
    for (const { line, number } of lines)
      recipients.push(checked(line, `${flag} ${JSON.stringify(file)}: line ${number}`));
  }
  return recipients;
}
