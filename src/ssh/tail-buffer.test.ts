import { describe, expect, it } from "vitest";
import { TailBuffer } from "./tail-buffer.js";

describe("TailBuffer", () => {
  it("keeps everything under the limit", () => {
    const buffer = new TailBuffer(10);
    buffer.push(Buffer.from("abc"));
    buffer.push(Buffer.from("def"));
    expect(buffer.toString()).toBe("abcdef");
    expect(buffer.dropped).toBe(0);
  });

  it("keeps the last bytes when over the limit", () => {
    const buffer = new TailBuffer(5);
    for (const s of ["abc", "defg", "hi"]) buffer.push(Buffer.from(s));
    expect(buffer.toString()).toBe("efghi");
    expect(buffer.dropped).toBe(4);
  });

  it("drops a multi-byte character cut in half at the front", () => {
    const buffer = new TailBuffer(4);
    buffer.push(Buffer.from("x✓ab")); // ✓ is 3 bytes; the last 4 bytes are 2 of its bytes, then "ab"
    expect(buffer.toString()).toBe("ab");
  });
});
