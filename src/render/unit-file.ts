/**
 * The syntax of systemd's unit files, networkd's `.netdev` and `.network`
 * among them (systemd.syntax(7)): `[Section]` headers, `Key=value` lines,
 * `#` comments.
 */
import { commentLines } from "./common.js";

export type Section = [name: string, entries: [string, string | number][], comment?: string];

/** A unit file: the `header` as comments, then each section, an optional comment above it. */
export function ini(header: string[], sections: Section[]): string {
  let text = commentLines(header);
  for (const [name, entries, comment] of sections) {
    text += comment === undefined ? `\n\n[${name}]` : `\n\n# ${comment}\n[${name}]`;
    for (const [key, value] of entries) text += `\n${key}=${value}`;
  }
  return `${text}\n`;
}
