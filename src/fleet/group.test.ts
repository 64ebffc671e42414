import { describe, expect, it } from "vitest";
import type { ExecNodeResult } from "./exec.js";
import { describeStatus, foldNodeNames, groupExecResults } from "./group.js";

function result(name: string, over: Partial<ExecNodeResult> = {}): ExecNodeResult {
  return { name, result: "succeeded", outcome: "exited", exitCode: 0, signal: null, stdout: "", stderr: "", durationMs: 1, error: null, ...over };
}

describe("groupExecResults", () => {
  it("gathers nodes with the same stdout, stderr and exit code, in order of their first node", () => {
    const groups = groupExecResults([
      result("a", { stdout: "x\n" }),
      result("b", { stdout: "y\n" }),
      result("c", { stdout: "x\n" }),
      result("d", { stdout: "x\n", exitCode: 1, result: "failed" }),
      result("e", { stdout: "x\n", stderr: "warn\n" }),
    ]);
    expect(groups.map((g) => [g.nodes, g.status])).toEqual([
      [["a", "c"], ""],
      [["b"], ""],
      [["d"], "exit 1"],
      [["e"], ""],
    ]);
  });

  it("groups unreachable nodes by the reason, not by their own address", () => {
    const unreachable = (name: string, address: string, reason: string) =>
      result(name, { result: "failed", outcome: "unreachable", exitCode: null, error: { code: "E_SSH_CONNECT", message: `${name} (${address}:22): cannot connect: ${reason}` } });
    const groups = groupExecResults([
      unreachable("a", "10.0.0.1", "connection refused"),
      unreachable("b", "10.0.0.2", "connection refused"),
      unreachable("c", "10.0.0.3", "host unreachable"),
    ]);
    expect(groups.map((g) => [g.nodes, g.status])).toEqual([
      [["a", "b"], "unreachable: cannot connect: connection refused"],
      [["c"], "unreachable: cannot connect: host unreachable"],
    ]);
  });

  it("keeps timeouts apart from exits", () => {
    const timedOut = result("t", { result: "failed", outcome: "timed-out", exitCode: null, error: { code: "E_TIMEOUT", message: "timed out after 1s; the command was killed" } });
    expect(describeStatus(timedOut)).toBe("timed out after 1s; the command was killed");
    expect(groupExecResults([timedOut, result("u")])).toHaveLength(2);
  });
});

describe("foldNodeNames", () => {
  it("folds runs of numbered names into ranges, keeping first-seen order", () => {
    expect(foldNodeNames(["web-1", "web-2", "web-3", "db-7", "web-5", "gw"])).toBe("web-[1-3,5], db-7, gw");
    expect(foldNodeNames(["n10", "n9", "n11"])).toBe("n[9-11]");
    expect(foldNodeNames(["rack1-a", "rack2-a", "rack1-b"])).toBe("rack[1-2]-a, rack1-b");
    expect(foldNodeNames(["web-01", "web-02"])).toBe("web-0[1-2]");
    expect(foldNodeNames([])).toBe("");
  });
});
