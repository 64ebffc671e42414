// Plain, borderless tables for results on stdout.
import Table from "cli-table3";

export function renderTable(head: string[], rows: (string | number)[][], style: (s: string) => string = (s) => s): string {
  const table = new Table({
    head: head.map(style),
    chars: {
      top: "", "top-mid": "", "top-left": "", "top-right": "",
      bottom: "", "bottom-mid": "", "bottom-left": "", "bottom-right": "",
      left: "", "left-mid": "", mid: "", "mid-mid": "",
      right: "", "right-mid": "", middle: "  ",
    },
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0 },
  });
  for (const row of rows) table.push(row.map(String));
  // cli-table3 pads the last column too; trailing spaces only get in the way of grep and diff.
  return table.toString().split("\n").map((line) => line.trimEnd()).join("\n");
}
