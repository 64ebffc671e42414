import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lackingPaths, missingPathsQuery } from "./missing-paths.js";

// Adding a path needs a writable store: root on a single-user Nix (CI), or a daemon.
const canAdd = spawnSync("sh", ["-c", "command -v nix-store"]).status === 0 && process.getuid?.() === 0;
const offline = { ...process.env, NIX_CONFIG: "substituters =" };

function addToStore(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "hive-missing-")), name);
  writeFileSync(file, text);
  return spawnSync("nix-store", ["--add", file], { encoding: "utf8" }).stdout.trim();
}

function ask(paths: string[], substitute: boolean): { lacking: string[]; stdout: string } {
  const query = missingPathsQuery(paths, substitute);
  const run = spawnSync("sh", ["-c", query.script], { input: query.input, encoding: "utf8", env: offline });
  expect(run.status, run.stderr).toBe(0);
  return { lacking: [...query.lacking(run.stdout)].sort(), stdout: run.stdout };
}

describe("missingPathsQuery", () => {
  it("is valid sh", () => {
    for (const substitute of [true, false]) {
      expect(spawnSync("sh", ["-n", "-c", missingPathsQuery(["/nix/store/a-x"], substitute).script]).status).toBe(0);
    }
  });

  it.runIf(canAdd)("names exactly the paths the store lacks, with and without substitution", () => {
    const valid = addToStore("present", "a path the store has\n");
    const validDrv = spawnSync("nix-instantiate", ["-E", `derivation { name = "hive-present"; system = builtins.currentSystem; builder = "/bin/sh"; }`], { encoding: "utf8", env: offline }).stdout.trim();
    expect(valid).toMatch(/^\/nix\/store\/[0-9a-z]{32}-present$/);
    const fake = "/nix/store/00000000000000000000000000000000-not-there";
    const fakeDrv = "/nix/store/00000000000000000000000000000000-not-there.drv";
    for (const substitute of [true, false]) {
      expect(ask([valid, fake, validDrv, fakeDrv], substitute).lacking).toEqual([fake, fakeDrv].sort());
      expect(ask([valid, validDrv], substitute).lacking).toEqual([]);
      expect(ask([fake], substitute).lacking).toEqual([fake]);
    }
  });

  it.runIf(canAdd)("never hands a derivation to nix-store --realise", () => {
    // Realising a .drv builds it: a missing one is reported, and no realise runs for it.
    const fakeDrv = "/nix/store/00000000000000000000000000000000-not-there.drv";
    const fake = "/nix/store/00000000000000000000000000000000-not-there";
    expect(ask([fakeDrv], true).stdout).toBe(`hive-invalid\n${fakeDrv}\n`);
    // With a non-derivation missing too, only that one is tried (and, offline, not got).
    expect(ask([fakeDrv, fake], true).stdout).toBe(`hive-invalid\n${fakeDrv}\n${fake}\nhive-substituted\n`);
  });

  it("subtracts what the node substituted, in full or in part", () => {
    const a = "/nix/store/a-x";
    const b = "/nix/store/b-y";
    const d = "/nix/store/c-z.drv";
    expect([...lackingPaths(`hive-invalid\n${a}\n${b}\n${d}\n`)]).toEqual([a, b, d]);
    expect([...lackingPaths(`hive-invalid\n${a}\n${b}\n${d}\nhive-substituted\n${a}\n${b}\n`)]).toEqual([d]);
    expect([...lackingPaths(`hive-invalid\n${a}\n${b}\n${d}\nhive-still-invalid\n${b}\n`)]).toEqual([b, d]);
    expect([...lackingPaths(`hive-invalid\n\n`)]).toEqual([]);
  });
});
