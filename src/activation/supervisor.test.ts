import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
      const why = { code: "E_HEALTH", message: `health check "web" failed: it's down` };
      for (const script of [
        supervisorScript(options),
        launchScript(options, `{"system": "it's"}\n`),
        launchScript({ ...options, reason: why }, "{}"),
        pollScript(options.id, 10),
        confirmScript(options.id),
        confirmScript(options.id, why),
        rejectScript(options.id),
        rejectScript(options.id, why),
      ]) {
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

describe("the supervisor's event", () => {
  it("is one JSON line with the result, both systems and generations, the reason and the record", () => {
    const script = supervisorScript(base);
    // The supervisor's own functions, run with a temporary log directory instead of /nix/var/hive.
    const functions = script.slice(script.indexOf("hive_event() ("), script.indexOf("finish() {"));
    const dir = mkdtempSync(join(tmpdir(), "hive-sup-event-"));
    mkdirSync(join(dir, "act"));
    writeFileSync(join(dir, "act", "record.json"), `${JSON.stringify({ system: "/nix/store/x-nixos-system-a-1", goal: "switch", deployedBy: "ops@laptop", flakeRevision: "abc" }, null, 2)}\n`);
    writeFileSync(join(dir, "act", "reason.json"), JSON.stringify({ code: "E_HEALTH", message: 'health check "web" failed: it\'s down' }));
    const run = (extra: string) =>
      spawnSync("sh", ["-c", `say() { echo "$*"; }\ndir=${join(dir, "act")}\nsystem=/nix/store/x-nixos-system-a-1\n${functions.replaceAll("/nix/var/hive", join(dir, "log"))}\n${extra}`], { encoding: "utf8" });
    expect(run("prev_system=/nix/store/p-old; prev_gen=4; new_gen=5; why=; log_event reverted-rejected").status).toBe(0);
    expect(run(`prev_system='/nix/store/"bad'; prev_gen=; new_gen=; why='{"code":"E_UNCONFIRMED","message":"no confirmation from hive within 3 s"}'; log_event reverted-unconfirmed`).status).toBe(0);
    const lines = readFileSync(join(dir, "log", "events.jsonl"), "utf8").trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({
      v: 1,
      result: "reverted-rejected",
      system: "/nix/store/x-nixos-system-a-1",
      previous: "/nix/store/p-old",
      generation: 5,
      previousGeneration: 4,
      error: { code: "E_HEALTH", message: 'health check "web" failed: it\'s down' },
      deployment: { deployedBy: "ops@laptop", flakeRevision: "abc" },
    });
    expect(Date.parse(lines[0].at)).toBeGreaterThan(0);
    // The supervisor's own reason wins; a previous system with unexpected characters is left out.
    expect(lines[1]).toMatchObject({ previous: "", generation: null, previousGeneration: null, error: { code: "E_UNCONFIRMED" } });
  });
});
