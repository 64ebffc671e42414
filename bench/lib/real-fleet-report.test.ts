// Reading the memory budget the real-fleet benchmark compares hive's evaluators with.
import { describe, expect, it } from "vitest";
import { parseSize } from "./real-fleet-report.js";

describe("parseSize", () => {
  it("reads binary units with or without a B", () => {
    expect(parseSize("2G")).toBe(2 * 2 ** 30);
    expect(parseSize("2GiB")).toBe(2 * 2 ** 30);
    expect(parseSize("1536M")).toBe(1536 * 2 ** 20);
    expect(parseSize("512mb")).toBe(512 * 2 ** 20);
    expect(parseSize("1.5G")).toBe(1.5 * 2 ** 30);
    expect(parseSize("4096")).toBe(4096);
  });

  it("gives null for what it cannot read", () => {
    expect(parseSize("lots")).toBeNull();
    expect(parseSize("2 PB")).toBeNull();
    expect(parseSize("")).toBeNull();
  });
});
