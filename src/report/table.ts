// Plain, borderless tables for results on stdout.
// Hand-written rather than cli-table3: that took ~180 ms for 1000 rows, half of `hive nodes`.
import { stripVTControlCharacters } from "node:util";

export function renderTable(head: string[], rows: (string | number)[][], style: (s: string) => string = (s) => s): string {
  const cells = [head, ...rows.map((row) => row.map(String))];
  const widths = head.map((_, column) => Math.max(...cells.map((row) => visibleWidth(row[column] ?? ""))));
  return cells
    .map((row, index) =>
      row
        .map((cell, column) => {
          const text = index === 0 ? style(cell) : cell;
          return column === row.length - 1 ? text : text + " ".repeat(widths[column]! - visibleWidth(cell) + 2);
        })
        .join("")
        .trimEnd(),
    )
    .join("\n");
}

function visibleWidth(text: string): number {
  return stripVTControlCharacters(text).length;
}
