// Which processes count as Nix evaluators when the benchmarks sum their memory.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { isEvaluator, sampleEvaluatorMemory } from "./evaluator-memory.js";

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

describe("sampleEvaluatorMemory", () => {
  it("finds an evaluator under the roots and reads its memory from /proc", async () => {
    // `sleep` under the name nix-instantiate: what the sampler goes by is the command line.
    const child = spawn("sleep", ["30"], { argv0: "nix-instantiate", stdio: "ignore" });
    try {
      const pid = child.pid!;
      while (!readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("nix-instantiate")) await new Promise((r) => setTimeout(r, 10));
      const sampler = sampleEvaluatorMemory(() => [process.pid]);
      const memory = sampler.stop();
      expect(memory.processes).toBe(1);
      expect(memory.peakConcurrent).toBe(1);
      expect(memory.peakSumBytes).toBeGreaterThan(0);
      expect(memory.peakSingleBytes).toBeGreaterThanOrEqual(memory.peakSumBytes);
    } finally {
      const exited = once(child, "exit");
      child.kill();
      await exited;
    }
  });

  it("sees nothing when no evaluator runs under the roots", () => {
    const memory = sampleEvaluatorMemory(() => [process.pid]).stop();
    expect(memory).toMatchObject({ processes: 0, peakSumBytes: 0, peakSingleBytes: 0 });
  });
});
