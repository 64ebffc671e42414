import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { confirmScript, launchScript, parsePoll, pollScript, rejectScript, supervisorScript, type SupervisorOptions } from "./supervisor.js";

const PROFILE = "/nix/var/nix/profiles/system";

const base: SupervisorOptions = {
  id: "abc-123",
  profile: "/nix/var/nix/profiles/system",
  system: "/nix/store/x-nixos-system-a-1",
  goal: "switch",
  profile_action: { kind: "set" },
  confirmTimeout: 30,
  rollbackOnFailure: true,
  writeRecord: true,
};

describe("supervisor scripts", () => {
  it("are valid sh for every goal and profile action", () => {
    const variants: SupervisorOptions[] = [
      base,
      { ...base, goal: "test", profile_action: { kind: "none" } },
      { ...base, goal: "boot", confirmTimeout: 0 },
      { ...base, goal: "dry-activate", profile_action: { kind: "none" }, rollbackOnFailure: false, confirmTimeout: 0 },
      { ...base, profile_action: { kind: "switch-generation", generation: 7 }, writeRecord: false },
    ];
    for (const options of variants) {
      for (const script of [supervisorScript(options), launchScript(options, `{"system": "it's"}\n`), pollScript(options.id, 10), confirmScript(options.id), rejectScript(options.id)]) {
        const check = spawnSync("sh", ["-n", "-c", script]);
        expect(check.status, `${JSON.stringify(options)}: ${check.stderr}`).toBe(0);
      }
    }
  });

  it("claims the decision with one atomic mkdir on both sides", () => {
    expect(confirmScript("abc")).toContain("mkdir /run/hive/activations/abc/decided");
    expect(supervisorScript(base)).toContain('if mkdir "$dir/decided" 2>/dev/null; then');
  });

  it("parses a poll", () => {
    const poll = parsePoll("activation-exit=0\nresult=\nprev-generation=4\nprev-system=/nix/store/p\nnew-generation=5\n--\nhive: a\nhive: b", PROFILE);
    expect(poll).toEqual({
      activationExit: 0,
      result: null,
      prevGeneration: 4,
      prevSystem: "/nix/store/p",
      newGeneration: 5,
      supervisorAlive: true,
      newLog: "hive: a\nhive: b",
      state: { current: null, profile: null, profileGeneration: null, booted: null },
    });
    expect(parsePoll("result=confirmed\ncurrent=/nix/store/n\nprofile=/nix/store/n\nlink=system-5-link\nbooted=\n--\n", PROFILE).state).toEqual({
      current: "/nix/store/n",
      profile: "/nix/store/n",
      profileGeneration: 5,
      booted: null,
    });
    expect(parsePoll("activation-exit=\nresult=confirmed\nprev-generation=\nprev-system=\nnew-generation=\n--\n", PROFILE)).toMatchObject({
      activationExit: null,
      result: "confirmed",
      prevGeneration: null,
      prevSystem: null,
    });
  });
});
