import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { PID_MARKER_PREFIX, PidMarkerFilter } from "./pid-marker.js";

function filterAll(chunks: (string | Buffer)[]): { out: string; pid: number | undefined } {
  const filter = new PidMarkerFilter();
  const parts = chunks.map((c) => filter.push(Buffer.isBuffer(c) ? c : Buffer.from(c)));
  parts.push(filter.flush());
  return { out: Buffer.concat(parts).toString(), pid: filter.pid };
}

describe("PidMarkerFilter", () => {
  it("takes the pid line off the front, split across chunks or not", () => {
    expect(filterAll(["\x1ehive-pid:1234\nwarning\n"])).toEqual({ out: "warning\n", pid: 1234 });
    expect(filterAll(["\x1ehive", "-pid:12", "34", "\nwar", "ning\n"])).toEqual({ out: "warning\n", pid: 1234 });
  });

  it("finds the pid line after what a shell rc file printed", () => {
    expect(filterAll(["bashrc says hi\n", "\x1ehive-pid:77\nwarning\n"])).toEqual({ out: "bashrc says hi\nwarning\n", pid: 77 });
    expect(filterAll(["hi\n\x1e", "hive-pid:7", "7\nrest"])).toEqual({ out: "hi\nrest", pid: 77 });
  });

  it("removes only the first pid line, and passes malformed ones through", () => {
    expect(filterAll(["\x1ehive-pid:1\n\x1ehive-pid:2\n"])).toEqual({ out: "\x1ehive-pid:2\n", pid: 1 });
    expect(filterAll(["\x1ehive-pid:abc\n"])).toEqual({ out: "\x1ehive-pid:abc\n", pid: undefined });
    expect(filterAll(["\x1ehive"])).toEqual({ out: "\x1ehive", pid: undefined });
    expect(filterAll(["plain ", "stderr\x1e", "x\n"])).toEqual({ out: "plain stderr\x1ex\n", pid: undefined });
  });

  it("reads the pid a POSIX shell prints for the prefix", () => {
    const result = spawnSync("/bin/sh", ["-c", `${PID_MARKER_PREFIX}echo done >&2`], { encoding: "buffer" });
    const { out, pid } = filterAll([result.stderr]);
    expect(out).toBe("done\n");
    expect(pid).toBeGreaterThan(1);
  });
});
