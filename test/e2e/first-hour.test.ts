// End-to-end: what a new user hits first: guards, build on the node, dry-activate's output,
// errors said once with their cause, a missing flake, the plan, and the event stream.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { beforeAll, describe, expect, it } from "vitest";
import { execOnNode, labNixEnv, setNodeKnobs, setVersion, type Lab } from "../lab/lab.js";
import { useLab } from "../lab/use-lab.js";
import { HIVE_BIN, parseHiveJson, runHive, startHive } from "../cli/run-hive.js";
import { type HiveFixture, makeHiveFixture, nodeState, writeHive } from "./hive-fixture.js";

const getLab = useLab();
let lab: Lab;
let fx: HiveFixture;

beforeAll(async () => {
  try {
    lab = getLab();
  } catch {
    return;
  }
  fx = await makeHiveFixture(lab, lab.nodes.map((n) => ({ name: n.name, tags: n.name === "t1" || n.name === "t2" ? ["server"] : [] })), { version: "fh0" });
  // Two generations, so there is one to roll back to.
  for (const version of ["fh0", "fh1"]) {
    await setVersion(fx.flakeDir, version);
    const baseline = runHive(["-f", fx.hiveFile, "apply", "--on", "t1,t2,t3"]);
    expect(baseline.code, baseline.stderr).toBe(0);
  }
});

type Doc = { goal: string; nodes: { name: string; result: string; outPath: string | null; drvPath: string | null; error: { code: string; message: string } | null; changes?: string[] | null }[] };

describe("a new user's first hour", () => {
  it("hive rollback without --on is refused when meta.allowApplyAll is false, and touches no node", async () => {
    const file = join(fx.dir, "guarded.hive.ts");
    writeHive(file, lab, fx.flakeDir, [{ name: "t1" }, { name: "t2" }], { allowApplyAll: false });
    const before = [await nodeState(lab, "t1"), await nodeState(lab, "t2")];
    const run = runHive(["-f", file, "rollback"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("hive.ts sets meta.allowApplyAll = false: hive rollback on every node needs an explicit selection");
    expect([await nodeState(lab, "t1"), await nodeState(lab, "t2")]).toEqual(before);
    // With a selection it works as always.
    expect(runHive(["-f", file, "rollback", "--on", "t1"]).code).toBe(0);
    expect((await nodeState(lab, "t1")).generation).toBe(before[0]!.generation! - 1); // back to the generation before
  });

  it("hive build builds a buildOnTarget node on the node: the result never exists on the deployer", async () => {
    await setVersion(fx.flakeDir, `fh-bot-${Date.now()}`);
    const file = join(fx.dir, "bot.hive.ts");
    writeHive(file, lab, fx.flakeDir, [{ name: "t4", extra: { buildOnTarget: true } }]);
    const before = await nodeState(lab, "t4");
    const run = parseHiveJson<Doc>(runHive(["-f", file, "build", "--json"]));
    expect(run.code, run.stderr).toBe(0);
    const outPath = run.doc.nodes[0]!.outPath!;
    expect(spawnSync("nix-store", ["--check-validity", outPath], { env: labNixEnv() }).status).not.toBe(0);
    expect((await execOnNode(lab, "t4", `nix-store --check-validity ${outPath}`)).exitCode).toBe(0);
    expect(await nodeState(lab, "t4")).toEqual(before); // built, not activated
  });

  it("hive apply dry-activate shows what would change, in the output and in --json", async () => {
    await setVersion(fx.flakeDir, `fh-dry-${Date.now()}`);
    const before = await nodeState(lab, "t2");
    const table = runHive(["-f", fx.hiveFile, "apply", "dry-activate", "--on", "t2"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stderr).toMatch(/t2: activation would\n\s+would restart the following units: hive-lab-web.service/);
    const json = parseHiveJson<Doc>(runHive(["-f", fx.hiveFile, "apply", "dry-activate", "--on", "t2", "--json"]));
    expect(json.doc.nodes[0]!.changes).toContain("would restart the following units: hive-lab-web.service");
    expect(await nodeState(lab, "t2")).toEqual(before);
  });

  it("a build failure is said once, naming the derivation that failed and its own cause", async () => {
    await setVersion(fx.flakeDir, `fh-bf-${Date.now()}`);
    await setNodeKnobs(fx.flakeDir, "t3", { failBuild: true });
    try {
      const before = await nodeState(lab, "t3");
      const run = runHive(["-f", fx.hiveFile, "apply", "--on", "t3"]);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/^t3\s+switch\s+failed\s+.*E_BUILD: \/nix\/store\/\S+-lab-web-config-t3\.drv failed to build \(exit code 1\): web\.conf line 3: unknown setting 'listne'/m);
      expect(run.stderr).toMatch(/build log of \/nix\/store\/\S+-lab-web-config-t3\.drv:\n\s+writing the web service's configuration for t3/);
      expect((run.stdout + run.stderr).match(/failed to build/g)).toHaveLength(1);
      expect(await nodeState(lab, "t3")).toEqual(before);
    } finally {
      await setNodeKnobs(fx.flakeDir, "t3", {});
    }
  });

  it("a hive.ts whose flake has no flake.nix: exit 2, said once, with the fix", () => {
    const dir = mkdtempSync(join(tmpdir(), "hive-noflake-"));
    const file = join(dir, "hive.ts");
    writeHive(file, lab, dir, [{ name: "t1" }, { name: "t2" }, { name: "t3" }]);
    const run = runHive(["-f", file, "build"]);
    expect(run.code).toBe(2);
    expect(run.stderr.match(/no flake\.nix in/g)).toHaveLength(1);
    expect(run.stderr).toContain("set meta.flake");
    expect(run.stdout).toBe("");
  });

  it("hive apply --plan --json says what would happen and touches nothing", async () => {
    const before = await nodeState(lab, "t1");
    const run = runHive(["-f", fx.hiveFile, "apply", "--on", "@server", "--batch-size", "1", "--plan", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const plan = JSON.parse(run.stdout) as { goal: string; batches: string[][]; nodes: { name: string }[]; eval: { workers: number } };
    expect(plan.goal).toBe("switch");
    expect(plan.batches).toEqual([["t1"], ["t2"]]);
    expect(plan.nodes.map((n) => n.name)).toEqual(["t1", "t2"]);
    expect(plan.eval.workers).toBeGreaterThanOrEqual(1);
    expect(await nodeState(lab, "t1")).toEqual(before);
  });

  it("SIGTERM is a Ctrl-C: the activation under way finishes, the report is printed, exit 130", async () => {
    await setVersion(fx.flakeDir, `fh-term-${Date.now()}`);
    await setNodeKnobs(fx.flakeDir, "t2", { activationSleep: 2 });
    try {
      const hive = startHive(["-f", fx.hiveFile, "apply", "--on", "t2"]);
      for (let i = 0; i < 300 && !hive.stderr().includes("t2 | activate"); i++) await new Promise((r) => setTimeout(r, 100));
      hive.kill("SIGTERM");
      const run = await hive.done;
      expect(run.code).toBe(130);
      expect(run.stderr).toContain("interrupted: starting nothing new");
      expect(run.stdout).toMatch(/^t2\s+switch\s+succeeded/m);
      const state = await nodeState(lab, "t2");
      expect(state.current).toContain("fh-term-");
      expect(state.profile).toBe(state.current);
    } finally {
      await setNodeKnobs(fx.flakeDir, "t2", {});
    }
  });

  it("hive apply --events prints one JSON event per line while the deploy happens", async () => {
    await setVersion(fx.flakeDir, `fh-ev-${Date.now()}`);
    await setNodeKnobs(fx.flakeDir, "t1", { activationSleep: 2 });
    try {
      const child = spawn(process.execPath, [HIVE_BIN, "-f", fx.hiveFile, "apply", "--on", "t1", "--events"], { env: { ...process.env, ...labNixEnv() } });
      const events: { time: string; code: string; node?: string; phase?: string; result?: string }[] = [];
      let seenActivatingWhileRunning = false;
      for await (const line of createInterface({ input: child.stdout })) {
        const event = JSON.parse(line) as (typeof events)[number];
        events.push(event);
        // Read while it runs: the activation phase arrives before the node is done (activation takes 2 s).
        if (event.code === "node.phase" && event.phase === "activate") {
          seenActivatingWhileRunning = (await execOnNode(lab, "t1", "ls /run/hive/activations | wc -l")).exitCode === 0 && child.exitCode === null;
        }
      }
      const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on("exit", resolve)));
      expect(code).toBe(0);
      expect(seenActivatingWhileRunning).toBe(true);
      expect(events.every((e) => typeof e.time === "string" && typeof e.code === "string")).toBe(true);
      const phases = events.filter((e) => e.code === "node.phase").map((e) => e.phase);
      expect(phases).toEqual(expect.arrayContaining(["eval", "build", "connect", "push", "activate", "verify"]));
      expect(events.find((e) => e.code === "node.done")).toMatchObject({ node: "t1", result: "succeeded" });
      expect(events.at(-1)!.code).toBe("run.result");
    } finally {
      await setNodeKnobs(fx.flakeDir, "t1", {});
    }
  });
});

