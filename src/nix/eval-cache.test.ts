import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EvalCache } from "./eval-cache.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hive-eval-cache-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("EvalCache", () => {
  it("trusts no entry from a directory others could write, since an entry names what gets deployed", () => {
    const warnings: string[] = [];
    const cache = new EvalCache(dir, (m) => warnings.push(m));
    const key = cache.key({ flake: "f", node: "n", attribute: "a", injected: "", showTrace: false });
    // A planted entry naming a derivation that exists (any store path would do for an attacker).
    mkdirSync(join(dir, "eval"));
    chmodSync(join(dir, "eval"), 0o777);
    writeFileSync(join(dir, "eval", `${key}.json`), JSON.stringify({ drvPath: "/nix/store/00000000000000000000000000000000-x.drv", outPath: "/nix/store/00000000000000000000000000000000-x" }));
    expect(cache.get(key)).toBeNull();
    expect(warnings).toEqual([`not using the evaluation cache: ${join(dir, "eval")} is writable by other users (mode 0777); another user could have planted files there`]);
  });
});
