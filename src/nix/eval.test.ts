import { afterEach, describe, expect, it } from "vitest";
import { evaluatorEnv } from "./eval.js";

describe("evaluatorEnv", () => {
  const saved = process.env.GC_INITIAL_HEAP_SIZE;
  afterEach(() => {
    if (saved === undefined) delete process.env.GC_INITIAL_HEAP_SIZE;
    else process.env.GC_INITIAL_HEAP_SIZE = saved;
  });

  it("starts each evaluator's heap at its share of the budget, never below Nix's own default", () => {
    delete process.env.GC_INITIAL_HEAP_SIZE;
    expect(evaluatorEnv({ NIX_CONFIG: "x" }, 1024 ** 3)).toEqual({ NIX_CONFIG: "x", GC_INITIAL_HEAP_SIZE: String(1024 ** 3) });
    expect(evaluatorEnv(undefined, 100 * 1024 ** 2).GC_INITIAL_HEAP_SIZE).toBe(String(384 * 1024 ** 2));
  });

  it("keeps a heap size the caller or the user's environment sets", () => {
    delete process.env.GC_INITIAL_HEAP_SIZE;
    expect(evaluatorEnv({ GC_INITIAL_HEAP_SIZE: "64M" }, 1024 ** 3).GC_INITIAL_HEAP_SIZE).toBe("64M");
    process.env.GC_INITIAL_HEAP_SIZE = "128M";
    expect(evaluatorEnv({}, 1024 ** 3).GC_INITIAL_HEAP_SIZE).toBeUndefined();
  });
});
