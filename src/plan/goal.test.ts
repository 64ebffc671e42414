import { describe, expect, it } from "vitest";
import { UsageError } from "../errors.js";
import { goalActivates, goalPushes, goalSetsProfile, goalUploadsKeys, parseGoal } from "./goal.js";

describe("goals", () => {
  it("parses every goal and suggests on typos", () => {
    expect(parseGoal("dry-activate")).toBe("dry-activate");
    expect(() => parseGoal("swtich")).toThrow(UsageError);
    expect(() => parseGoal("swtich")).toThrow('unknown goal "swtich"; did you mean "switch"?');
  });

  it("knows what each goal does", () => {
    expect([goalPushes("build"), goalPushes("push"), goalActivates("push"), goalActivates("test")]).toEqual([false, true, false, true]);
    expect([goalSetsProfile("switch"), goalSetsProfile("boot"), goalSetsProfile("test")]).toEqual([true, true, false]);
  });

  it("uploads keys around activation, and alone for goal keys", () => {
    expect(parseGoal("keys")).toBe("keys");
    expect([goalPushes("keys"), goalActivates("keys"), goalSetsProfile("keys")]).toEqual([false, false, false]);
    expect((["build", "push", "switch", "boot", "test", "dry-activate", "keys"] as const).filter(goalUploadsKeys)).toEqual(["switch", "boot", "test", "keys"]);
  });
});
