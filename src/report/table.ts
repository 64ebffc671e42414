// Plain, borderless tables for results on stdout, fitted to the terminal's width.
// Hand-written rather than cli-table3: that took ~180 ms for 1000 rows, half of `hive nodes`.
//
// Fitting, when a width is given (a terminal; never for --wide or output that is not a terminal):
// first the columns that may be shortened are cut with an ellipsis down to their minimum, widest
// first; when that is not enough, columns are dropped in the order each table states (then the
// shortened ones get their room back); as a last resort the last column is cut. Every cell is one
// line: a cell with a line break keeps its first line and an ellipsis.
import { stripVTControlCharacters } from "node:util";

export interface Column {
  header: string;
  /** When the table is too wide, columns are dropped lowest `drop` first; undefined: never dropped. */
  drop?: number;
  /** May be cut (with an ellipsis) down to this width before any column is dropped. */
  min?: number;
}

const GAP = 2;
const ELLIPSIS = "…";

export function renderTable(columns: readonly (string | Column)[], rows: (string | number)[][], style: (s: string) => string = (s) => s, width: number | null = null): string {
  const specs: Column[] = columns.map((c) => (typeof c === "string" ? { header: c } : c));
  const cells = rows.map((row) => specs.map((_, i) => oneLine(String(row[i] ?? ""))));
  const natural = specs.map((spec, i) => Math.max(visibleWidth(spec.header), ...cells.map((row) => visibleWidth(row[i]!))));
  const { shown, widths } = fitColumns(specs, natural, width);
  const lines = [specs.map((s) => s.header), ...cells].map((row, index) =>
    shown
      .map((column, position) => {
        const cell = cut(row[column]!, widths[column]!);
        const text = index === 0 ? style(cell) : cell;
        return position === shown.length - 1 ? text : text + " ".repeat(Math.max(0, widths[column]! - visibleWidth(cell)) + GAP);
      })
      .join("")
      .trimEnd(),
  );
  return lines.join("\n");
}

/** Which columns are shown (in order) and how wide each is, for a table of at most `width` columns. */
export function fitColumns(specs: readonly Column[], natural: readonly number[], width: number | null): { shown: number[]; widths: number[] } {
  let shown = specs.map((_, i) => i);
  const widths = [...natural];
  if (width === null) return { shown, widths };
  const total = () => shown.reduce((sum, i) => sum + widths[i]!, 0) + GAP * Math.max(0, shown.length - 1);
  const shrinkable = () => shown.filter((i) => specs[i]!.min !== undefined && widths[i]! > specs[i]!.min!);
  for (;;) {
    for (const i of shown) widths[i] = natural[i]!;
    const slack = shown.reduce((sum, i) => sum + (specs[i]!.min === undefined ? 0 : Math.max(0, natural[i]! - specs[i]!.min!)), 0);
    const droppable = shown.filter((i) => specs[i]!.drop !== undefined).sort((a, b) => specs[a]!.drop! - specs[b]!.drop!);
    if (total() - slack <= width || droppable.length === 0) break;
    shown = shown.filter((i) => i !== droppable[0]);
  }
  // Shorten the widest shortenable column, one character at a time, until the table fits.
  while (total() > width) {
    const candidates = shrinkable();
    if (candidates.length === 0) break;
    const widest = candidates.reduce((a, b) => (widths[b]! - specs[b]!.min! > widths[a]! - specs[a]!.min! ? b : a));
    widths[widest]! -= 1;
  }
  // Still too wide: the last column takes what is left.
  const last = shown.at(-1);
  if (last !== undefined && total() > width) widths[last] = Math.max(1, widths[last]! - (total() - width));
  return { shown, widths };
}

/** The text cut to `width` visible characters, ending in an ellipsis when cut (colour is dropped then). */
export function cut(text: string, width: number): string {
  if (visibleWidth(text) <= width) return text;
  const plain = stripVTControlCharacters(text);
  return width <= 1 ? ELLIPSIS.slice(0, width) : `${[...plain].slice(0, width - 1).join("")}${ELLIPSIS}`;
}

function oneLine(text: string): string {
  const end = text.indexOf("\n");
  return end === -1 ? text : `${text.slice(0, end).trimEnd()} ${ELLIPSIS}`;
}

export function visibleWidth(text: string): number {
  return [...stripVTControlCharacters(text)].length;
}
