import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { factsScript } from "../node/facts.js";
import { LOCK_DIR, LOCK_LOST_EXIT, lockGuardScript, lockScript } from "./lock.js";

it("lock scripts are valid sh, and hold the lock with a heartbeat", () => {
  const owner = { holder: "ops@deployer", pid: 4242, startedAt: "2026-11-23T00:00:00.000Z" };
  for (const script of [lockScript(owner, false), lockScript(owner, true), lockScript(owner, false, factsScript("/nix/var/nix/profiles/system"))]) {
    const check = spawnSync("sh", ["-n", "-c", script]);
    expect(check.status, String(check.stderr)).toBe(0);
    expect(script).toContain("flock -n 9");
    expect(script).toContain(": > heartbeat");
  }
  // The owner is recorded as JSON with the token and the holding shell's pid added.
  const printed = spawnSync("sh", ["-c", /printf .*> lock.json/.exec(lockScript(owner, false, "", "t0k3n"))![0].replace("> lock.json", "")], { encoding: "utf8" });
  expect(JSON.parse(printed.stdout)).toMatchObject({ ...owner, token: "t0k3n", nodePid: expect.any(Number) });
});

it("the lock guard lets a script run only while its token is in lock.json", () => {
  const dir = mkdtempSync(join(tmpdir(), "hive-lock-"));
  const guard = (token: string) => `${lockGuardScript(token).replaceAll(LOCK_DIR, dir)}\necho ran`;
  writeFileSync(join(dir, "lock.json"), '{"holder":"a@x","token":"aaa","nodePid":1}\n');
  expect(spawnSync("sh", ["-c", guard("aaa")], { encoding: "utf8" }).stdout).toBe("ran\n");
  const refused = spawnSync("sh", ["-c", guard("bbb")], { encoding: "utf8" });
  expect(refused.status).toBe(LOCK_LOST_EXIT);
  expect(refused.stdout).toMatch(/^HIVE_LOCK_LOST .*"holder":"a@x"/);
  expect(spawnSync("sh", ["-c", guard("")], { encoding: "utf8" }).status).toBe(LOCK_LOST_EXIT);
});
