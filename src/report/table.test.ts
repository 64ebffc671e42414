import { describe, expect, it } from "vitest";
import { type Column, cut, fitColumns, renderTable, visibleWidth } from "./table.js";

const COLUMNS: Column[] = [{ header: "NODE" }, { header: "SSH", drop: 2 }, { header: "SYSTEM", drop: 1, min: 12 }, { header: "NOTES", min: 10 }];
const ROWS = [
  ["web-1", "12ms", "1xk3pq9a-nixos-system-web-1-2026-01-01", "rolled back because health check web failed: status 404"],
  ["db-1", "unreachable", "-", "E_SSH_CONNECT"],
];

describe("renderTable", () => {
  it("keeps every field without a width (not a terminal, or --wide)", () => {
    const text = renderTable(COLUMNS, ROWS);
    expect(text.split("\n")[1]).toBe("web-1  12ms         1xk3pq9a-nixos-system-web-1-2026-01-01  rolled back because health check web failed: status 404");
  });

  it("fits 80 and 120 columns: shortens first, then drops columns in the stated order, then cuts the last", () => {
    for (const width of [80, 120, 60, 30]) {
      for (const line of renderTable(COLUMNS, ROWS, (s) => s, width).split("\n")) expect(visibleWidth(line), `${width}: ${line}`).toBeLessThanOrEqual(width);
    }
    // 120: everything fits as it is.
    expect(renderTable(COLUMNS, ROWS, (s) => s, 120)).toBe(renderTable(COLUMNS, ROWS));
    // 80: SYSTEM and NOTES shortened, nothing dropped.
    const at80 = renderTable(COLUMNS, ROWS, (s) => s, 80).split("\n");
    expect(at80[0]).toMatch(/^NODE\s+SSH\s+SYSTEM\s+NOTES$/);
    expect(at80[1]).toContain("…");
    // 40: SYSTEM goes first, then SSH.
    expect(renderTable(COLUMNS, ROWS, (s) => s, 40).split("\n")[0]).toMatch(/^NODE\s+SSH\s+NOTES$/);
    expect(renderTable(COLUMNS, ROWS, (s) => s, 25).split("\n")[0]).toMatch(/^NODE\s+NOTES$/);
  });

  it("never puts a line break into a cell, and cuts coloured text by what is visible", () => {
    const text = renderTable(["A", "B"], [["x", "first line\nsecond line"]]);
    expect(text.split("\n")).toEqual(["A  B", "x  first line …"]);
    expect(cut("\u001b[31mhello world\u001b[39m", 6)).toBe("hello…");
    expect(cut("short", 6)).toBe("short");
  });

  it("gives shortened columns their room back once another column is dropped", () => {
    const fit = fitColumns([{ header: "A" }, { header: "B", drop: 1 }, { header: "C", min: 5 }], [10, 30, 30], 45);
    expect(fit.shown).toEqual([0, 2]);
    expect(fit.widths[2]).toBe(30);
  });
});
