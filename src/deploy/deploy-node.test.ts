import { expect, it } from "vitest";
import { isAlreadyDeployed } from "./deploy-node.js";

it("calls a node unchanged only when it already is what the goal makes it", () => {
  const out = "/nix/store/new";
  const state = (current: string | null, profile: string | null) => ({ current, profile, profileGeneration: null, booted: null });
  expect(isAlreadyDeployed("switch", state(out, out), out)).toBe(true);
  expect(isAlreadyDeployed("switch", state(out, "/nix/store/old"), out)).toBe(false);
  expect(isAlreadyDeployed("switch", state("/nix/store/old", out), out)).toBe(false);
  expect(isAlreadyDeployed("boot", state("/nix/store/old", out), out)).toBe(true);
  expect(isAlreadyDeployed("test", state(out, "/nix/store/old"), out)).toBe(true);
  expect(isAlreadyDeployed("push", state(out, out), out)).toBe(true);
  expect(isAlreadyDeployed("push", state("/nix/store/old", out), out)).toBe(false);
  expect(isAlreadyDeployed("dry-activate", state(out, out), out)).toBe(true);
});
