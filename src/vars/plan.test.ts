import { describe, expect, it } from "vitest";
import { validateHive } from "../config/validate.js";
import { planInstances } from "./plan.js";

const AGE = "age1h5wa9cgaxzxd3eaxer8ufmm6sp9s0w67na55xwzmmxgvv5je2dxqgzvrz5";
const gen = (extra: Record<string, unknown> = {}) => ({ command: ["true"], files: { f: {} }, ...extra });

const hive = validateHive(
  {
    nodes: { a: { tags: ["web"] }, b: { tags: ["web"] }, c: { tags: ["db"] } },
    vars: {
      recipients: [AGE],
      generators: {
        // Declared before what it reads: the plan still puts dependencies first.
        cert: gen({ on: "@web", dependencies: ["ca", "host"] }),
        host: gen(),
        ca: gen({ share: true, on: [] }),
        db: gen({ share: true, on: "@db" }),
      },
    },
  },
  "/fleet/hive.ts",
  () => ({ identityFiles: [] }),
);

const plan = (selector?: string) => planInstances(hive, selector).map((i) => (i.node === null ? i.generator : `${i.generator}@${i.node}`));

describe("planInstances", () => {
  it("puts dependencies first, shared before per-node, nodes in hive.ts order", () => {
    expect(plan()).toEqual(["ca", "host@a", "host@b", "host@c", "cert@a", "cert@b", "db"]);
  });

  it("takes a selected node's instances, the shared ones it has, and whatever they read", () => {
    expect(plan("b")).toEqual(["ca", "host@b", "cert@b"]);
    expect(plan("c")).toEqual(["host@c", "db"]);
    expect(planInstances(hive, "a").find((i) => i.generator === "cert")!.inputs).toEqual([
      { generator: "ca", node: null },
      { generator: "host", node: "a" },
    ]);
  });
});
