/**
 * Columns of plain text, as `wgqt status`, `machine list`, `plan` and the
 * keygen and rotate listings print them: each cell padded to the widest in
 * its column, two spaces between columns, nothing trailing.
 */
export function tableLines(rows: readonly (readonly string[])[]): string[] {
  // A loop, not Math.max(...column): a large fleet's plan has more rows than a call takes arguments.
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, column) => {
      widths[column] = Math.max(widths[column] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join("  ")
      .trimEnd(),
  );
}
