import { Chalk } from "chalk";
import { describe, expect, it } from "vitest";
import type { HiveEvent } from "../events.js";
import type { ExecNodeResult, ExecReport } from "../fleet/exec.js";
import { createExecStreamRenderer, renderExecGroups, summarizeExec } from "./render-exec.js";

const plain = new Chalk({ level: 0 });

function result(name: string, over: Partial<ExecNodeResult> = {}): ExecNodeResult {
  return { name, result: "succeeded", outcome: "exited", exitCode: 0, signal: null, stdout: "", stderr: "", durationMs: 1, error: null, ...over };
}

function finished(r: ExecNodeResult): HiveEvent {
  return { code: "exec.finished", node: r.name, result: r.result, outcome: r.outcome, exitCode: r.exitCode, error: r.error, durationMs: r.durationMs };
}

describe("createExecStreamRenderer", () => {
  it("prints whole lines as they complete, aligned, stderr marked, partial lines at the end", () => {
    const out: string[] = [];
    const err: string[] = [];
    const renderer = createExecStreamRenderer({ out: (l) => out.push(l), err: (l) => err.push(l), color: plain, errColor: plain, nodeNames: ["a", "web-10"] });
    const emit = renderer.onEvent;
    emit({ code: "exec.started", node: "a" });
    emit({ code: "exec.started", node: "web-10" });
    emit({ code: "exec.output", node: "a", stream: "stdout", chunk: Buffer.from("one\ntw") });
    emit({ code: "exec.output", node: "web-10", stream: "stderr", chunk: Buffer.from("oops\n") });
    expect(out).toEqual(["a      | one"]);
    emit({ code: "exec.output", node: "a", stream: "stdout", chunk: Buffer.from("o\nthree") });
    emit(finished(result("a")));
    emit(finished(result("web-10", { result: "failed", exitCode: 2 })));
    expect(out).toEqual(["a      | one", "a      | two", "a      | three"]);
    expect(err).toEqual(["web-10 ! oops", "web-10 ! [exit 2]"]);
  });

  it("keeps a multi-byte character split across chunks whole", () => {
    const out: string[] = [];
    const renderer = createExecStreamRenderer({ out: (l) => out.push(l), err: () => {}, color: plain, errColor: plain, nodeNames: ["a"] });
    const bytes = Buffer.from("é€\n");
    renderer.onEvent({ code: "exec.output", node: "a", stream: "stdout", chunk: bytes.subarray(0, 1) });
    renderer.onEvent({ code: "exec.output", node: "a", stream: "stdout", chunk: bytes.subarray(1) });
    expect(out).toEqual(["a | é€"]);
  });
});

describe("renderExecGroups", () => {
  it("prints each result once under its folded node list and count", () => {
    const text = renderExecGroups(
      [result("n1", { stdout: "same\n" }), result("n2", { stdout: "same\n" }), result("n3", { result: "failed", exitCode: 1, stderr: "bad\n" }), result("n4", { stdout: "same\n" })],
      plain,
    );
    expect(text).toBe(["----------------", "n[1-2,4] (3)", "----------------", "same", "----------------", "n3 (1): exit 1", "----------------", "! bad"].join("\n"));
  });
});

describe("summarizeExec", () => {
  it("counts each kind of outcome and names the nodes that did not exit 0", () => {
    const report: ExecReport = {
      interrupted: false,
      nodes: [
        result("a"),
        result("b", { result: "failed", exitCode: 1 }),
        result("c", { result: "failed", outcome: "unreachable", exitCode: null }),
        result("d", { result: "failed", outcome: "timed-out", exitCode: null }),
      ],
    };
    expect(summarizeExec(report, 1234, plain)).toBe("4 nodes in 1.2s: 1 exit 0, 1 exit non-zero (b), 1 unreachable (c), 1 timed out (d)");
  });
});
