/**
 * Columns of plain text: each cell padded to its column's widest, two spaces
 * between columns, nothing trailing, whether the rows come as an array or
 * one at a time.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { columnWidths, tableLine, tableLines } from "../../src/cli/table.js";

/** The rule, written as plainly as it reads. */
function plainLines(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, column) => {
      widths[column] = Math.max(widths[column] ?? 0, cell.length);
    });
  return rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join("  ")
      .trimEnd(),
  );
}

describe("tableLines", () => {
  it("pads each column to its widest cell, with nothing trailing", () => {
    expect(
      tableLines([
        ["NETWORK", "ID", "MEMBER"],
        ["germany", "0", "nyaa"],
        ["", "", "tavern"],
        ["finland", "12", ""],
      ]),
    ).toEqual(["NETWORK  ID  MEMBER", "germany  0   nyaa", "             tavern", "finland  12"]);
  });

  it("is the rule for any rows: short, empty, cells with spaces", () => {
    const cell = fc.oneof(fc.constant(""), fc.constant(" "), fc.string({ maxLength: 6 }));
    fc.assert(
      fc.property(fc.array(fc.array(cell, { maxLength: 5 }), { maxLength: 6 }), (rows) => {
        expect(tableLines(rows)).toEqual(plainLines(rows));
      }),
    );
  });

  it("takes its widths from rows that come one at a time", () => {
    const rows = [
      ["a", "bb"],
      ["ccc", "d"],
    ];
    function* oneByOne() {
      yield* rows;
    }
    const widths = columnWidths(oneByOne());
    expect(widths).toEqual([3, 2]);
    expect(rows.map((row) => tableLine(row, widths))).toEqual(tableLines(rows));
  });
});
