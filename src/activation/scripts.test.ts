import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generationOfLink, parseFailedUnits, parseNodeState, stateProbeScript } from "./scripts.js";

describe("node state", () => {
  it("parses the probe's output", () => {
    expect(parseNodeState("current=/nix/store/a-sys\nprofile=/nix/store/a-sys\nlink=system-12-link\nbooted=\n")).toEqual({
      current: "/nix/store/a-sys",
      profile: "/nix/store/a-sys",
      generation: 12,
      booted: null,
    });
    expect(parseNodeState("current=\nprofile=\nlink=\nbooted=\n")).toEqual({ current: null, profile: null, generation: null, booted: null });
  });

  it("reads generation numbers from profile links", () => {
    expect(generationOfLink("system-1-link")).toBe(1);
    expect(generationOfLink("/nix/var/nix/profiles/my-profile-307-link")).toBe(307);
    expect(generationOfLink("something")).toBeNull();
  });

  it("probe script resolves the profile and its generation, with two readlink processes", () => {
    const dir = mkdtempSync(join(tmpdir(), "hive-probe-"));
    mkdirSync(join(dir, "system-a"));
    symlinkSync(join(dir, "system-a"), join(dir, "system-3-link"));
    symlinkSync("system-3-link", join(dir, "system"));
    const script = stateProbeScript(join(dir, "system"));
    expect(script.match(/readlink/g)).toHaveLength(2);
    const state = parseNodeState(execFileSync("sh", ["-c", script], { encoding: "utf8" }));
    expect(state).toMatchObject({ profile: join(dir, "system-a"), generation: 3 });
    rmSync(dir, { recursive: true });
  });

  it("probe script runs under sh and quotes the profile", () => {
    const out = execFileSync("sh", ["-c", stateProbeScript("/nonexistent/it's a profile")], { encoding: "utf8" });
    expect(parseNodeState(out)).toMatchObject({ profile: null, generation: null });
  });
});

it("parses the units NixOS names on exit code 4", () => {
  expect(parseFailedUnits("warning: the following units failed: a.service, b.mount\n")).toEqual(["a.service", "b.mount"]);
  expect(parseFailedUnits("nothing")).toEqual([]);
});
