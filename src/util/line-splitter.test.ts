import { describe, expect, it } from "vitest";
import { LineSplitter, cutMarker } from "./line-splitter.js";

function split(chunks: (string | Buffer)[], maxLine?: number): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter((line) => lines.push(line), maxLine);
  for (const chunk of chunks) splitter.push(chunk);
  splitter.end();
  return lines;
}

describe("LineSplitter", () => {
  it("joins lines across chunks, keeps empty lines, and passes on a last line without a newline", () => {
    expect(split(["a", "b\n\nc", "d\ne"])).toEqual(["ab", "", "cd", "e"]);
    expect(split(["x\n"])).toEqual(["x"]);
    expect(split([])).toEqual([]);
  });

  it("decodes a UTF-8 character split across chunks", () => {
    const bytes = Buffer.from("été ☃\n");
    expect(split([bytes.subarray(0, 1), bytes.subarray(1, 6), bytes.subarray(6)])).toEqual(["été ☃"]);
  });

  it("cuts a line at the limit with a marker, once, as soon as it is reached, and drops the rest up to its newline", () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line), 8);
    splitter.push("0123");
    splitter.push("45678");
    expect(lines).toEqual([`01234567${cutMarker(8)}`]);
    for (let i = 0; i < 10_000; i++) splitter.push("zzzzzzzzzz");
    splitter.push("zz\nnext\n");
    splitter.end();
    expect(lines).toEqual([`01234567${cutMarker(8)}`, "next"]);
    expect(split(["12345678\n"], 8)).toEqual(["12345678"]);
  });
});
