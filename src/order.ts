/**
 * The one order of names, files and keys in wgqt's output: byte order
 * (docs/design.md "Input": sorted by byte order), so every host, platform and locale
 * sorts them the same and git diffs stay minimal. JavaScript compares strings
 * by UTF-16 code unit, which is byte order for the ASCII names wgqt allows.
 */
export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
