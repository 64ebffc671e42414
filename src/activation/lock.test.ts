import { spawnSync } from "node:child_process";
import { expect, it } from "vitest";
import { lockScript } from "./lock.js";
import { stateProbeScript } from "./scripts.js";

it("lock scripts are valid sh, and hold the lock with a heartbeat", () => {
  const owner = { holder: "ops@deployer", pid: 4242, startedAt: "2026-11-23T00:00:00.000Z" };
  for (const script of [lockScript(owner, false), lockScript(owner, true), lockScript(owner, false, stateProbeScript("/nix/var/nix/profiles/system"))]) {
    const check = spawnSync("sh", ["-n", "-c", script]);
    expect(check.status, String(check.stderr)).toBe(0);
    expect(script).toContain("flock -n 9");
    expect(script).toContain(": > heartbeat");
  }
  // The owner is recorded as JSON with the holding shell's pid added.
  const printed = spawnSync("sh", ["-c", /printf .*> lock.json/.exec(lockScript(owner, false))![0].replace("> lock.json", "")], { encoding: "utf8" });
  expect(JSON.parse(printed.stdout)).toMatchObject({ ...owner, nodePid: expect.any(Number) });
});
