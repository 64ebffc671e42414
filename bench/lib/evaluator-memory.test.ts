// Which processes count as Nix evaluators when the benchmarks sum their memory.
import { describe, expect, it } from "vitest";
import { isEvaluator } from "./evaluator-memory.js";

describe("isEvaluator", () => {
  it("counts the commands that evaluate Nix expressions", () => {
    expect(isEvaluator(["nix", "eval", "--extra-experimental-features", "nix-command flakes", "--json", "--expr", "1"])).toBe(true);
    expect(isEvaluator(["/usr/bin/nix", "build", "--no-link", ".#x"])).toBe(true);
    expect(isEvaluator(["nix", "flake", "metadata", "--json", "."])).toBe(true);
    expect(isEvaluator(["nix-instantiate", "--eval", "--strict", "-E", "1"])).toBe(true);
    expect(isEvaluator(["/run/current-system/sw/bin/nix-eval-jobs", "--flake", ".#hydraJobs"])).toBe(true);
  });

  it("leaves out copies, stores, builders and ssh", () => {
    expect(isEvaluator(["nix", "copy", "--to", "ssh://root@10.0.0.1", "/nix/store/abc-nixos-system-build-1"])).toBe(false);
    expect(isEvaluator(["nix-store", "--realise", "/nix/store/abc-x.drv"])).toBe(false);
    expect(isEvaluator(["nix-copy-closure", "--to", "root@10.0.0.1", "/nix/store/abc-x"])).toBe(false);
    expect(isEvaluator(["ssh", "root@10.0.0.1", "nix-store", "--serve", "--write"])).toBe(false);
    expect(isEvaluator(["/bin/sh", "-e", "/nix/store/abc-build-system.sh"])).toBe(false);
    expect(isEvaluator([])).toBe(false);
  });
});
