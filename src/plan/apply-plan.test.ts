import { describe, expect, it } from "vitest";
import { validateHive } from "../config/validate.js";
import { UsageError } from "../errors.js";
import { describePlan, planApply, planEvaluation, resolveBatchSize } from "./apply-plan.js";
import { planRollback } from "./rollback-plan.js";

const GIB = 1024 ** 3;
const machine = { cpus: 4, memAvailableBytes: 16 * GIB };

function hive(meta: Record<string, unknown> = {}) {
  return validateHive(
    {
      meta: { flake: "/srv/fleet", ...meta },
      defaults: { healthChecks: { web: { http: { port: 80 }, deadline: 20 } } },
      nodes: {
        "web-1": { targetHost: "10.0.0.1", tags: ["server"] },
        "web-2": { targetHost: "10.0.0.2", tags: ["server", "canary"] },
        "db-1": { targetHost: "10.0.0.3", tags: ["db"], magicRollback: false },
        "gpu-1": { targetHost: "10.0.0.4", tags: ["ai"], buildOnTarget: true },
      },
    },
    "/srv/fleet/hive.ts",
    () => ({ identityFiles: [] }),
  );
}

describe("planApply", () => {
  it("selects, orders canaries first and cuts batches", () => {
    const plan = planApply(hive({ rollout: { order: ["canary"], batchSize: 2 } }), { goal: "switch", on: "@server,@db" }, machine);
    expect(plan.nodes.map((n) => n.name)).toEqual(["web-2", "web-1", "db-1"]);
    expect(plan.batches).toEqual([["web-2", "web-1"], ["db-1"]]);
    expect(plan.maxFailures).toBe(0);
  });

  it("gives the node a decision window that covers its health checks, and none without magic rollback", () => {
    const plan = planApply(hive(), { goal: "switch" }, machine);
    const byName = Object.fromEntries(plan.nodes.map((n) => [n.name, n]));
    expect(byName["web-1"]!.decisionWindow).toBe(30 + 20);
    expect(byName["db-1"]!.decisionWindow).toBe(0);
    expect(planApply(hive(), { goal: "boot" }, machine).nodes[0]!.decisionWindow).toBe(0);
    expect(planApply(hive(), { goal: "switch", magicRollback: false }, machine).nodes[0]!.decisionWindow).toBe(0);
  });

  it("honours buildOnTarget, --no-rollback and keys per goal", () => {
    const plan = planApply(hive(), { goal: "test", rollback: false, buildOnTarget: false }, machine);
    expect(plan.nodes.find((n) => n.name === "gpu-1")!.buildOnTarget).toBe(true);
    expect(plan.nodes.every((n) => !n.rollback)).toBe(true);
    expect(plan.uploadKeys).toBe(true);
    expect(planApply(hive(), { goal: "push" }, machine).uploadKeys).toBe(false);
    expect(planApply(hive(), { goal: "switch", keys: false }, machine).uploadKeys).toBe(false);
  });

  it("refuses the whole fleet when meta.allowApplyAll is false, except for build", () => {
    expect(() => planApply(hive({ allowApplyAll: false }), { goal: "switch" }, machine)).toThrow(UsageError);
    expect(planApply(hive({ allowApplyAll: false }), { goal: "build" }, machine).nodes).toHaveLength(4);
    expect(() => planRollback(hive({ allowApplyAll: false }), {})).toThrow(/meta.allowApplyAll = false/);
    expect(planRollback(hive({ allowApplyAll: false }), { on: "web-1" }).nodes).toHaveLength(1);
  });

  it("serializes without internals", () => {
    const json = JSON.parse(JSON.stringify(describePlan(planApply(hive(), { goal: "switch", on: "web-1" }, machine)))) as { nodes: Record<string, unknown>[] };
    expect(json.nodes).toEqual([{ name: "web-1", targetHost: "10.0.0.1", buildOnTarget: false, rollback: true, decisionWindow: 50, healthChecks: ["web"], keys: [] }]);
  });
});

describe("planEvaluation", () => {
  it("sizes workers by CPUs, nodes and the memory budget (half of what is available by default)", () => {
    expect(planEvaluation({}, machine, 20)).toEqual({ workers: 4, memoryBytes: 8 * GIB, cache: true, showTrace: false });
    expect(planEvaluation({}, machine, 2).workers).toBe(2);
    expect(planEvaluation({}, { cpus: 8, memAvailableBytes: 3 * GIB }, 20)).toMatchObject({ workers: 1, memoryBytes: 1.5 * GIB });
    expect(planEvaluation({ evalWorkers: 3, evalMemory: 6 * GIB, evalCache: false }, machine, 20)).toEqual({ workers: 3, memoryBytes: 6 * GIB, cache: false, showTrace: false });
    expect(() => planEvaluation({ evalWorkers: 0 }, machine, 20)).toThrow(UsageError);
  });
});

describe("resolveBatchSize", () => {
  it("reads counts and percentages", () => {
    expect(resolveBatchSize(undefined, 10)).toBeUndefined();
    expect(resolveBatchSize(3, 10)).toBe(3);
    expect(resolveBatchSize("25%", 10)).toBe(3);
    expect(resolveBatchSize("1%", 10)).toBe(1);
    expect(() => resolveBatchSize("x", 10)).toThrow(UsageError);
  });
});
