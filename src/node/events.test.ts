import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { appendEventScript, classifyEvent, eventWriterFunction, parseEvent, readEventsScript } from "./events.js";

const base = { at: "2026-01-01T00:00:00Z", result: "failed", system: "/nix/store/s", previous: "/nix/store/p", generation: null, previousGeneration: 3, error: { code: "E_PUSH", message: "it's \"full\"\nreally" }, deployment: null };

describe("the node's event log", () => {
  it("appends lines under sh that read back as events, last lines or all", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "hive-events-")), "hive");
    for (const at of ["2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z", "2026-01-01T00:00:03Z"]) execFileSync("sh", ["-c", appendEventScript({ ...base, at }, dir)]);
    const lines = readFileSync(join(dir, "events.jsonl"), "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    const read = (n: number | null) => execFileSync("sh", ["-c", readEventsScript(n, dir)], { encoding: "utf8" }).trimEnd().split("\n");
    expect(read(2).map((l) => parseEvent(l.slice("event=".length))?.at)).toEqual(["2026-01-01T00:00:02Z", "2026-01-01T00:00:03Z"]);
    expect(read(null)).toHaveLength(3);
    expect(parseEvent(read(1)[0]!.slice("event=".length))).toEqual({ ...base, at: "2026-01-01T00:00:03Z", kind: "failed" });
  });

  it("refuses a log or directory that is a symlink: nothing is written through it", () => {
    const root = mkdtempSync(join(tmpdir(), "hive-events-"));
    const elsewhere = join(root, "elsewhere");
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(root, "linked-dir"));
    const viaDir = spawnSync("sh", ["-c", appendEventScript(base, join(root, "linked-dir"))], { encoding: "utf8" });
    expect(viaDir.status).toBe(1);
    expect(viaDir.stderr).toContain("is a symlink or not root's");
    const dir = join(root, "hive");
    mkdirSync(dir);
    writeFileSync(join(elsewhere, "target"), "precious\n");
    symlinkSync(join(elsewhere, "target"), join(dir, "events.jsonl"));
    expect(spawnSync("sh", ["-c", appendEventScript(base, dir)]).status).toBe(1);
    expect(readFileSync(join(elsewhere, "target"), "utf8")).toBe("precious\n");
  });

  it("is valid sh as the supervisor embeds it", () => {
    expect(spawnSync("sh", ["-n", "-c", eventWriterFunction()]).status).toBe(0);
  });

  it("classifies supervisor results: deployed, rolled back, operator rollback, failed", () => {
    const record = (goal: string) => ({ goal }) as never;
    expect(classifyEvent({ result: "confirmed", error: null, deployment: record("switch") })).toBe("deployed");
    expect(classifyEvent({ result: "confirmed", error: { code: "E_HEALTH", message: "x; rollback is off" }, deployment: record("switch") })).toBe("failed");
    expect(classifyEvent({ result: "reverted-rejected", error: null, deployment: record("switch") })).toBe("rolled-back");
    expect(classifyEvent({ result: "reverted-unconfirmed", error: null, deployment: null })).toBe("rolled-back");
    expect(classifyEvent({ result: "confirmed", error: null, deployment: record("rollback") })).toBe("rollback");
    // hive returning the node itself (no supervisor waiting) says why.
    expect(classifyEvent({ result: "activated", error: { code: "E_HEALTH", message: "x" }, deployment: record("rollback") })).toBe("rolled-back");
    expect(classifyEvent({ result: "profile-failed", error: null, deployment: null })).toBe("failed");
    expect(parseEvent("not json")).toBeNull();
    expect(parseEvent('{"at":1}')).toBeNull();
  });
});
