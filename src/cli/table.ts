/**
 * Columns of plain text, as `wgqt status`, `machine list`, `plan` and the
 * keygen and rotate listings print them: each cell padded to the widest in
 * its column, two spaces between columns, nothing trailing.
 */
export function tableLines(rows: readonly (readonly string[])[]): string[] {
  const widths = columnWidths(rows);
  return rows.map((row) => tableLine(row, widths));
}

/**
 * Each column's width: its widest cell. Rows may come one at a time (a
 * generator), so that a table of many rows need not be held whole.
 */
export function columnWidths(rows: Iterable<readonly string[]>): number[] {
  // A loop, not Math.max(...column): a large fleet's plan has more rows than a call takes arguments.
  const widths: number[] = [];
  for (const row of rows) {
    for (let column = 0; column < row.length; column++) {
      const width = widths[column];
      const length = row[column]!.length;
      if (width === undefined || length > width) widths[column] = length;
    }
  }
  return widths;
}

/** One row of a table whose columns are `widths` wide ({@link columnWidths}). */
export function tableLine(row: readonly string[], widths: readonly number[]): string {
  if (row.length === 0) return "";
  // The last cell is not padded: its padding would be trimmed with the rest.
  const last = row.length - 1;
  let line = "";
  for (let column = 0; column < last; column++) line += `${row[column]!.padEnd(widths[column]!)}  `;
  return (line + row[last]).trimEnd();
}
