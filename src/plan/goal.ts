// The deployment goals, parsed in one place (as Colmena's goal.rs): what `hive apply GOAL` does.
import { UsageError } from "../errors.js";
import { didYouMean } from "../util/suggest.js";

export const GOALS = ["build", "push", "switch", "boot", "test", "dry-activate", "keys"] as const;
export type Goal = (typeof GOALS)[number];

export const GOAL_HELP: Record<Goal, string> = {
  build: "evaluate and build the systems; deploy nothing",
  push: "build and copy the systems to the nodes; activate nothing",
  switch: "make the system the profile's new generation and activate it now (default)",
  boot: "make the system the profile's new generation, activated at next boot",
  test: "activate the system now without touching the profile",
  "dry-activate": "show what activation would change; change nothing",
  keys: "upload the nodes' keys only (same as `hive upload-keys`); build and activate nothing",
};

export function parseGoal(text: string): Goal {
  if ((GOALS as readonly string[]).includes(text)) return text as Goal;
  throw new UsageError(`unknown goal ${JSON.stringify(text)}${didYouMean(text, GOALS)}`, `goals: ${GOALS.join(", ")}`);
}

/** Goals that copy the closure to the node. */
export function goalPushes(goal: Goal): boolean {
  return goal !== "build" && goal !== "keys";
}

/** Goals that upload keys (unless --no-keys): around activation, or on their own for `keys`. */
export function goalUploadsKeys(goal: Goal): boolean {
  return goal === "switch" || goal === "boot" || goal === "test" || goal === "keys";
}

/** Goals that run switch-to-configuration. */
export function goalActivates(goal: Goal): boolean {
  return goal === "switch" || goal === "boot" || goal === "test" || goal === "dry-activate";
}

/** Goals that create a new profile generation. */
export function goalSetsProfile(goal: Goal): boolean {
  return goal === "switch" || goal === "boot";
}
