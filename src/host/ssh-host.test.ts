import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { missingPathsScript, parseMissingPaths } from "./ssh-host.js";

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Adding a path needs a writable store: root on a single-user Nix (CI), or a daemon.
const canAdd = spawnSync("sh", ["-c", "command -v nix-store"]).status === 0 && process.getuid?.() === 0;

describe("missingPathsScript", () => {
  it("is valid sh", () => {
    for (const substitute of [true, false]) expect(spawnSync("sh", ["-n", "-c", missingPathsScript(substitute)]).status).toBe(0);
  });

  it.runIf(canAdd)("prints exactly the paths the store lacks", () => {
    const file = join(mkdtempSync(join(tmpdir(), "hive-missing-")), "present");
    writeFileSync(file, "a path the store has\n");
    const valid = spawnSync("nix-store", ["--add", file], { encoding: "utf8" }).stdout.trim();
    expect(valid).toMatch(/^\/nix\/store\/[0-9a-z]{32}-present$/);
    const fake = "/nix/store/00000000000000000000000000000000-not-there";
    const input = `${valid}\n${fake}\n`;
    const run = spawnSync("sh", ["-c", missingPathsScript(false)], { input, encoding: "utf8", env: { ...process.env, NIX_CONFIG: "substituters =" } });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.split("\n").filter((l) => l !== "")).toEqual([`missing ${fake}`]);
    expect([...parseMissingPaths(run.stdout)]).toEqual([fake]);
    const all = spawnSync("sh", ["-c", missingPathsScript(true)], { input: `${valid}\n`, encoding: "utf8" });
    expect(all.stdout).toBe("");
  });

  it("subtracts what the node substituted", () => {
    expect([...parseMissingPaths("missing /nix/store/a-x\nmissing /nix/store/b-y\nsubstituted /nix/store/a-x\n")]).toEqual(["/nix/store/b-y"]);
  });
});
